//! What a failure report shows belongs to the run that failed: a property check goes on running other
//! programs while it shrinks, and the exit status and stderr shown must be those of the failing one.

use std::time::Duration;

use super::util::{sockspec_in, strings, submissions_dir};

#[test]
fn a_shrunk_property_crash_shows_the_crashing_runs_stderr() {
    let args = strings(&[
        "grade",
        "udp-sender",
        "--only",
        "udp-sender/basic/property",
        "--seed",
        "7",
        "--format",
        "json",
        "--",
        "python3",
        "udp/sender_ascii_only.py",
        "{host}",
        "{port}",
    ]);
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(120));
    let report = graded.json();
    let check = &report["checks"][0];
    assert_eq!(check["outcome"], "crash", "{check}");
    let stderr = check["stderr_tail"].as_str().unwrap_or_default();
    assert!(
        stderr.contains("UnicodeEncodeError"),
        "the stderr shown is not the crashing run's: {stderr:?}\n{check}"
    );
    // The shrunk input is one line holding the character that cannot be encoded.
    let input = check["input"]["text"].as_str().unwrap_or_default();
    assert!(!input.is_ascii() && input.lines().count() == 1, "{check}");
}
