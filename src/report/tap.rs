//! TAP version 14 (the Test Anything Protocol).
//!
//! One grade: a plan and one test point per check. A class: one commented subtest per student and
//! assignment (`# Subtest: student/assignment`, 4-space indented), closed by its correlated test point.
//! A required check that did not pass is `not ok` with a YAML diagnostic block (message, severity, outcome,
//! evidence, replay); a check above the required level that did not pass is `not ok ... # TODO`, which TAP
//! harnesses do not count as a failure. Descriptions escape `\` and `#`; YAML values are double-quoted
//! scalars (JSON strings, which YAML 1.2 reads as they are).

use std::fmt::Write as _;

use super::{
    cause_of, entry_name, outcome_word, report_warnings, summary_line, trustworthy, wire_lines,
};
use crate::grade::verdict::{CheckReport, Outcome};
use crate::grade::GradeReport;
use crate::results::class::Class;
use crate::results::Stored;

pub fn tap(class: &Class) -> String {
    let mut out = String::from("TAP version 14\n");
    if class.is_lone() {
        if let Stored::Graded(report) = &class.students[0].results[0] {
            checks(&mut out, "", report);
            return out;
        }
    }
    let entries = class.students.len() * class.assignments.len();
    let _ = writeln!(out, "1..{entries}");
    let mut n = 0;
    for student in &class.students {
        for (a, result) in student.results.iter().enumerate() {
            n += 1;
            let name = entry_name(&student.id, &class.assignments[a].name);
            match result {
                Stored::Graded(report) => {
                    let _ = writeln!(out, "# Subtest: {}", one_line(&name));
                    checks(&mut out, "    ", report);
                    let ok = report.summary.success && trustworthy(report);
                    let _ = writeln!(out, "{}ok {n} - {}", not(ok), description(&name));
                    let mut block = vec![("message", summary_line(report))];
                    let warnings = report_warnings(report);
                    if !warnings.is_empty() {
                        block.push(("warnings", warnings.join("\n")));
                    }
                    yaml(&mut out, "", &block);
                }
                Stored::Missing => {
                    let _ = writeln!(out, "not ok {n} - {}", description(&name));
                    yaml(
                        &mut out,
                        "",
                        &[("message", "not graded yet: no stored result".to_string())],
                    );
                }
                Stored::Unreadable(why) => {
                    let _ = writeln!(out, "not ok {n} - {}", description(&name));
                    yaml(&mut out, "", &[("message", why.clone())]);
                }
            }
        }
    }
    out
}

/// The plan and test points of one report, each line after `indent`.
fn checks(out: &mut String, indent: &str, report: &GradeReport) {
    if report.checks.is_empty() {
        let _ = writeln!(out, "{indent}1..0 # no check ran");
        return;
    }
    let _ = writeln!(out, "{indent}1..{}", report.checks.len());
    for warning in report_warnings(report) {
        let _ = writeln!(out, "{indent}# {}", one_line(&warning));
    }
    for (n, check) in report.checks.iter().enumerate() {
        let passed = check.outcome == Outcome::Pass;
        let directive = if !passed && !check.required {
            format!(
                " # TODO information only: {} is above the required level {}",
                check.level, report.required_level
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{indent}{}ok {} - {}{directive}",
            not(passed),
            n + 1,
            description(&check.id)
        );
        if !passed {
            yaml(out, indent, &diagnostics(report, check));
        }
    }
}

fn diagnostics(report: &GradeReport, check: &CheckReport) -> Vec<(&'static str, String)> {
    let severity = if check.harness_fault {
        "grader-fault"
    } else if check.required {
        "fail"
    } else {
        "todo"
    };
    let mut block = vec![
        (
            "message",
            format!("{}: {}", outcome_word(check.outcome), check.message),
        ),
        ("severity", severity.to_string()),
        ("outcome", check.outcome.as_str().to_string()),
        ("requirement", check.requirement.clone()),
    ];
    if let Some(cause) = cause_of(report, check) {
        block.push(("cause", cause.summary.clone()));
    }
    for (key, evidence) in [
        ("input", &check.input),
        ("expected", &check.expected),
        ("actual", &check.actual),
    ] {
        if let Some(e) = evidence {
            block.push((key, e.text.clone()));
        }
    }
    if let Some(exit) = &check.exit {
        block.push(("program", exit.clone()));
    }
    if let Some(replay) = &check.replay {
        block.push(("replay", replay.clone()));
    }
    let wire = wire_lines(check);
    if !wire.is_empty() {
        block.push(("wire", wire.join("\n")));
    }
    block
}

/// A YAML diagnostic block: 2 spaces past the test point's indent, every value a double-quoted scalar.
fn yaml(out: &mut String, indent: &str, pairs: &[(&str, String)]) {
    let _ = writeln!(out, "{indent}  ---");
    for (key, value) in pairs {
        let quoted = serde_json::to_string(value).expect("a string serializes");
        let _ = writeln!(out, "{indent}  {key}: {quoted}");
    }
    let _ = writeln!(out, "{indent}  ...");
}

fn not(passed: bool) -> &'static str {
    if passed {
        ""
    } else {
        "not "
    }
}

/// A test point description: on one line, `\` and `#` escaped as TAP 14 says.
fn description(text: &str) -> String {
    one_line(text).replace('\\', "\\\\").replace('#', "\\#")
}

/// Line breaks and other control characters become spaces: a TAP line is one line.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_escape_what_tap_reads_as_directives() {
        assert_eq!(description("a#b\\c\nd"), "a\\#b\\\\c d");
    }
}
