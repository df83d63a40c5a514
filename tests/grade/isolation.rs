//! Each launch in a private network namespace: hard-coded ports and hosts work, grades run side by
//! side, the program sees only loopback, and without namespaces `--isolate=on` refuses while `auto`
//! says it fell back. Programs that target a fixed port or a non-loopback address run only under
//! `--isolate=on`, so they never touch the machine's own network.
//!
//! As root (CI) isolation must work: a report that says otherwise fails these tests. Elsewhere a test
//! that needs what the system does not allow says so and returns.

use std::time::Duration;

use serde_json::Value;

use super::confine::{as_nobody, forbid_namespaces};
use super::util::{sockspec_in, sockspec_with, strings, submissions_dir, Graded};

const LIMIT: Duration = Duration::from_secs(180);

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Grades under `--isolate=on` with a JSON report; `None` (after saying why) when this system cannot
/// isolate and the test does not run as root.
#[track_caller]
fn grade_isolated(suite: &str, only: &str, command: &[&str]) -> Option<Graded> {
    let mut args = strings(&[
        "grade",
        suite,
        "--isolate=on",
        "--format",
        "json",
        "--only",
        only,
        "--",
    ]);
    args.extend(strings(command));
    let graded = sockspec_in(&submissions_dir(), &args, LIMIT);
    if graded.code == 2 && graded.stderr.contains("--isolate=on") && !root() {
        eprintln!(
            "no network namespace for this user here; not tested: {}",
            graded.stderr
        );
        return None;
    }
    Some(graded)
}

#[track_caller]
fn assert_all_pass(graded: &Graded) {
    assert_eq!(
        graded.code,
        0,
        "{}: {:?}\n{}",
        graded.command,
        graded.not_passed(),
        graded.stderr
    );
    assert!(graded.not_passed().is_empty(), "{:?}", graded.not_passed());
}

/// The `address_ignored` of every check: what the program used instead of what it was given.
fn used_addresses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            let a = &c["address_ignored"];
            (
                a["action"].as_str().unwrap_or("(none)").to_string(),
                a["used"].as_str().unwrap_or("(none)").to_string(),
            )
        })
        .collect()
}

#[test]
fn two_grades_at_once_of_a_hard_coded_port_server_both_pass() {
    let run = || {
        grade_isolated(
            "echo-server",
            "echo-server/basic/*",
            &["python3", "isolation/fixed_port_server.py"],
        )
    };
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(run);
        let second = s.spawn(run);
        (first.join().unwrap(), second.join().unwrap())
    });
    let (Some(first), Some(second)) = (first, second) else {
        return;
    };
    for graded in [&first, &second] {
        assert_all_pass(graded);
        let report = graded.json();
        assert_eq!(report["isolation"]["network"], "namespace", "{report}");
        for (action, used) in used_addresses(&report) {
            assert_eq!(
                (action.as_str(), used.as_str()),
                ("listened", "127.0.0.1:8888") // fixed-port-ok: text, never bound
            );
        }
    }
}

#[test]
fn clients_that_hard_code_their_server_are_graded_and_the_report_names_the_address() {
    // One check each is enough here: the fixture tests grade these programs with the whole suite.
    for (program, dialled) in [
        ("isolation/client_fixed_8888.py", "127.0.0.1:8888"), // fixed-port-ok: text, never bound
        ("isolation/client_lesson_host.py", "192.168.1.100:54321"),
    ] {
        let Some(graded) = grade_isolated(
            "echo-client",
            "echo-client/basic/ascii",
            &["python3", program],
        ) else {
            return;
        };
        let report = graded.json();
        if !root() && report["isolation"]["any_port"] != true {
            eprintln!(
                "no BPF steering for this user: a hard-coded port cannot be caught; not tested"
            );
            return;
        }
        assert_all_pass(&graded);
        for (action, used) in used_addresses(&report) {
            assert_eq!(
                (action.as_str(), used.as_str()),
                ("connected", dialled),
                "{program}"
            );
        }
        let notes = report["notes"].as_array().expect("notes");
        assert!(
            notes.iter().any(|n| n
                .as_str()
                .is_some_and(|n| n.contains(&format!("it connected to {dialled}")))),
            "{program}: {notes:?}"
        );
    }
}

#[test]
fn a_sender_that_hard_codes_its_destination_is_graded_and_the_report_names_it() {
    let Some(graded) = grade_isolated(
        "udp-sender",
        "udp-sender/basic/several",
        &["python3", "isolation/udp_sender_fixed.py"],
    ) else {
        return;
    };
    let report = graded.json();
    if !root() && report["isolation"]["any_port"] != true {
        eprintln!("no BPF steering for this user: a hard-coded port cannot be caught; not tested");
        return;
    }
    assert_all_pass(&graded);
    let sent: Vec<String> = used_addresses(&report)
        .into_iter()
        .filter(|(action, _)| action == "sent")
        .map(|(_, used)| used)
        .collect();
    assert_eq!(sent.len(), 1, "{report}");
    assert!(sent.iter().all(|u| u == "192.168.1.100:9999"), "{sent:?}");
}

#[test]
fn a_program_in_its_namespace_sees_only_loopback() {
    let Some(graded) = grade_isolated(
        "echo-server",
        "echo-server/basic/ascii",
        &["python3", "isolation/shows_network.py", "{port}"],
    ) else {
        return;
    };
    assert_all_pass(&graded);
    let report = graded.json();
    let printed = report["checks"][0]["stdout_tail"].as_str().expect("stdout");
    let line = |key: &str| {
        printed
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} line in {printed:?}"))
            .trim()
            .to_string()
    };
    assert_eq!(line("interfaces:"), "lo", "{printed}");
    assert_eq!(line("if_nameindex:"), "lo", "{printed}");
    // The main routing table is empty: the only routes are lo's own and the local AnyIP route, which
    // keep every packet on this machine.
    assert_eq!(line("routes:"), "(none)", "{printed}");
}

#[test]
fn root_gets_full_isolation_and_an_ordinary_user_gets_what_the_system_allows() {
    // As root the run must be fully isolated; as an ordinary user (a hard-coded-port server, run as
    // nobody) it runs in a namespace of a user namespace of its own, without BPF steering.
    let program = env!("CARGO_BIN_EXE_sockspec");
    let args = strings(&[
        "grade",
        "echo-server",
        "--only",
        "echo-server/basic/ascii",
        "--format",
        "json",
        "--",
        "sh",
        "-c",
        "exec \"$0\" serve echo --mode concurrent --port 8888",
        program,
        "{port}",
    ]);
    if !root() {
        eprintln!("not root: cannot compare root with an ordinary user; not tested");
        return;
    }
    let graded = sockspec_in(&submissions_dir(), &args, LIMIT);
    assert_all_pass(&graded);
    let isolation = &graded.json()["isolation"];
    assert_eq!(isolation["network"], "namespace", "{isolation}");
    assert_eq!(isolation["any_port"], true, "{isolation}");
    assert!(isolation.get("limitation").is_none(), "{isolation}");

    let graded = sockspec_with(&submissions_dir(), &args, LIMIT, as_nobody);
    let report = graded.json();
    let isolation = &report["isolation"];
    if isolation["network"] != "namespace" {
        eprintln!("unprivileged user namespaces are not allowed here: {isolation}");
        return;
    }
    assert_all_pass(&graded);
    assert_eq!(isolation["any_address"], true, "{isolation}");
    assert_eq!(isolation["any_port"], false, "{isolation}");
    assert!(
        isolation["limitation"]
            .as_str()
            .is_some_and(|l| l.contains("BPF")),
        "{isolation}"
    );
    assert_eq!(
        report["limits"]["processes_enforced_by"], "rlimit",
        "{report}"
    );
}

#[test]
fn without_namespaces_on_refuses_and_auto_falls_back_saying_so() {
    let args = |isolate: &str, format: &str| {
        strings(&[
            "grade",
            "echo-server",
            isolate,
            "--only",
            "echo-server/basic/ascii",
            "--format",
            format,
            "--",
            "python3",
            "echo/threaded.py",
            "{port}",
        ])
    };
    let dir = submissions_dir();
    let refused = sockspec_with(
        &dir,
        &args("--isolate=on", "json"),
        LIMIT,
        forbid_namespaces,
    );
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    let lines: Vec<&str> = refused.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {}", refused.stderr);
    assert!(
        lines[0].contains("--isolate=on") && lines[0].contains("namespace"),
        "{}",
        lines[0]
    );
    assert!(refused.stdout.is_empty(), "no report: {}", refused.stdout);

    let fallback = sockspec_with(
        &dir,
        &args("--isolate=auto", "json"),
        LIMIT,
        forbid_namespaces,
    );
    assert_all_pass(&fallback);
    let report = fallback.json();
    assert_eq!(report["isolation"]["network"], "shared", "{report}");
    assert_eq!(report["isolation"]["requested"], "auto", "{report}");
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        notes.iter().filter(|n| n.contains("shared")).count(),
        1,
        "{notes:?}"
    );
    let human = sockspec_with(
        &dir,
        &args("--isolate=auto", "human"),
        LIMIT,
        forbid_namespaces,
    );
    assert_eq!(
        human
            .stdout
            .lines()
            .filter(|l| l.starts_with("note: ") && l.contains("loopback"))
            .count(),
        1,
        "{}",
        human.stdout
    );
}

#[test]
fn a_fork_bomb_gets_the_limit_verdict_naming_the_limit() {
    let graded = sockspec_in(
        &submissions_dir(),
        &strings(&[
            "grade",
            "echo-server",
            "--only",
            "echo-server/basic/ascii",
            "--timeout-scale",
            "0.6",
            "--format",
            "json",
            "--",
            "python3",
            "isolation/fork_bomb.py",
            "{port}",
        ]),
        LIMIT,
    );
    let report = graded.json();
    let enforced = &report["limits"]["processes_enforced_by"];
    if !root() && enforced == "none" {
        eprintln!("the process limit cannot be enforced here; not tested");
        return;
    }
    assert_eq!(
        enforced, "pids-cgroup",
        "as root the pids cgroup must cap processes"
    );
    let check = &report["checks"][0];
    assert_eq!(check["outcome"], "limit", "{check}");
    let message = check["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the program exceeded the process limit of 128 (the kernel refused "),
        "{message}"
    );
    assert_eq!(graded.code, 1);
    assert_eq!(report["summary"]["limit"], 1);
}
