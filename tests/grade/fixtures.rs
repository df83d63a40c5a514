//! Every fixture submission gets exactly the verdicts its manifest entry expects.

use std::fmt::Write as _;

use std::path::Path;
use std::sync::Arc;

pub use super::util::manifest_in;
use super::util::{grade_submission_in, graded_submission, manifest, submissions_dir};

/// Grades one submission of fixtures/submissions and compares every verdict (and the mode) with the
/// manifest.
#[track_caller]
fn check_submission(name: &str) {
    grade_in(&submissions_dir(), name)
}

/// Grades one submission of the manifest in `dir` (commands and suite paths are relative to it) and
/// compares every verdict with it.
#[track_caller]
pub fn grade_in(dir: &Path, name: &str) {
    let manifest = manifest_in(dir);
    let sub = manifest.submission(name);
    assert!(!sub.about.is_empty(), "{name}: say what the submission is");
    // fixtures/submissions' grades are shared with the explanation tests, graded once.
    let graded = if dir == submissions_dir() {
        graded_submission(name)
    } else {
        Arc::new(grade_submission_in(dir, name))
    };
    let report = graded.json();
    let default = sub
        .expect
        .get("default")
        .map(String::as_str)
        .unwrap_or("pass");
    let mut wrong = String::new();
    let checks = report["checks"].as_array().expect("checks is an array");
    for check in checks {
        let id = check["id"].as_str().unwrap_or_default();
        let got = check["outcome"].as_str().unwrap_or_default();
        let want = sub.expect.get(id).map(String::as_str).unwrap_or(default);
        if got != want {
            let _ = writeln!(
                wrong,
                "  {id}: expected {want}, got {got}: {}",
                check["message"].as_str().unwrap_or_default()
            );
        }
    }
    for id in sub.expect.keys().filter(|k| *k != "default") {
        if !checks.iter().any(|c| c["id"] == id.as_str()) {
            let _ = writeln!(
                wrong,
                "  {id}: in the manifest, but the suite has no such check"
            );
        }
    }
    if let Some(mode) = &sub.mode {
        let got = report["mode"].as_str().unwrap_or("(none reported)");
        if got != mode {
            let _ = writeln!(wrong, "  mode: expected {mode}, got {got}");
        }
    }
    let success = report["summary"]["success"].as_bool().unwrap_or(false);
    let expected_code = if success { 0 } else { 1 };
    if graded.code != expected_code {
        let _ = writeln!(
            wrong,
            "  exit code: expected {expected_code}, got {}",
            graded.code
        );
    }
    assert!(
        wrong.is_empty(),
        "{name} ({}):\n{wrong}replay: cd {} && {} \nstderr:\n{}",
        sub.suite,
        dir.display(),
        graded.command.replace("--format json", "--format human"),
        graded.stderr
    );
}

macro_rules! fixture_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check_submission($name);
            }
        )*

        #[test]
        fn every_manifest_entry_has_a_test() {
            let tested = [$($name),*];
            for sub in manifest().submission {
                assert!(tested.contains(&sub.name.as_str()), "no test grades {}", sub.name);
            }
        }
    };
}

fixture_tests! {
    echo_single => "echo/single",
    echo_sequential => "echo/sequential",
    echo_threaded => "echo/threaded",
    echo_line_threaded => "echo/line_threaded",
    echo_wrong_prefix => "echo/wrong_prefix",
    echo_strips_message => "echo/strips_message",
    echo_sequential_claims_concurrent => "echo/sequential_claims_concurrent",
    echo_crash_on_close => "echo/crash_on_close",
    echo_decodes_each_chunk => "echo/decodes_each_chunk",
    echo_one_message_per_connection => "echo/one_message_per_connection",
    c_echo_server_nul_padding => "c/echo_server_nul_padding",
    echo_client => "echo_client/client",
    echo_client_never_exits => "echo_client/never_exits",
    echo_client_no_print => "echo_client/no_print",
    echo_client_eof_error => "echo_client/eof_error",
    echo_client_reconnects => "echo_client/reconnects",
    chat_server => "chat/server",
    chat_client => "chat/client",
    chat_server_no_exit => "chat/server_no_exit",
    chat_client_ascii_only => "chat/client_ascii_only",
    chat_server_prints_bytes => "chat/server_prints_bytes",
    chat_server_accept_loop => "chat/server_accept_loop",
    chat_client_gbk => "chat/client_gbk",
    file_receiver => "file/receiver",
    file_sender => "file/sender",
    file_receiver_text_mode => "file/receiver_text_mode",
    file_receiver_one_recv => "file/receiver_one_recv",
    file_sender_no_close => "file/sender_no_close",
    file_receiver_strips => "file/receiver_strips",
    file_receiver_stops_reading => "file/receiver_stops_reading",
    file_receiver_accept_loop => "file/receiver_accept_loop",
    udp_receiver => "udp/receiver",
    udp_receiver_truncates => "udp/receiver_truncates",
    udp_sender => "udp/sender",
    udp_sender_joins_lines => "udp/sender_joins_lines",
    udp_sender_empty_datagram => "udp/sender_empty_datagram",
    udp_receiver_prints_bytes => "udp/receiver_prints_bytes",
    udp_sender_ascii_only => "udp/sender_ascii_only",
    udp_receiver_no_newline => "udp/receiver_no_newline",
    misbehaving_endless_output => "misbehaving/endless_output",
    misbehaving_ignores_sigterm => "misbehaving/ignores_sigterm",
    misbehaving_forks_keeper => "misbehaving/forks_keeper",
    misbehaving_never_replies => "misbehaving/never_replies",
    misbehaving_floods => "misbehaving/floods",
    misbehaving_ignores_port => "misbehaving/ignores_port",
    misbehaving_crashes_at_start => "misbehaving/crashes_at_start",
    misbehaving_never_listens => "misbehaving/never_listens",
    isolation_fixed_port_server => "isolation/fixed_port_server",
    isolation_closes_first => "isolation/closes_first",
    isolation_binds_lesson_host => "isolation/binds_lesson_host",
    isolation_client_fixed_8888 => "isolation/client_fixed_8888",
    isolation_client_lesson_host => "isolation/client_lesson_host",
    isolation_udp_sender_fixed => "isolation/udp_sender_fixed",
    isolation_fork_bomb => "isolation/fork_bomb",
    http_server => "http/server",
    http_text_mode => "http/text_mode",
    http_no_content_length => "http/no_content_length",
    http_char_length => "http/char_length",
    http_traversal => "http/traversal",
    http_lf_headers => "http/lf_headers",
    http_one_recv => "http/one_recv",
}
