//! `sockspec handshake`: the captured segments of one connection keep TCP's arithmetic (each ack is
//! the other side's seq plus what it consumed), in the lesson's order, and the side that closed first is
//! the one `/proc` shows in TIME_WAIT; without namespaces, one line and exit code 7.
//!
//! Everything runs in a private network namespace that `sockspec` makes: the fixed port 8888 there
//! meets nothing on this machine.

use std::process::Command;

use serde_json::Value;
use sockspec::exit;

use crate::confine::{as_nobody, forbid_namespaces};
use crate::util::{run, Run, BIN, WAIT};

/// The phases, in order, of a connection with one message and its answer.
const PHASES: [&str; 11] = [
    "handshake-1",
    "handshake-2",
    "handshake-3",
    "data",
    "data-ack",
    "data",
    "data-ack",
    "close-1",
    "close-2",
    "close-3",
    "close-4",
];

fn u32_of(v: &Value) -> u32 {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or_else(|| panic!("not a u32: {v}"))
}

/// `a + n`, as sequence numbers add (modulo 2^32).
fn plus(a: u32, n: u32) -> u32 {
    a.wrapping_add(n)
}

/// Checks every relation between the segments of a JSON report, with `first` the side that closed
/// first.
#[track_caller]
fn assert_connection(report: &Value, first: &str, message: &str) {
    let second = if first == "client" {
        "server"
    } else {
        "client"
    };
    let segs = report["segments"].as_array().expect("segments");
    let phases: Vec<&str> = segs.iter().map(|s| s["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, PHASES, "{report:#}");
    let from: Vec<&str> = segs.iter().map(|s| s["from"].as_str().unwrap()).collect();
    assert_eq!(
        from,
        [
            "client", "server", "client", "client", "server", "server", "client", first, second,
            second, first
        ],
        "{report:#}"
    );
    let seq = |i: usize| u32_of(&segs[i]["seq"]);
    let ack = |i: usize| u32_of(&segs[i]["ack"]);
    let len = |i: usize| segs[i]["len"].as_u64().unwrap() as u32;
    let (client_isn, server_isn) = (seq(0), seq(1));
    // The handshake: each SYN counts as one byte.
    assert_eq!(segs[0]["flags"], serde_json::json!(["SYN"]));
    assert!(segs[0].get("ack").is_none(), "a SYN acknowledges nothing");
    assert_eq!(segs[1]["flags"], serde_json::json!(["SYN", "ACK"]));
    assert_eq!(
        ack(1),
        plus(client_isn, 1),
        "SYN-ACK acknowledges the client's ISN + 1"
    );
    assert_eq!(segs[2]["flags"], serde_json::json!(["ACK"]));
    assert_eq!(seq(2), plus(client_isn, 1));
    assert_eq!(
        ack(2),
        plus(server_isn, 1),
        "the third ACK: the server's ISN + 1"
    );
    for syn in &segs[..2] {
        assert_eq!(syn["options"]["mss"], 65495, "MSS on lo: {syn}");
    }
    // The message and its answer, each acknowledged by seq + len.
    let answer = format!("ECHO：{message}");
    assert_eq!(len(3) as usize, message.len());
    assert_eq!(segs[3]["data"], message);
    assert_eq!(seq(3), plus(client_isn, 1));
    assert_eq!(ack(4), plus(seq(3), len(3)), "ACK of the message");
    assert_eq!(len(5) as usize, answer.len());
    assert_eq!(segs[5]["data"], answer.as_str());
    assert_eq!(seq(5), plus(server_isn, 1));
    assert_eq!(ack(6), plus(seq(5), len(5)), "ACK of the answer");
    // The close: a FIN counts as one byte, each acknowledged by the other side.
    let next = |side: &str| {
        if side == "client" {
            plus(seq(3), len(3))
        } else {
            plus(seq(5), len(5))
        }
    };
    assert_eq!(segs[7]["flags"], serde_json::json!(["FIN", "ACK"]));
    assert_eq!(
        seq(7),
        next(first),
        "the first FIN comes after the closer's data"
    );
    assert_eq!(ack(8), plus(seq(7), 1), "second wave: the first FIN + 1");
    assert_eq!(segs[9]["flags"], serde_json::json!(["FIN", "ACK"]));
    assert_eq!(seq(9), next(second));
    assert_eq!(ack(10), plus(seq(9), 1), "fourth wave: the second FIN + 1");
    // Relative numbers, as Wireshark shows them.
    assert_eq!(
        segs[9]["relative_ack"],
        2 + len(if first == "client" { 3 } else { 5 })
    );
    // Who closed first, and who /proc shows in TIME_WAIT.
    assert_eq!(report["closes_first"], first);
    assert_eq!(report["closed_first"], first);
    assert_eq!(report["time_wait"], first, "{report:#}");
    let closer_addr = &report[first];
    let rows = report["sockets_after"].as_array().expect("sockets_after");
    assert!(
        rows.iter()
            .any(|r| r["state"] == "TIME_WAIT" && &r["local"] == closer_addr && r["side"] == first),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .all(|r| r["state"] != "ESTABLISHED" && r["state"] != "LAST_ACK"),
        "the other side is gone: {rows:?}"
    );
    assert_eq!(report["lost"], 0);
}

fn json(run: &Run) -> Value {
    run.assert_success();
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}\n{}", run.describe()))
}

#[test]
fn the_client_closes_first_and_ends_in_time_wait() {
    let run = run(&["handshake", "--format", "json"], b"");
    assert_connection(&json(&run), "client", "hello");
}

#[test]
fn with_server_closes_first_the_server_ends_in_time_wait() {
    let run = run(
        &[
            "handshake",
            "--server-closes-first",
            "--message",
            "你好",
            "--port",
            "9999",
            "--format",
            "json",
        ],
        b"",
    );
    let report = json(&run);
    assert_connection(&report, "server", "你好");
    assert_eq!(report["server"], "127.0.0.1:9999"); // fixed-port-ok: text, never bound
}

/// The number after `key` in `line`.
fn number_after(line: &str, key: &str) -> u32 {
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("{key:?} in {line:?}"))
        + key.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number after {key:?} in {line:?}"))
}

#[test]
fn the_text_reads_each_segment_as_the_lesson_does() {
    let run = run(&["handshake"], b"");
    run.assert_success();
    let text = run.stdout();
    // Readings are wrapped: join each segment's lines.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let reading = |start: &str| {
        let at = flat
            .find(start)
            .unwrap_or_else(|| panic!("{start:?} in:\n{text}"));
        &flat[at..]
    };
    let isn = number_after(reading("first handshake: SYN, seq = "), "seq = ");
    let second = reading("second handshake: SYN-ACK, ack = ");
    assert_eq!(number_after(second, "ack = "), isn);
    assert_eq!(number_after(second, " + 1 = "), isn.wrapping_add(1));
    let server_isn = number_after(second, "; seq = ");
    let third = reading("third handshake: ACK, ack = ");
    assert_eq!(number_after(third, "ack = "), server_isn);
    assert!(third.contains("ESTABLISHED"));
    for needle in [
        "payload: \"hello\"",
        "ACK of the data: ack = ",
        "first wave: the client calls close(): FIN",
        "second wave: ACK of the FIN",
        "third wave: the server calls close() too: FIN",
        "fourth wave: ACK of the FIN",
        "the client goes to TIME_WAIT, the server to CLOSED",
        "closed first: the client (its FIN is segment 8)",
        "in TIME_WAIT: the client. Why: the client closed first",
        "options: mss 65495",
    ] {
        assert!(flat.contains(needle), "{needle:?} in:\n{text}");
    }
    let table: Vec<&str> = text.lines().filter(|l| l.contains("TIME_WAIT  ")).collect();
    assert_eq!(table.len(), 1, "{text}");
    assert!(table[0].contains("the client's socket"), "{text}");
}

/// Runs `sockspec ARGS` after `setup` (as another user, under a seccomp filter).
fn run_with(args: &[&str], setup: impl FnOnce(&mut Command)) -> Run {
    let mut command = Command::new(BIN);
    setup(&mut command);
    let output = assert_cmd::Command::from_std(command)
        .args(args)
        .timeout(WAIT)
        .output()
        .expect("sockspec runs");
    Run {
        cmdline: format!("sockspec {}", args.join(" ")),
        output,
    }
}

#[test]
fn without_namespaces_it_says_so_in_one_line_and_exits_7() {
    let refused = run_with(&["handshake"], |c| {
        as_nobody(c);
        forbid_namespaces(c);
    });
    refused.assert_error(
        exit::CANNOT_CAPTURE,
        &[
            "cannot capture packets here",
            "network namespace",
            "run as root",
        ],
    );
    assert!(refused.stdout().is_empty(), "{}", refused.describe());
    // The same as root: a seccomp filter stops root too.
    run_with(&["handshake"], forbid_namespaces)
        .assert_error(exit::CANNOT_CAPTURE, &["cannot capture packets here"]);
}

#[test]
fn an_ordinary_user_captures_where_user_namespaces_are_allowed() {
    let run = run_with(&["handshake", "--format", "json"], as_nobody);
    if run.output.status.code() == Some(exit::CANNOT_CAPTURE.into()) {
        eprintln!(
            "unprivileged user namespaces are not allowed here: {}",
            run.stderr()
        );
        run.assert_error(exit::CANNOT_CAPTURE, &["cannot capture packets here"]);
        return;
    }
    assert_connection(&json(&run), "client", "hello");
}
