//! The results store: what is written reads back the same, writes are whole or absent, damage is reported
//! in one line and never stops a summary.

use std::fs;

use sockspec::grade::verdict::Outcome;
use sockspec::grade::GradeReport;
use sockspec::results::class::{Cell, Class};
use sockspec::results::{BatchInfo, ResultsDir, Stored};

use crate::util::{fixture_class, report, report_run};

/// A stored report of the fixture, and the fixture's batch description.
fn fixture_report(student: &str, assignment: &str) -> (GradeReport, BatchInfo) {
    let dir = ResultsDir::open(&fixture_class()).expect("fixture opens");
    let info = dir.info().expect("fixture batch.json");
    match dir.read_result(student, assignment) {
        Stored::Graded(report) => (*report, info),
        other => panic!("fixture {student}/{assignment}: {other:?}"),
    }
}

/// A fresh batch directory holding `students`, each with the same stored echo report.
fn batch_of(students: &[&str]) -> (tempfile::TempDir, ResultsDir, GradeReport) {
    let (report, mut info) = fixture_report("张伟", "echo");
    info.students = students.iter().map(|s| s.to_string()).collect();
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = ResultsDir::create(tmp.path(), &info).expect("batch created");
    for student in students {
        dir.write_result(student, "echo", &report).expect("written");
    }
    (tmp, dir, report)
}

#[test]
fn a_stored_report_reads_back_byte_for_byte() {
    let (_tmp, dir, report) = batch_of(&["张伟"]);
    let written = fs::read_to_string(dir.result_path("张伟", "echo")).unwrap();
    assert_eq!(
        written,
        sockspec::report::json(&report),
        "the file is what `grade --format json` writes"
    );
    let Stored::Graded(back) = dir.read_result("张伟", "echo") else {
        panic!("not read back")
    };
    assert_eq!(sockspec::report::json(&back), written);
    let fixture = fs::read_to_string(fixture_class().join("results/张伟/echo.json")).unwrap();
    assert_eq!(written, fixture, "reading and writing changes nothing");
}

#[test]
fn writes_leave_no_temporary_files_and_stale_ones_are_ignored_then_removed() {
    let (tmp, dir, _) = batch_of(&["s1"]);
    let leftovers = |root: &std::path::Path| -> Vec<String> {
        let mut found = Vec::new();
        for dir in [
            root.to_path_buf(),
            root.join("results"),
            root.join("results/s1"),
        ] {
            for entry in fs::read_dir(dir).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                if name.starts_with(".tmp-") {
                    found.push(name);
                }
            }
        }
        found
    };
    assert!(leftovers(tmp.path()).is_empty());
    // What a writer killed between its write and its rename leaves.
    fs::write(
        tmp.path().join("results/s1/.tmp-abc123"),
        b"{\"sockspec_ver",
    )
    .unwrap();
    let loaded = Class::load(&[tmp.path().to_path_buf()]).unwrap();
    assert!(
        !loaded.warnings.iter().any(|w| w.contains(".tmp-")),
        "{:?}",
        loaded.warnings
    );
    assert!(matches!(
        loaded.class.students[0].results[0],
        Stored::Graded(_)
    ));
    assert_eq!(dir.remove_stale_temp_files().unwrap(), 1);
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn a_half_written_result_is_reported_in_one_line_and_shown_as_unreadable() {
    let (tmp, dir, _) = batch_of(&["s1", "s2"]);
    let path = dir.result_path("s2", "echo");
    let whole = fs::read(&path).unwrap();
    fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    fs::write(dir.result_path("s1", "udp"), b"\x00\x01 not json").unwrap();
    let loaded = Class::load(&[tmp.path().to_path_buf()]).unwrap();
    let damaged: Vec<&String> = loaded
        .warnings
        .iter()
        .filter(|w| w.contains("not a whole grade report"))
        .collect();
    assert_eq!(damaged.len(), 2, "{:?}", loaded.warnings);
    for warning in &loaded.warnings {
        assert!(!warning.contains('\n'), "one line: {warning}");
    }
    assert!(matches!(
        loaded.class.students[1].results[0],
        Stored::Unreadable(_)
    ));
    let columns = loaded.class.columns();
    assert!(matches!(
        loaded.class.students[1].cell(&columns[0]),
        Cell::Unreadable
    ));

    let run = report_run([tmp.path().as_os_str(), "--format".as_ref(), "csv".as_ref()]);
    let csv = run.text();
    assert_eq!(
        run.stderr
            .lines()
            .filter(|l| l.starts_with("sockspec: warning: ") && l.contains("not a whole"))
            .count(),
        2,
        "{}",
        run.stderr
    );
    assert!(csv.contains("unreadable"), "{csv}");
}

#[test]
fn a_result_not_written_yet_is_not_graded_and_said_so() {
    let (tmp, _dir, _) = batch_of(&["s1"]);
    let loaded = Class::load(&[tmp.path().to_path_buf()]).unwrap();
    // s1 has echo but no udp: an interrupted batch.
    assert!(matches!(
        loaded.class.students[0].results[1],
        Stored::Missing
    ));
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("1 result(s) not graded yet")),
        "{:?}",
        loaded.warnings
    );
    let csv = report(&[tmp.path()], "csv");
    assert!(csv.contains("udp: not graded yet"), "{csv}");
}

#[test]
fn names_that_are_no_file_names_are_refused() {
    let (_tmp, dir, report) = batch_of(&["s1"]);
    for bad in ["", ".", "..", "a/b", ".tmp-x"] {
        let err = dir
            .write_result(bad, "echo", &report)
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be a file name"), "{bad:?}: {err}");
    }
}

#[test]
fn a_directory_of_another_batch_is_refused() {
    let (tmp, _dir, _) = batch_of(&["s1"]);
    let mut info = ResultsDir::open(tmp.path()).unwrap().info().unwrap();
    assert!(
        ResultsDir::create(tmp.path(), &info).is_ok(),
        "the same batch resumes"
    );
    info.assignments[0].seed += 1;
    let err = ResultsDir::create(tmp.path(), &info)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds another batch"), "{err}");
}

#[test]
fn reports_from_before_the_new_fields_still_read() {
    let text = fs::read_to_string(fixture_class().join("results/Li, Na/echo.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let object = value.as_object_mut().unwrap();
    for field in [
        "started_at",
        "hostname",
        "cannot_launch",
        "incomplete",
        "interrupted_by",
    ] {
        object.remove(field);
    }
    for check in object["checks"].as_array_mut().unwrap() {
        let check = check.as_object_mut().unwrap();
        check.remove("counts");
        check.remove("visibility");
    }
    let old: GradeReport = serde_json::from_value(value).expect("an older report reads");
    assert!(
        old.checks.iter().all(|c| c.counts),
        "checks count unless told"
    );
    assert!(old.started_at.is_none());
}

#[test]
fn a_program_that_was_not_launched_renders_as_not_run_everywhere() {
    let (report, _) = fixture_report("s10", "udp");
    assert!(report.cannot_launch.is_some());
    assert!(report.checks.iter().all(|c| c.outcome == Outcome::NotRun));
    let class = Class::load(&[fixture_class()]).unwrap().class;
    let csv = sockspec::report::render_class(
        &class,
        sockspec::report::ClassFormat::Csv,
        Default::default(),
    );
    let row = csv
        .lines()
        .find(|l| l.starts_with("s10,"))
        .expect("a row for s10");
    assert!(row.contains("udp: not launched: no file matching"), "{row}");
    assert!(row.contains(",not-run"), "{row}");
}
