//! The grader grades sockspec's own reference peers: they pass every check of every level of every suite.

use std::time::Duration;

use rstest::rstest;

use super::util::{sockspec_in, strings, submissions_dir};

/// Graded with `--strict` (exact replies, undecorated output lines) except the UDP receiver, whose lines
/// carry the sender's address by design (`127.0.0.1:PORT: text`), a decoration only lenient mode allows.
#[rstest]
#[case::echo_server("echo-server", &["serve", "echo", "--port", "{port}"])]
#[case::echo_client("echo-client", &["echo", "{host}", "{port}"])]
#[case::chat_server("chat-server", &["serve", "chat", "--port", "{port}"])]
#[case::chat_client("chat-client", &["chat", "{host}", "{port}"])]
#[case::file_receiver("file-receiver", &["serve", "file", "--port", "{port}", "{out}"])]
#[case::file_sender("file-sender", &["send-file", "{host}", "{port}", "{file}"])]
#[case::udp_receiver("udp-receiver", &["serve", "udp", "--port", "{port}"])]
#[case::udp_sender("udp-sender", &["send-udp", "{host}", "{port}"])]
fn reference_peer_passes_every_level(#[case] suite: &str, #[case] peer: &[&str]) {
    let mut args = strings(&["grade", suite, "--level", "robust", "--format", "json"]);
    if suite != "udp-receiver" {
        args.push("--strict".into());
    }
    args.push("--".into());
    args.push(env!("CARGO_BIN_EXE_sockspec").to_string());
    args.extend(strings(peer));
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(300));
    let report = graded.json();
    let failed = graded.not_passed();
    assert!(
        failed.is_empty(),
        "{suite}:\n{}\nstderr:\n{}",
        failed.join("\n"),
        graded.stderr
    );
    assert_eq!(graded.code, 0);
    if suite == "echo-server" {
        assert_eq!(report["mode"], "concurrent");
    }
}
