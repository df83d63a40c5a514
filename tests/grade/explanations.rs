//! The explanations of failing fixture submissions point at the right fix: each test reads what the
//! report says (the check's message, its cause), not only the outcome that fixtures.rs checks. The
//! gradings are shared with fixtures.rs (one run per submission).

use std::time::Duration;

use serde_json::Value;

use super::util::{graded_submission, sockspec_in, strings, submissions_dir};

/// The check `id` of a submission's report.
#[track_caller]
fn check(report: &Value, id: &str) -> Value {
    report["checks"]
        .as_array()
        .expect("checks is an array")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in the report"))
        .clone()
}

/// The cause a check names, if any.
fn cause_of(report: &Value, check: &Value) -> Option<Value> {
    let id = check["cause"].as_str()?;
    report["causes"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
}

/// Asserts that the check `id` of `submission` has `outcome` and that its message, or its cause, says
/// every one of `words`.
#[track_caller]
fn assert_explained(submission: &str, id: &str, outcome: &str, words: &[&str]) {
    let report = graded_submission(submission).json();
    let check = check(&report, id);
    assert_eq!(check["outcome"], outcome, "{submission} {id}: {check}");
    let cause = cause_of(&report, &check);
    let said = format!(
        "{}\n{}",
        check["message"].as_str().unwrap_or_default(),
        cause
            .as_ref()
            .and_then(|c| c["summary"].as_str())
            .unwrap_or_default()
    );
    for word in words {
        assert!(
            said.contains(word),
            "{submission} {id}: the explanation does not say {word:?}:\n{said}"
        );
    }
}

#[test]
fn a_wrong_prefix_is_one_cause_named_with_its_bytes() {
    let report = graded_submission("echo/wrong_prefix").json();
    let causes = report["causes"].as_array().expect("causes");
    let prefix = causes
        .iter()
        .find(|c| {
            c["summary"]
                .as_str()
                .unwrap_or_default()
                .contains("ASCII colon")
        })
        .unwrap_or_else(|| panic!("no cause names the colon: {causes:?}"));
    let summary = prefix["summary"].as_str().unwrap();
    assert!(
        summary.contains("\"ECHO:\"")
            && summary.contains("U+003A")
            && summary.contains("U+FF1A")
            && summary.contains("ef bc 9a"),
        "{summary}"
    );
    let explained = prefix["checks"].as_array().unwrap();
    assert!(
        explained.len() >= 8,
        "one cause for many checks: {explained:?}"
    );
    for id in ["echo-server/basic/ascii", "echo-server/basic/chinese"] {
        assert!(
            explained.iter().any(|c| c == id),
            "{id} not explained by it"
        );
    }
}

#[test]
fn a_human_report_says_a_shared_cause_once_and_checks_refer_to_it() {
    let args = strings(&[
        "grade",
        "echo-server",
        "--only",
        "echo-server/basic/a*",
        "--only",
        "echo-server/basic/chinese",
        "--only",
        "echo-server/basic/several-messages",
        "--seed",
        "5",
        "--",
        "python3",
        "echo/wrong_prefix.py",
        "{port}",
    ]);
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(120));
    let out = &graded.stdout;
    assert_eq!(graded.code, 1, "{out}\n{}", graded.stderr);
    assert_eq!(out.matches("ASCII colon").count(), 1, "said once:\n{out}");
    let refs = out.matches("cause:       C1 (above: 3 checks)").count();
    assert_eq!(refs, 3, "each failing check refers to the cause:\n{out}");
    // The cause comes before the first check.
    assert!(
        out.find("ASCII colon") < out.find("echo-server/basic/ascii"),
        "{out}"
    );
}

#[test]
fn decoding_each_chunk_is_caught_and_the_fix_is_to_decode_whole_lines() {
    for id in [
        "echo-server/robust/byte-slices",
        "echo-server/robust/split-character",
        "echo-server/robust/large-message",
    ] {
        assert_explained(
            "echo/decodes_each_chunk",
            id,
            "fail",
            &["UnicodeDecodeError", "collect the bytes up to the newline"],
        );
    }
}

#[test]
fn one_message_per_connection_is_told_it_closed_and_serves_in_turn() {
    assert_explained(
        "echo/one_message_per_connection",
        "echo-server/basic/several-messages",
        "fail",
        &[
            "closed the connection after its reply to message 1",
            "one message per connection",
        ],
    );
    assert_explained(
        "echo/one_message_per_connection",
        "echo-server/concurrent/idle-first-client",
        "fail",
        &["only after client 1 closed", "one client at a time"],
    );
}

#[test]
fn nul_padding_is_named_in_every_check_that_reads_a_reply() {
    for id in [
        "echo-server/basic/ascii",
        "echo-server/basic/chinese",
        "echo-server/sequential/second-client",
    ] {
        assert_explained(
            "c/echo_server_nul_padding",
            id,
            "fail",
            &["NUL bytes", "sizeof buf"],
        );
    }
}

#[test]
fn a_printed_bytes_object_fails_for_ascii_text_too() {
    assert_explained(
        "chat/server_prints_bytes",
        "chat-server/basic/one-turn",
        "fail",
        &["b'hi'", "decode()"],
    );
    assert_explained(
        "udp/receiver_prints_bytes",
        "udp-receiver/basic/ascii",
        "fail",
        &["b'hello'", "decode()"],
    );
}

#[test]
fn strip_is_named_where_it_changes_what_is_echoed_or_saved() {
    assert_explained(
        "echo/strips_message",
        "echo-server/basic/whitespace",
        "fail",
        &["strip()"],
    );
    assert_explained(
        "file/receiver_strips",
        "file-receiver/basic/whitespace",
        "fail",
        &["its last", "strip()"],
    );
}

#[test]
fn a_receiver_that_stops_reading_is_told_so_and_never_hangs_the_grade() {
    assert_explained(
        "file/receiver_stops_reading",
        "file-receiver/basic/size-1025",
        "fail",
        &["only the first 1024 of 1025", "stopped reading"],
    );
    // The 10 MiB write cannot complete: a timeout that names its deadline (3.0 s at this scale).
    assert_explained(
        "file/receiver_stops_reading",
        "file-receiver/robust/size-10m",
        "timeout",
        &["stopped reading", "within 3.0 s"],
    );
}

#[test]
fn a_udp_receiver_that_prints_without_newlines_is_told_at_once() {
    // Python's output is unbuffered under the grader: the datagrams show, run together on one line.
    assert_explained(
        "udp/receiver_no_newline",
        "udp-receiver/basic/several",
        "fail",
        &["on the same line", "end=''"],
    );
}

#[test]
fn a_client_that_dies_at_eof_is_told_to_catch_eoferror() {
    assert_explained(
        "echo_client/eof_error",
        "echo-client/robust/exit-on-eof",
        "crash",
        &["EOFError", "catch it"],
    );
}

#[test]
fn servers_that_go_back_to_accept_fail_only_the_exit_and_are_told_why() {
    assert_explained(
        "chat/server_accept_loop",
        "chat-server/robust/exit-on-client-close",
        "fail",
        &["went back to accept()", "fine at the basic level"],
    );
    assert_explained(
        "file/receiver_accept_loop",
        "file-receiver/robust/exit-after-transfer",
        "fail",
        &[
            "went back to accept()",
            "the content checks do not ask more",
        ],
    );
}

#[test]
fn a_text_mode_receiver_is_told_a_file_is_bytes_not_to_loop_recv() {
    let report = graded_submission("file/receiver_text_mode").json();
    let check = check(&report, "file-receiver/basic/size-1023");
    let cause = cause_of(&report, &check).expect("a cause");
    let summary = cause["summary"].as_str().unwrap();
    assert!(summary.contains("a file is bytes"), "{summary}");
    assert!(!summary.contains("recv(1024)"), "{summary}");
}

#[test]
fn a_server_that_never_listens_is_given_up_after_two_checks() {
    let report = graded_submission("misbehaving/never_listens").json();
    let checks = report["checks"].as_array().unwrap();
    let timed_out = checks.iter().filter(|c| c["outcome"] == "timeout").count();
    assert_eq!(timed_out, 2, "{report}");
    let not_run = checks.iter().filter(|c| c["outcome"] == "not-run");
    for c in not_run {
        assert!(
            c["message"]
                .as_str()
                .unwrap()
                .contains("never became ready"),
            "{c}"
        );
    }
    let causes = report["causes"].as_array().unwrap();
    assert_eq!(causes.len(), 1, "one cause: {causes:?}");
    assert_eq!(causes[0]["checks"].as_array().unwrap().len(), checks.len());
}

#[test]
fn mojibake_printed_at_once_is_a_fail_showing_what_was_printed_not_a_timeout() {
    let report = graded_submission("chat/client_gbk").json();
    let check = check(&report, "chat-client/basic/chinese");
    assert_eq!(check["outcome"], "fail", "{check}");
    let message = check["message"].as_str().unwrap_or_default();
    assert!(message.contains("printed something else"), "{message}");
    let actual = check["actual"]["text"].as_str().unwrap_or_default();
    // "你好" in UTF-8, decoded as GBK.
    assert!(
        actual.contains("浣犲ソ"),
        "the printed text is shown: {check}"
    );
}

#[test]
fn a_client_that_connects_again_is_told_so_not_that_no_reply_came() {
    assert_explained(
        "echo_client/reconnects",
        "echo-client/basic/property",
        "fail",
        &[
            "closed its connection and connected again",
            "one connection",
        ],
    );
}

#[test]
fn what_a_program_prints_is_in_the_wire_transcript() {
    let report = graded_submission("echo/wrong_prefix").json();
    let check = check(&report, "echo-server/basic/ascii");
    let printed = check["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["channel"] == "stdout" && e["direction"] == "received");
    assert!(printed, "no stdout event: {check}");
}

#[test]
fn a_failing_binary_transfer_fits_in_a_few_dozen_lines() {
    let args = strings(&[
        "grade",
        "file-receiver",
        "--only",
        "file-receiver/basic/size-1m",
        "--",
        "python3",
        "file/receiver_one_recv.py",
        "{port}",
        "{out}",
    ]);
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(120));
    let lines = graded.stdout.lines().count();
    assert!(lines <= 40, "{lines} lines:\n{}", graded.stdout);
    let longest = graded
        .stdout
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    assert!(
        longest <= 250,
        "a line of {longest} characters:\n{}",
        graded.stdout
    );
    assert!(
        graded
            .stdout
            .contains("only the first 1024 of 1048576 bytes"),
        "{}",
        graded.stdout
    );
}
