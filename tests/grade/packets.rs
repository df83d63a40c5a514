//! `grade --packets`: the program's TCP segments in each check's wire transcript. A server that resets
//! its connection shows its RST, one that closes shows its FIN, a client its SYN; without a private
//! namespace per launch, `--packets` is a usage error.

use std::time::Duration;

use serde_json::Value;

use super::confine::forbid_namespaces;
use super::util::{sockspec_in, sockspec_with, strings, submissions_dir, Graded};

const LIMIT: Duration = Duration::from_secs(180);

/// Grades one check with `--packets` and a report in `format`.
#[track_caller]
fn grade(suite: &str, only: &str, format: &str, command: &[&str]) -> Graded {
    let mut args = strings(&[
        "grade",
        suite,
        "--packets",
        "--only",
        only,
        "--format",
        format,
        "--",
    ]);
    args.extend(strings(command));
    sockspec_in(&submissions_dir(), &args, LIMIT)
}

/// The texts of the `tcp` events of the first check.
pub(super) fn tcp_events(report: &Value) -> Vec<String> {
    report["checks"][0]["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .filter(|e| e["channel"] == "tcp")
        .map(|e| e["bytes"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The events' times never go back: captured segments are placed among the grader's own events.
#[track_caller]
fn assert_in_time_order(report: &Value) {
    let times: Vec<f64> = report["checks"][0]["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .map(|e| e["at"].as_f64().expect("at"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn a_server_that_resets_its_connection_shows_the_rst() {
    let graded = grade(
        "echo-server",
        "echo-server/basic/several-messages",
        "json",
        &["python3", "packets/linger_reset.py", "{port}"],
    );
    let report = graded.json();
    assert_eq!(report["checks"][0]["outcome"], "fail", "{report:#}");
    let events = tcp_events(&report);
    let syn = events
        .iter()
        .position(|e| e.starts_with("grader 127.0.0.1:") && e.contains(": SYN, seq 0 (ISN "))
        .unwrap_or_else(|| panic!("the grader's SYN: {events:#?}"));
    let rst = events
        .iter()
        .position(|e| {
            e.starts_with("program 127.0.0.1:")
                && e.contains(" → grader 127.0.0.1:")
                && e.contains(": RST, seq ")
                && e.contains("aborted, not closed with FIN")
        })
        .unwrap_or_else(|| panic!("the program's RST: {events:#?}"));
    assert!(syn < rst, "{events:#?}");
    assert!(
        events.iter().any(|e| e.contains(": data, seq 1:")),
        "data runs: {events:#?}"
    );
    assert!(!events.iter().any(|e| e.contains(": FIN")), "{events:#?}");
    assert_in_time_order(&report);

    // The human report shows them in its wire section, among the grader's own events.
    let human = grade(
        "echo-server",
        "echo-server/basic/several-messages",
        "human",
        &["python3", "packets/linger_reset.py", "{port}"],
    );
    let wire: Vec<&str> = human
        .stdout
        .lines()
        .skip_while(|l| l.trim() != "wire:")
        .collect();
    let rst = wire
        .iter()
        .position(|l| l.contains(" tcp ") && l.contains("· program ") && l.contains(": RST"))
        .unwrap_or_else(|| panic!("RST in the wire section:\n{}", human.stdout));
    let reset_seen = wire
        .iter()
        // A write after the RST fails with EPIPE, the read before it with ECONNRESET.
        .position(|l| l.contains("client 1") && (l.contains("reset") || l.contains("Broken pipe")))
        .unwrap_or_else(|| panic!("the client's error:\n{}", human.stdout));
    assert!(
        rst < reset_seen,
        "the RST comes before its error:\n{}",
        human.stdout
    );
}

#[test]
fn a_server_that_closes_shows_its_fin_after_the_graders() {
    let graded = grade(
        "echo-server",
        "echo-server/basic/client-close",
        "json",
        &["python3", "echo/threaded.py", "{port}"],
    );
    let report = graded.json();
    assert_eq!(report["checks"][0]["outcome"], "pass", "{report:#}");
    let events = tcp_events(&report);
    let fin = |who: &str| {
        events
            .iter()
            .position(|e| e.starts_with(who) && e.contains(": FIN, seq "))
            .unwrap_or_else(|| panic!("{who}'s FIN: {events:#?}"))
    };
    assert!(fin("grader ") < fin("program "), "{events:#?}");
    assert!(!events.iter().any(|e| e.contains("RST")), "{events:#?}");
    assert_in_time_order(&report);
}

#[test]
fn a_client_program_sends_the_syn() {
    let graded = grade(
        "echo-client",
        "echo-client/basic/ascii",
        "json",
        &["python3", "echo_client/client.py"],
    );
    let report = graded.json();
    assert_eq!(report["checks"][0]["outcome"], "pass", "{report:#}");
    let events = tcp_events(&report);
    assert!(
        events
            .first()
            .is_some_and(|e| e.starts_with("program 127.0.0.1:") && e.contains(": SYN, seq 0")),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("grader ") && e.contains(": SYN-ACK, seq 0, ack 1")),
        "{events:#?}"
    );
}

#[test]
fn without_a_namespace_per_launch_packets_is_a_usage_error() {
    let args = |isolate: &str| {
        strings(&[
            "grade",
            "echo-server",
            "--packets",
            isolate,
            "--only",
            "echo-server/basic/ascii",
            "--",
            "python3",
            "echo/threaded.py",
            "{port}",
        ])
    };
    let dir = submissions_dir();
    for (graded, why) in [
        (
            sockspec_in(&dir, &args("--isolate=off"), LIMIT),
            "--isolate=off",
        ),
        (
            sockspec_with(&dir, &args("--isolate=auto"), LIMIT, forbid_namespaces),
            "no network namespace can be made here",
        ),
    ] {
        assert_eq!(graded.code, 2, "{}\n{}", graded.command, graded.stderr);
        let lines: Vec<&str> = graded.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {}", graded.stderr);
        assert!(
            lines[0].starts_with(
                "sockspec: --packets needs each launch in a private network namespace"
            ) && lines[0].contains(why),
            "{}",
            lines[0]
        );
        assert!(graded.stdout.is_empty(), "no report: {}", graded.stdout);
    }
}
