//! `sockspec grade` from the command line: listing, usage errors, exit codes, report formats, replay.

use std::time::Duration;

use super::util::{sockspec_in, strings, submissions_dir};

/// Generous: the property checks shrink, and the machine may be loaded (the fixtures allow 300 s too).
const LIMIT: Duration = Duration::from_secs(300);

fn run(args: &[&str]) -> super::util::Graded {
    sockspec_in(&submissions_dir(), &strings(args), LIMIT)
}

#[track_caller]
fn assert_usage_error(args: &[&str], says: &str) {
    let graded = run(args);
    assert_eq!(graded.code, 2, "{}: {}", graded.command, graded.stderr);
    let lines: Vec<&str> = graded.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error, got: {}", graded.stderr);
    assert!(
        lines[0].contains(says),
        "{:?} does not say {says:?}",
        lines[0]
    );
}

#[test]
fn list_prints_every_check_of_a_suite_with_its_points() {
    let graded = run(&["grade", "--list", "echo-server"]);
    assert_eq!(graded.code, 0, "{}", graded.stderr);
    for id in [
        "echo-server/basic/ascii",
        "echo-server/concurrent/idle-first-client",
        "echo-server/robust/client-reset",
    ] {
        assert!(
            graded.stdout.contains(id),
            "{id} missing from:\n{}",
            graded.stdout
        );
    }
    assert!(
        graded.stdout.contains("COMMAND {port}"),
        "{}",
        graded.stdout
    );
}

#[test]
fn usage_errors_are_one_line_with_exit_code_2() {
    assert_usage_error(&["grade", "echo-sever", "--", "true"], "no suite named");
    assert_usage_error(&["grade", "echo-server"], "no program to grade");
    assert_usage_error(
        &["grade", "echo-server", "--", "x", "{prot}"],
        "unknown placeholder {prot}",
    );
    assert_usage_error(
        &["grade", "echo-server", "--", "x", "{out}"],
        "gives no {out}",
    );
    assert_usage_error(
        &["grade", "echo-server", "--only", "nothing/*", "--", "true"],
        "no check",
    );
    // An interpreter that is not installed fails for every submission: the command's fault.
    assert_usage_error(
        &[
            "grade",
            "echo-server",
            "--",
            "no-such-interpreter-3",
            "{port}",
        ],
        "cannot launch `no-such-interpreter-3`: no such program on PATH",
    );
}

#[test]
fn a_broken_suite_file_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(
        &path,
        "name = \"mine\"\nprogram = \"tcp-server\"\nbogus = 1\n",
    )
    .unwrap();
    assert_usage_error(
        &["grade", path.to_str().unwrap(), "--", "true"],
        "mine.toml",
    );
}

#[test]
fn every_format_reports_the_same_run() {
    let base = [
        "grade",
        "echo-server",
        "--only",
        "echo-server/basic/ascii",
        "--only",
        "echo-server/basic/chinese",
        "--seed",
        "5",
    ];
    let with = |format: &str| {
        let mut args = base.to_vec();
        args.extend([
            "--format",
            format,
            "--",
            "python3",
            "echo/wrong_prefix.py",
            "{port}",
        ]);
        run(&args)
    };
    let human = with("human");
    assert_eq!(human.code, 1, "a required check failed: {}", human.stderr);
    assert!(
        human.stdout.contains("✗ echo-server/basic/ascii FAIL"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("expected: \"ECHO：hello\""),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("replay:  sockspec grade echo-server --seed 5"),
        "{}",
        human.stdout
    );
    assert!(
        !human.stdout.contains('\x1b'),
        "no colour when not on a terminal"
    );

    let json = with("json").json();
    assert_eq!(json["checks"].as_array().unwrap().len(), 2);
    assert_eq!(json["checks"][0]["outcome"], "fail");
    assert_eq!(json["checks"][0]["expected"]["text"], "ECHO：hello");
    assert_eq!(json["seed"], 5);

    let junit = with("junit");
    assert!(junit.stdout.starts_with("<?xml"), "{}", junit.stdout);
    assert_eq!(junit.stdout.matches("<testcase ").count(), 2);
    assert_eq!(junit.stdout.matches("<failure ").count(), 2);

    let gradescope: serde_json::Value = serde_json::from_str(&with("gradescope").stdout).unwrap();
    assert_eq!(gradescope["score"], 0.0);
    assert_eq!(gradescope["tests"][0]["max_score"], 2.0);
    assert_eq!(gradescope["tests"][0]["status"], "failed");
}

#[test]
fn the_same_seed_shrinks_to_the_same_minimal_input() {
    let args = [
        "grade",
        "file-receiver",
        "--only",
        "file-receiver/basic/property",
        "--seed",
        "99",
        "--format",
        "json",
        "--",
        "python3",
        "file/receiver_text_mode.py",
    ];
    let first = run(&args).json();
    let again = run(&args).json();
    let check = &first["checks"][0];
    assert_ne!(
        check["outcome"], "pass",
        "text-mode writing must fail on binary data"
    );
    assert!(check["seed"].is_u64(), "a property check reports its seed");
    assert_eq!(
        check["input"], again["checks"][0]["input"],
        "replay gave another input"
    );
    // Shrinking leaves a tiny file, not the kilobytes first generated.
    let len = check["input"]["len"].as_u64().unwrap();
    assert!(len <= 4, "minimal input is {len} bytes: {}", check["input"]);
}

/// The arguments of a replay line from a report (`sockspec grade ...`), split at spaces: the lines these
/// tests read quote nothing.
#[track_caller]
fn replay_args(line: &str) -> Vec<String> {
    assert!(!line.contains('\''), "quoted: {line}");
    let words: Vec<String> = line.split(' ').map(str::to_string).collect();
    assert_eq!(words[0], "sockspec", "{line}");
    words[1..].to_vec()
}

#[test]
fn a_check_replayed_alone_gets_the_inputs_it_had_in_the_run() {
    // --timeout-scale 3: shrinking must stop at its count of runs, not at the check's time budget, or
    // the two runs shrink as far as the machine's load lets them (at load 40 the budget ran out).
    let full = run(&[
        "grade",
        "echo-server",
        "--only",
        "echo-server/basic/*",
        "--seed",
        "5",
        "--timeout-scale",
        "3",
        "--format",
        "json",
        "--",
        "python3",
        "echo/wrong_prefix.py",
        "{port}",
    ])
    .json();
    let checks = full["checks"].as_array().unwrap();
    assert!(checks.len() > 1, "the run has other checks: {full}");
    let property = checks
        .iter()
        .find(|c| c["id"] == "echo-server/basic/property")
        .expect("the property check ran");
    assert_eq!(property["outcome"], "fail", "{property}");
    assert_eq!(
        property["seed"], 5,
        "the run's seed, the one to replay with"
    );
    let replay = property["replay"]
        .as_str()
        .expect("a failed check has a replay");
    assert_eq!(
        replay,
        "sockspec grade echo-server --seed 5 --timeout-scale 3 --only echo-server/basic/property \
         -- python3 echo/wrong_prefix.py {port}"
    );
    let mut args = replay_args(replay);
    args.splice(1..1, strings(&["--format", "json"]));
    let alone = sockspec_in(&submissions_dir(), &args, LIMIT).json();
    assert_eq!(alone["checks"].as_array().unwrap().len(), 1);
    let again = &alone["checks"][0];
    assert_eq!(again["outcome"], "fail", "{again}");
    assert_eq!(
        again["input"], property["input"],
        "another counterexample when replayed alone"
    );
}

#[test]
fn the_replay_line_keeps_every_setting_that_changes_verdicts() {
    let args = [
        "grade",
        "echo-server",
        "--seed",
        "3",
        "--level",
        "robust",
        "--prefix",
        "ECHO:",
        "--timeout-scale",
        "1.5",
        "--only",
        "echo-server/basic/a*",
        "--skip",
        "echo-server/basic/client-close",
        "--",
        "python3",
        "echo/strips_message.py",
        "{port}",
    ];
    let human = run(&args);
    assert_eq!(human.code, 1, "{}\n{}", human.stdout, human.stderr);
    let line = human
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("replay:  "))
        .unwrap_or_else(|| panic!("no replay line:\n{}", human.stdout));
    assert_eq!(
        line,
        "sockspec grade echo-server --seed 3 --level robust --prefix ECHO: --timeout-scale 1.5 \
         --only 'echo-server/basic/a*' --skip echo-server/basic/client-close \
         -- python3 echo/strips_message.py {port}"
    );

    let mut json_args = args.to_vec();
    json_args.splice(1..1, ["--format", "json"]);
    let json = run(&json_args).json();
    assert_eq!(json["prefix"], "ECHO:");
    assert_eq!(json["timeout_scale"], 1.5);
    assert_eq!(json["required_level"], "robust");
    assert_eq!(json["only"], serde_json::json!(["echo-server/basic/a*"]));
    assert_eq!(
        json["skip"],
        serde_json::json!(["echo-server/basic/client-close"])
    );
    assert_eq!(json["replay"], line);
}

#[test]
fn a_server_that_ignores_its_port_passes_with_a_note() {
    let with = |program: &str, format: &str| {
        run(&[
            "grade",
            "echo-server",
            "--only",
            "echo-server/basic/ascii",
            "--format",
            format,
            "--",
            "python3",
            program,
            "{port}",
        ])
    };
    let ignores = with("misbehaving/ignores_port.py", "human");
    assert_eq!(ignores.code, 0, "{}\n{}", ignores.stdout, ignores.stderr);
    let notes: Vec<&str> = ignores
        .stdout
        .lines()
        .filter(|l| l.starts_with("note: "))
        .collect();
    assert_eq!(notes.len(), 1, "{}", ignores.stdout);
    assert!(
        notes[0].contains("did not listen on the port it was given"),
        "{}",
        notes[0]
    );

    let json = with("misbehaving/ignores_port.py", "json").json();
    assert_eq!(json["notes"].as_array().map(Vec::len), Some(1), "{json}");
    let ignored = &json["checks"][0]["address_ignored"];
    assert_eq!(ignored["action"], "listened", "{ignored}");
    let given = ignored["given_port"].as_u64().expect("the given port");
    let listened: std::net::SocketAddr = ignored["used"].as_str().unwrap().parse().unwrap();
    assert_ne!(u64::from(listened.port()), given, "{ignored}");

    let correct = with("echo/threaded.py", "human");
    assert_eq!(correct.code, 0, "{}\n{}", correct.stdout, correct.stderr);
    assert!(!correct.stdout.contains("note:"), "{}", correct.stdout);
    let json = with("echo/threaded.py", "json").json();
    assert_eq!(json["notes"], serde_json::json!([]));
    assert!(json["checks"][0].get("address_ignored").is_none(), "{json}");
}

#[test]
fn a_report_file_that_cannot_be_written_stops_the_run_before_it_starts() {
    // `sleep` never listens: had the checks run, each would wait out its start deadline.
    let args = [
        "grade",
        "echo-server",
        "-o",
        "/nonexistent/dir/r.txt",
        "--",
        "sleep",
        "100",
    ];
    let graded = sockspec_in(&submissions_dir(), &strings(&args), Duration::from_secs(5));
    assert_eq!(graded.code, 2, "{}: {}", graded.command, graded.stderr);
    let lines: Vec<&str> = graded.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error, got: {}", graded.stderr);
    assert!(
        lines[0].contains("cannot write the report to /nonexistent/dir/r.txt"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_report_file_is_replaced_only_by_a_complete_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    std::fs::write(&path, "the last report\n").unwrap();
    let out = path.to_str().unwrap();
    let failed = run(&[
        "grade",
        "echo-server",
        "-o",
        out,
        "--",
        "no-such-interpreter-3",
    ]);
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "the last report\n");

    let graded = run(&[
        "grade",
        "echo-server",
        "--only",
        "echo-server/basic/ascii",
        "--format",
        "json",
        "-o",
        out,
        "--",
        "python3",
        "echo/threaded.py",
    ]);
    assert_eq!(graded.code, 0, "{}", graded.stderr);
    assert!(graded.stdout.is_empty(), "{}", graded.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(report["summary"]["success"], true);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");
}

#[test]
fn a_missing_submission_gets_a_valid_gradescope_report_with_score_0() {
    let graded = run(&[
        "grade",
        "echo-server",
        "--format",
        "gradescope",
        "--",
        "python3",
        "no_such_submission.py",
        "{port}",
    ]);
    assert_eq!(graded.code, 1, "{}", graded.stderr);
    let results: serde_json::Value = serde_json::from_str(&graded.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", graded.stdout, graded.stderr));
    assert_eq!(results["score"], 0.0);
    let tests = results["tests"].as_array().unwrap();
    assert!(tests.len() > 5, "every check is listed: {results}");
    for test in tests {
        assert_eq!(test["status"], "failed", "{test}");
        assert_eq!(test["score"], 0.0);
        assert!(test["max_score"].as_f64().unwrap() > 0.0);
        let output = test["output"].as_str().unwrap();
        assert!(
            output.contains(r"the program file no\_such\_submission.py does not exist"),
            "{output}"
        );
    }
    assert!(
        results["output"]
            .as_str()
            .unwrap()
            .contains("cannot be launched"),
        "{results}"
    );
}

#[test]
fn a_missing_program_file_is_reported_in_every_format_with_exit_1() {
    let args = |format: &'static str| {
        [
            "grade",
            "echo-server",
            "--only",
            "echo-server/basic/*",
            "--format",
            format,
            "--",
            "./build/a.out",
        ]
    };
    let json = run(&args("json"));
    assert_eq!(json.code, 1, "{}", json.stderr);
    let report = json.json();
    assert_eq!(
        report["cannot_launch"],
        "the program file build/a.out does not exist"
    );
    for check in report["checks"].as_array().unwrap() {
        assert_eq!(check["outcome"], "not-run", "{check}");
    }
    let junit = run(&args("junit"));
    assert_eq!(junit.code, 1, "{}", junit.stderr);
    assert_eq!(
        junit.stdout.matches("<testcase ").count(),
        junit
            .stdout
            .matches("<error message=\"NOT RUN: the program cannot be launched")
            .count(),
        "{}",
        junit.stdout
    );
    let human = run(&args("human"));
    assert_eq!(human.code, 1, "{}", human.stderr);
    assert!(
        human.stdout.contains(
            "note: the program cannot be launched: the program file build/a.out does not exist"
        ),
        "{}",
        human.stdout
    );
}
