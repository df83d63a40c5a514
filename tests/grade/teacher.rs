//! Teachers' own suites (fixtures/suites-teacher/): the calculator, written as scripted exchanges, gives
//! its fixture submissions exactly the verdicts of fixtures/submissions-teacher/manifest.toml.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fixtures::{grade_in, manifest_in};
use super::util::{sockspec_in, strings, submissions_dir};

fn teacher_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions-teacher")
}

macro_rules! teacher_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                grade_in(&teacher_dir(), $name);
            }
        )*

        #[test]
        fn every_teacher_manifest_entry_has_a_test() {
            let tested = [$($name),*];
            for sub in manifest_in(&teacher_dir()).submission {
                assert!(tested.contains(&sub.name.as_str()), "no test grades {}", sub.name);
            }
        }
    };
}

teacher_tests! {
    calculator_correct => "calculator/correct",
    calculator_wrong_answer => "calculator/wrong_answer",
    calculator_no_newline => "calculator/no_newline",
    calculator_one_request => "calculator/one_request",
    calculator_crash_on_bad => "calculator/crash_on_bad",
}

/// The teacher's variant of echo-server in docs/suites.md (fixtures/suites-teacher/my-echo.toml): its
/// prefix, messages, points and information-only check reach the grade.
#[test]
fn the_documented_variant_grades_with_its_own_prefix_and_points() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/suites-teacher/my-echo.toml");
    let suite = suite.to_str().unwrap();
    let grade = |program: &[&str]| {
        let mut args = strings(&["grade", suite, "--format", "json", "--seed", "7", "--"]);
        args.extend(strings(program));
        sockspec_in(&submissions_dir(), &args, Duration::from_secs(300))
    };
    // The reference server answering with the class's prefix passes every check.
    let peer = env!("CARGO_BIN_EXE_sockspec");
    let graded = grade(&[
        peer,
        "serve",
        "echo",
        "--port",
        "{port}",
        "--prefix",
        "回声：",
    ]);
    assert!(
        graded.not_passed().is_empty(),
        "{:?}\n{}",
        graded.not_passed(),
        graded.stderr
    );
    let report = graded.json();
    assert_eq!(report["prefix"], "回声：");
    // 3 + 3 + 2 + 1 + 1: the fifty-clients check (counts = false) shows its point and adds none.
    assert_eq!(report["summary"]["max_points"], 10.0);
    let fifty = &report["checks"][4];
    assert_eq!(
        (fifty["id"].as_str(), fifty["counts"].as_bool()),
        (Some("my-echo/concurrent/fifty-clients"), Some(false))
    );
    assert_eq!(report["checks"][5]["visibility"], "after_due_date");
    // The lesson's server answers ECHO：, which this suite does not accept.
    let graded = grade(&["python3", "echo/threaded.py", "{port}"]);
    let report = graded.json();
    let greeting = &report["checks"][0];
    assert_eq!(greeting["outcome"], "fail", "{greeting}");
    assert_eq!(greeting["expected"]["text"], "回声：你好，服务器");
    assert_eq!(graded.code, 1);
}

/// A suite of two scripted checks against the reference echo server: one uses every step the calculator
/// does not (bytes with escapes, a length, a pause, a named second client, a reset), the other fails at
/// its third step, which the report names with expected and actual.
const SCRIPTED_ECHO: &str = r#"
name = "scripted-echo"
description = "The reference echo server, driven by scripts."
program = "tcp-server"
args = ["{port}"]
required_level = "basic"

[deadlines]
start_ms = 10000
reply_ms = 5000

[[check]]
id = "scripted-echo/basic/every-step"
level = "basic"
points = 1
requirement = "Replies come to each client, in bytes and lengths as scripted."
concept = "scripts"
[check.run]
kind = "script"
steps = [
  { connect = "alice" },
  { send_bytes = 'hi\n' },
  { expect_len = 10 },
  { pause_ms = 20 },
  { connect = "bob" },
  { expect_silence_ms = 100 },
  { close = "reset" },
  { send = "你好\n", client = "alice" },
  { expect_bytes = 'ECHO\xef\xbc\x9a\xe4\xbd\xa0\xe5\xa5\xbd\n', deadline_ms = 4000 },
  { close = "fin" },
]

[[check]]
id = "scripted-echo/basic/wrong-expectation"
level = "basic"
points = 1
requirement = "A script whose expectation the server does not meet fails at that step."
concept = "scripts"
[check.run]
kind = "script"
steps = [
  { connect = "client 1" },
  { send = "abc\n" },
  { expect = "ECHO：abd\n" },
]
"#;

#[test]
fn every_step_kind_plays_and_a_failure_names_its_step() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let suite = dir.path().join("scripted-echo.toml");
    std::fs::write(&suite, SCRIPTED_ECHO)?;
    let mut args = strings(&[
        "grade",
        suite.to_str().unwrap(),
        "--format",
        "json",
        "--lang",
        "zh",
        "--",
    ]);
    args.extend(strings(&[
        env!("CARGO_BIN_EXE_sockspec"),
        "serve",
        "echo",
        "--port",
        "{port}",
    ]));
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(300));
    let report = graded.json();
    let (every, wrong) = (&report["checks"][0], &report["checks"][1]);
    assert_eq!(every["outcome"], "pass", "{every}");
    assert_eq!(wrong["outcome"], "fail", "{wrong}");
    assert_eq!(
        wrong["message"],
        "step 3 of 3 (expect \"ECHO：abd\\n\"): client 1: the reply differs"
    );
    assert_eq!(
        wrong["localized"]["message"],
        "第 3 步（共 3 步，expect \"ECHO：abd\\n\"）：客户端 1：回复与期望的不一致"
    );
    assert_eq!(wrong["input"]["text"], "abc\\n");
    assert_eq!(wrong["expected"]["text"], "ECHO：abd\\n");
    assert_eq!(wrong["actual"]["text"], "ECHO：abc\\n");
    Ok(())
}
