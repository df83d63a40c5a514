//! Shards: a class's results split over several directories merge into exactly the unsharded summary;
//! directories that are not shards of one batch are refused.

use sockspec::results::{ResultsDir, Shard, Stored};

use crate::util::{fixture_class, report, report_run};

/// Copies the fixture's students into `shards` directories, student `i` to shard `i % shards`, each with
/// its own `batch.json` (`--shard K/N`), as `sockspec batch --shard` leaves them.
fn split(shards: u32) -> Vec<tempfile::TempDir> {
    let source = ResultsDir::open(&fixture_class()).unwrap();
    let info = source.info().unwrap();
    (1..=shards)
        .map(|k| {
            let tmp = tempfile::tempdir().unwrap();
            let mut part = info.clone();
            part.students = info
                .students
                .iter()
                .enumerate()
                .filter(|(i, _)| *i as u32 % shards == k - 1)
                .map(|(_, s)| s.clone())
                .collect();
            part.shard = Some(Shard {
                index: k,
                count: shards,
            });
            let dir = ResultsDir::create(tmp.path(), &part).unwrap();
            for student in &part.students {
                for assignment in &info.assignments {
                    let Stored::Graded(report) = source.read_result(student, &assignment.name)
                    else {
                        panic!("fixture result of {student}")
                    };
                    dir.write_result(student, &assignment.name, &report)
                        .unwrap();
                }
            }
            tmp
        })
        .collect()
}

#[test]
fn shards_merge_into_the_unsharded_summary_byte_for_byte() {
    let whole = fixture_class();
    let shards = split(2);
    let (one, two) = (shards[0].path(), shards[1].path());
    for format in [
        "csv",
        "json",
        "html",
        "junit",
        "tap",
        "gradescope",
        "prairielearn",
    ] {
        let expected = report(&[&whole], format);
        assert_eq!(report(&[one, two], format), expected, "{format}");
        assert_eq!(
            report(&[two, one], format),
            expected,
            "{format}, shards in another order"
        );
    }
    assert_ne!(
        report(&[one], "csv"),
        report(&[&whole], "csv"),
        "a shard alone is not the class"
    );
}

#[test]
fn a_missing_shard_is_named() {
    let shards = split(3);
    let run = report_run([shards[0].path(), shards[2].path()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("shard(s) 2/3 not given"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_same_directory_twice_is_refused() {
    let whole = fixture_class();
    let run = report_run([&whole, &whole]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("is in both"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
}

#[test]
fn directories_of_different_batches_are_refused() {
    let shards = split(2);
    let dir = ResultsDir::open(shards[1].path()).unwrap();
    let mut info = dir.info().unwrap();
    info.assignments[1].seed += 1;
    std::fs::write(
        shards[1].path().join("batch.json"),
        serde_json::to_string_pretty(&info).unwrap(),
    )
    .unwrap();
    let run = report_run([shards[0].path(), shards[1].path()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("not shards of one batch"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_directory_that_is_no_batch_output_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    for (path, says) in [
        (tmp.path().to_path_buf(), "has no batch.json"),
        (tmp.path().join("nowhere"), "is not a directory"),
    ] {
        let run = report_run([&path]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(says), "{}", run.stderr);
    }
    std::fs::write(tmp.path().join("batch.json"), "{ not json").unwrap();
    let run = report_run([tmp.path()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("not a sockspec batch description"),
        "{}",
        run.stderr
    );
}
