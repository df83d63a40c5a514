//! Grading programs from `cargo test`, as a course repository or a student's own project would.
//!
//! The programs here are two fixture submissions of the ECHO lesson: a threaded server that is right, and
//! one that answers with an ASCII colon instead of the full-width `：`. Grading launches each with
//! `python3`, drives it over loopback and returns the report; the tests assert on it.
//!
//!     cargo test --example grade_in_tests     # as tests
//!     cargo run --example grade_in_tests      # the same checks, as a program

use std::error::Error;
use std::path::Path;

use sockspec::grade::verdict::Outcome;
use sockspec::grade::Grade;

/// The path of a fixture submission. In your project: the path of your program.
fn submission(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions/echo");
    path.join(name).to_string_lossy().into_owned()
}

#[cfg_attr(test, test)]
fn a_threaded_echo_server_passes_the_basic_checks() -> Result<(), Box<dyn Error>> {
    let report = Grade::suite("echo-server")?
        .command(["python3".to_string(), submission("threaded.py")])
        .seed(7)
        .only("echo-server/basic/*")
        .run()?;
    // On failure, the human report says which check failed, with the bytes on the wire.
    assert!(
        report.passed(),
        "{}",
        sockspec::report::human(&report, false)
    );
    Ok(())
}

#[cfg_attr(test, test)]
fn an_ascii_colon_fails_with_the_reply_shown() -> Result<(), Box<dyn Error>> {
    let report = Grade::suite("echo-server")?
        .command(["python3".to_string(), submission("wrong_prefix.py")])
        .seed(7)
        .only("echo-server/basic/ascii")
        .run()?;
    assert!(!report.passed());
    let check = report
        .check("echo-server/basic/ascii")
        .ok_or("the check did not run")?;
    assert_eq!(check.outcome, Outcome::Fail);
    let actual = check.actual.as_ref().ok_or("no actual reply shown")?;
    assert!(actual.text.starts_with("ECHO:"), "{}", actual.text);
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    a_threaded_echo_server_passes_the_basic_checks()?;
    an_ascii_colon_fails_with_the_reply_shown()?;
    println!("grade_in_tests: 2 checks passed");
    Ok(())
}
