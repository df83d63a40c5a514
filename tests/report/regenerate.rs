//! Makes `fixtures/reports/class/`: a small class graded for real (fixture submissions, fixed seeds) and
//! stored through the library's store, as `sockspec batch` will. Not a test: run it when reports change
//! shape, and commit what it writes:
//!
//!     cargo test --test report -- --ignored regenerate_class_fixture

use std::path::Path;

use clap::Parser;
use sockspec::cli::{Cli, Command};
use sockspec::grade::{self, suite::Suite};
use sockspec::results::{AssignmentInfo, AssignmentOptions, BatchInfo, ResultsDir};

use crate::util::fixture_class;

/// (assignment, suite, seed)
const ASSIGNMENTS: &[(&str, &str, u64)] = &[
    ("echo", "echo-server", 20_250_301),
    ("udp", "udp-receiver", 20_250_302),
];

/// (student, echo program, udp program): paths under fixtures/submissions; `None`: no file found.
const STUDENTS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("张伟", Some("echo/threaded.py"), Some("udp/receiver.py")),
    (
        "Li, Na",
        Some("echo/sequential.py"),
        Some("udp/receiver_prints_bytes.py"),
    ),
    (
        "王芳 \"Fang\"",
        Some("echo/wrong_prefix.py"),
        Some("udp/receiver.py"),
    ),
    (
        "s2",
        Some("echo/crash_on_close.py"),
        Some("udp/receiver_truncates.py"),
    ),
    ("s10", Some("echo/single.py"), None),
    (
        "陈静",
        Some("echo/strips_message.py"),
        Some("udp/receiver.py"),
    ),
];

#[test]
#[ignore = "regenerates fixtures/reports/class (grades for real: minutes); run by hand"]
fn regenerate_class_fixture() {
    let root = fixture_class();
    if root.exists() {
        std::fs::remove_dir_all(&root).expect("old fixture removed");
    }
    let mut students: Vec<String> = STUDENTS.iter().map(|(s, ..)| s.to_string()).collect();
    students.sort();
    let info = BatchInfo {
        format: sockspec::results::FORMAT,
        sockspec_version: env!("CARGO_PKG_VERSION").to_string(),
        class: "socket lesson demo".to_string(),
        assignments: ASSIGNMENTS
            .iter()
            .map(|(name, suite, seed)| AssignmentInfo {
                name: name.to_string(),
                suite: suite.to_string(),
                seed: *seed,
                options: AssignmentOptions::default(),
            })
            .collect(),
        students,
        shard: None,
    };
    let dir = ResultsDir::create(&root, &info).expect("fixture directory");
    for (student, echo, udp) in STUDENTS {
        for ((assignment, suite, seed), program) in ASSIGNMENTS.iter().zip([echo, udp]) {
            let report = match program {
                Some(path) => {
                    let path = Path::new("fixtures/submissions").join(path);
                    let config = config(suite, *seed, &["python3", path.to_str().unwrap()]);
                    grade::grade(&config, |_| {}).expect("the fixture grades")
                }
                None => {
                    // What the batch stores when a student's folder has no program for an assignment.
                    let would_be = format!("class/{student}/udp-receiver");
                    let config = config(suite, *seed, &[&would_be]);
                    grade::not_launched(
                        &config,
                        "no file matching *receiver* in the student's folder",
                    )
                    .expect("a report")
                }
            };
            dir.write_result(student, assignment, &report)
                .expect("stored");
            eprintln!(
                "{student}/{assignment}: {}",
                sockspec::report::summary_line(&report)
            );
        }
    }
}

/// A grading configuration exactly as `sockspec grade SUITE --seed SEED -- COMMAND` makes it.
fn config(suite: &str, seed: u64, command: &[&str]) -> grade::GradeConfig {
    let seed = seed.to_string();
    let mut argv = vec!["sockspec", "grade", suite, "--seed", &seed, "--"];
    argv.extend(command);
    let Command::Grade(args) = Cli::try_parse_from(argv).expect("grade flags").command else {
        unreachable!("parsed as grade")
    };
    args.config(Suite::load(suite).expect("built-in suite"))
        .expect("a configuration")
}
