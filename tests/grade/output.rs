//! `-o FILE`: written safely, never replacing what is not a regular file.

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::Duration;

use super::util::{sockspec_in, strings, submissions_dir, Graded};

/// Generous, for a loaded machine (one check takes about a second).
const LIMIT: Duration = Duration::from_secs(300);

/// Grades the correct threaded server on one check, its report (JSON) written to `out`.
fn grade_to(out: &str) -> Graded {
    let args = strings(&[
        "grade",
        "echo-server",
        "--only",
        "echo-server/basic/ascii",
        "--format",
        "json",
        "-o",
        out,
        "--",
        "python3",
        "echo/threaded.py",
    ]);
    sockspec_in(&submissions_dir(), &args, LIMIT)
}

#[track_caller]
fn assert_report(text: &str) {
    let report: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not a JSON report ({e}): {text}"));
    assert_eq!(report["summary"]["success"], true, "{report}");
}

fn is_char_device(path: &str) -> bool {
    fs::metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

#[test]
fn a_fifo_is_written_to_its_reader_and_stays_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            fs::File::open(&fifo)
                .and_then(|mut f| f.read_to_string(&mut text))
                .map(|_| text)
        })
    };
    let graded = grade_to(fifo.to_str().unwrap());
    if graded.code != 0 {
        // Release the reader, which waits for a writer that never came.
        let _ = fs::OpenOptions::new().write(true).open(&fifo);
    }
    let text = reader.join().unwrap().unwrap();
    assert_eq!(graded.code, 0, "{}", graded.stderr);
    assert_report(&text);
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_symlink_is_followed_and_its_target_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json");
    let link = dir.path().join("link.json");
    fs::write(&real, "the last report\n").unwrap();
    std::os::unix::fs::symlink("real.json", &link).unwrap();
    let graded = grade_to(link.to_str().unwrap());
    assert_eq!(graded.code, 0, "{}", graded.stderr);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("real.json"));
    assert_report(&fs::read_to_string(&real).unwrap());

    // A link to a file not made yet: the file is made where it points.
    let dangling = dir.path().join("dangling.json");
    std::os::unix::fs::symlink("new.json", &dangling).unwrap();
    let graded = grade_to(dangling.to_str().unwrap());
    assert_eq!(graded.code, 0, "{}", graded.stderr);
    assert!(fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_report(&fs::read_to_string(dir.path().join("new.json")).unwrap());
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 4, "no temporary file is left: {names:?}");
}

#[test]
fn dev_null_stays_a_character_device() {
    assert!(is_char_device("/dev/null"));
    let graded = grade_to("/dev/null");
    assert_eq!(graded.code, 0, "{}", graded.stderr);
    assert!(graded.stdout.is_empty(), "{}", graded.stdout);
    assert!(is_char_device("/dev/null"), "/dev/null was replaced");
}

#[test]
fn a_full_device_is_exit_4_with_one_line() {
    if !is_char_device("/dev/full") {
        eprintln!("no /dev/full here; not tested");
        return;
    }
    let graded = grade_to("/dev/full");
    assert_eq!(graded.code, 4, "{}", graded.stderr);
    let lines: Vec<&str> = graded.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error, got: {}", graded.stderr);
    assert!(lines[0].contains("cannot write /dev/full"), "{}", lines[0]);
    assert!(is_char_device("/dev/full"), "/dev/full was replaced");
}

#[test]
fn a_dash_and_dev_stdout_are_standard_output() {
    for out in ["-", "/dev/stdout"] {
        let graded = grade_to(out);
        assert_eq!(graded.code, 0, "{out}: {}", graded.stderr);
        assert_report(&graded.stdout);
    }
    // The grader runs in the submissions directory: no file named `-` was made there.
    assert!(
        !submissions_dir().join("-").exists(),
        "a file named - was made"
    );
}

#[test]
fn what_is_neither_file_fifo_nor_character_device_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    for (out, says) in [
        (dir.path().to_str().unwrap(), "it is a directory"),
        ("/dev/no-such-device-of-sockspec", "no such device"),
    ] {
        let graded = grade_to(out);
        assert_eq!(graded.code, 2, "{out}: {}", graded.stderr);
        assert!(graded.stderr.contains(says), "{out}: {}", graded.stderr);
    }
    assert!(!Path::new("/dev/no-such-device-of-sockspec").exists());
}
