//! `suite check`, `suite show` and `suite schema`, and the JSON Schema of suite files: the checked-in
//! schema is the generated one, and every suite file under fixtures/ validates against it.

use std::path::{Path, PathBuf};

use super::util::run;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const SCHEMA_FILE: &str = "schema/suite.schema.json";

/// Every suite file shipped: the built-in ones and the teachers' examples.
fn suite_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["fixtures/suites", "fixtures/suites-teacher"] {
        let entries = std::fs::read_dir(repo().join(dir)).expect("the suite directory exists");
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 10, "too few suite files: {files:?}");
    files
}

fn schema() -> serde_json::Value {
    let text =
        std::fs::read_to_string(repo().join(SCHEMA_FILE)).expect("the schema file is readable");
    serde_json::from_str(&text).expect("the schema file is JSON")
}

/// A suite file as the JSON value an editor validates against the schema.
fn as_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the suite file is readable");
    let value: toml::Value =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::to_value(value).expect("TOML without dates is JSON")
}

#[test]
fn the_checked_in_schema_is_the_generated_one() {
    let generated = run(&["suite", "schema"], b"");
    generated.assert_success();
    let checked_in = std::fs::read_to_string(repo().join(SCHEMA_FILE)).unwrap_or_default();
    assert!(
        generated.stdout() == checked_in,
        "{SCHEMA_FILE} differs from the schema the suite types give: regenerate it with\n  \
         cargo run -- suite schema > {SCHEMA_FILE}"
    );
}

#[test]
fn every_suite_file_names_the_schema_and_validates_against_it() {
    let validator =
        jsonschema::validator_for(&schema()).expect("the schema is a valid JSON Schema");
    for path in suite_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or_default();
        let named = first.strip_prefix("#:schema ").unwrap_or_else(|| {
            panic!("{}: the first line must be `#:schema PATH`", path.display())
        });
        let target = path.parent().unwrap().join(named);
        assert!(
            target.canonicalize().ok() == repo().join(SCHEMA_FILE).canonicalize().ok(),
            "{}: #:schema {named} is not {SCHEMA_FILE}",
            path.display()
        );
        let errors: Vec<String> = validator
            .iter_errors(&as_json(&path))
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
}

#[test]
fn the_schema_rejects_what_the_grader_rejects() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let calculator = repo().join("fixtures/suites-teacher/calculator.toml");
    let mut suite = as_json(&calculator);
    assert!(validator.is_valid(&suite));
    // A step that does two things, a check with a misspelled field, an unknown check kind.
    suite["check"][0]["run"]["steps"][1]["expect"] = "5\n".into();
    assert!(!validator.is_valid(&suite), "a step with two actions");
    let mut suite = as_json(&calculator);
    suite["check"][0]["pionts"] = 2.into();
    assert!(!validator.is_valid(&suite), "an unknown field");
    let mut suite = as_json(&calculator);
    suite["check"][0]["run"]["kind"] = "scripted".into();
    assert!(!validator.is_valid(&suite), "an unknown kind");
}

#[test]
fn suite_check_summarises_a_valid_file() {
    let checked = run(
        &["suite", "check", "fixtures/suites-teacher/calculator.toml"],
        b"",
    );
    checked.assert_success();
    // The binary runs in the crate's directory (cargo test sets it), so the relative path is found.
    assert_eq!(
        checked.stdout(),
        "fixtures/suites-teacher/calculator.toml: valid suite \"calculator\": a TCP server launched as \
         `COMMAND {port}`\n  12 checks: basic 5 (required), sequential 1, concurrent 1, robust 5\n  \
         14 points (7 in required checks); 1 check(s) for information only (counts = false)\n",
        "{}",
        checked.describe()
    );
}

/// The line (from 1) of the first line of `text` holding `needle`.
fn line_of(text: &str, needle: &str) -> String {
    let n = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in the suite"));
    format!("at line {}:", n + 1)
}

#[test]
fn suite_check_gives_the_line_and_field_grade_gives() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let text = std::fs::read_to_string(repo().join("fixtures/suites-teacher/my-echo.toml"))?;
    let typo = text.replacen("points = 3", "pionts = 3", 1);
    let misfit = text.replacen(
        "kind = \"survive-close\", how = \"close\"",
        "kind = \"client-lines\", lines = []",
        1,
    );
    let two_actions = text.replacen(
        "run = { kind = \"exchange\", messages = [\"你好，服务器\"] }",
        "run = { kind = \"script\", steps = [{ connect = \"a\", send = \"x\" }] }",
        1,
    );
    let cases = [
        // A misspelled field, found by the TOML reader: its line.
        (line_of(&typo, "pionts"), typo, "unknown field `pionts`"),
        // A check of a kind that does not fit the program, found after reading: the line of its id.
        (
            line_of(&misfit, "id = \"my-echo/basic/client-close\""),
            misfit,
            "does not apply",
        ),
        // A script step that does two things: the line of its check's `run`.
        (
            line_of(&two_actions, "kind = \"script\""),
            two_actions,
            "this one has connect and send",
        ),
    ];
    for (i, (at, bad, what)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&path, bad)?;
        let path = path.to_str().unwrap();
        run(&["suite", "check", path], b"")
            .assert_error(sockspec::exit::INVALID_SUITE, &[path, at, what]);
        // `grade` says the same, as a usage error.
        run(&["grade", path, "--", "true"], b"").assert_error(2, &[path, at, what]);
    }
    let missing = dir.path().join("missing.toml");
    run(&["suite", "check", missing.to_str().unwrap()], b"").assert_error(4, &["missing.toml"]);
    Ok(())
}

#[test]
fn suite_show_prints_a_builtin_suite_verbatim() {
    let shown = run(&["suite", "show", "echo-server"], b"");
    shown.assert_success();
    let file = std::fs::read_to_string(repo().join("fixtures/suites/echo-server.toml")).unwrap();
    assert!(shown.stdout() == file, "{}", shown.describe());
    run(&["suite", "show", "echo-sever"], b"").assert_error(
        2,
        &[
            "no built-in suite named \"echo-sever\"",
            "echo-server, echo-client",
        ],
    );
}
