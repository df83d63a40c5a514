//! Fixture submissions in C, compiled here: C stdio buffers differently from Python, and a program that
//! works at a terminal must pass.

use std::time::Duration;

use super::util::{compile, sockspec_in, strings, submissions_dir};

/// `printf("client says: %s", msg); fgets(line, ..., stdin)` with no newline and no fflush: at a terminal
/// the text shows before the read, so the grader, which gives the program terminals, sees it too.
#[test]
fn c_chat_server_that_prints_without_flushing_passes() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let program = compile("c/chat_server.c", dir.path());
    let args = strings(&[
        "grade",
        "chat-server",
        "--format",
        "json",
        "--",
        &program,
        "{port}",
    ]);
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(120));
    let failed = graded.not_passed();
    assert!(
        failed.is_empty(),
        "{}\nstderr:\n{}",
        failed.join("\n"),
        graded.stderr
    );
    assert_eq!(graded.code, 0);
}
