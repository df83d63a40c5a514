//! The http-server suite's explanations point at the fix: each buggy fixture's failing check says why in
//! the words a student can act on.

use std::time::Duration;

use serde_json::Value;

use super::util::{sockspec_in, strings, submissions_dir};

fn message_of(program: &str, check: &str) -> (String, Value) {
    let args = strings(&[
        "grade",
        "http-server",
        "--only",
        check,
        "--seed",
        "20261125",
        "--format",
        "json",
        "--",
        "python3",
        program,
        "{port}",
        "{dir}",
    ]);
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(120));
    let report = graded.json();
    let check = report["checks"][0].clone();
    (
        check["message"].as_str().unwrap_or_default().to_string(),
        check,
    )
}

#[test]
fn a_content_length_in_characters_is_named_as_such() {
    let (why, check) = message_of("http/char_length.py", "http-server/basic/index");
    assert!(
        why.contains("Content-Length says 191, but the page has 231 bytes")
            && why.contains("number of characters")
            && why.contains("len(body.encode())"),
        "{check}"
    );
}

#[test]
fn a_served_secret_is_shown_with_the_request_that_got_it() {
    let (why, check) = message_of("http/traversal.py", "http-server/security/path-traversal");
    assert!(
        why.starts_with("GET /../secret.txt was answered 200 OK with the secret file"),
        "{check}"
    );
    assert!(why.contains("os.path.realpath"), "{check}");
}

#[test]
fn an_unread_request_body_is_blamed_for_the_reset() {
    let (why, check) = message_of("http/one_recv.py", "http-server/robust/request-body");
    assert!(
        why.contains("reset") && why.contains("unread") && why.contains("Content-Length"),
        "{check}"
    );
}

#[test]
fn a_text_mode_image_gets_no_response_and_the_decode_error_is_shown() {
    let (why, check) = message_of("http/text_mode.py", "http-server/basic/binary-image");
    let stderr = check["stderr_tail"].as_str().unwrap_or_default();
    assert!(why.contains("no response arrived"), "{check}");
    assert!(stderr.contains("UnicodeDecodeError"), "{check}");
}

#[test]
fn dir_is_refused_by_suites_that_give_none() {
    let args = strings(&["grade", "echo-server", "--", "python3", "x.py", "{dir}"]);
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(30));
    assert_eq!(graded.code, 2, "{}", graded.stderr);
    assert!(
        graded.stderr.contains("gives no {dir}"),
        "{}",
        graded.stderr
    );
}
