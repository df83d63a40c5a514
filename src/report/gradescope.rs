//! Gradescope autograder results (`results.json`, per the Gradescope autograder specification): one test
//! per check, with a short name (`basic/ascii`; `echo/basic/ascii` when a student has several assignments),
//! its requirement and evidence as Markdown in `output`, its visibility and whether it counts from the
//! suite, and short tags (level, `required` or `info`).
//!
//! One student (the usual `run_autograder` case, or `sockspec grade`): that student's `results.json`. Several
//! students: an object of them keyed by student id, in the summary's order.

use serde::Serialize;

use super::markup::{md_code, md_text};
use super::{
    cause_of, outcome_word, report_warnings, results_of, stderr_lines, summary_line, trim_points,
    wire_lines,
};
use crate::grade::verdict::{CheckReport, Outcome};
use crate::grade::GradeReport;
use crate::results::class::{Class, Student};

#[derive(Serialize)]
struct Results {
    score: f64,
    /// Whole seconds, rounded up.
    execution_time: u64,
    output: String,
    output_format: &'static str,
    visibility: &'static str,
    stdout_visibility: &'static str,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    name_format: &'static str,
    number: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
    output_format: &'static str,
    tags: Vec<String>,
    visibility: &'static str,
}

pub fn gradescope(class: &Class) -> String {
    let results: Vec<(&str, Results)> = class
        .students
        .iter()
        .map(|s| (s.id.as_str(), results(class, s)))
        .collect();
    let mut text = if let [(_, only)] = results.as_slice() {
        serde_json::to_string_pretty(only)
    } else {
        serde_json::to_string_pretty(&Keyed(&results))
    }
    .expect("results serialize to JSON");
    text.push('\n');
    text
}

/// A JSON object of `(key, value)` pairs in their given order.
pub(crate) struct Keyed<'a, T>(pub &'a [(&'a str, T)]);

impl<T: Serialize> Serialize for Keyed<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

fn results(class: &Class, student: &Student) -> Results {
    let several = class.assignments.len() > 1;
    let mut tests = Vec::new();
    let mut output = Vec::new();
    let (mut score, mut seconds) = (0.0, 0.0);
    for (a, (assignment, result)) in results_of(class, student).enumerate() {
        let lead = if several {
            format!("**{}**: ", md_text(assignment))
        } else {
            String::new()
        };
        let report = match result {
            Ok(report) => report,
            Err(why) => {
                output.push(format!("{lead}{} (0 points)", md_text(why)));
                continue;
            }
        };
        score += report.summary.points;
        seconds += report.duration_secs;
        for line in report_warnings(report) {
            output.push(format!("{lead}**{}**", md_text(&line)));
        }
        output.push(format!("{lead}{}", md_text(&summary_line(report))));
        for note in &report.notes {
            output.push(format!("{lead}note: {}", md_text(note)));
        }
        for (n, check) in report.checks.iter().enumerate() {
            let short = check
                .id
                .strip_prefix(&format!("{}/", report.suite))
                .unwrap_or(&check.id);
            let name = if several {
                format!("{assignment}/{short}")
            } else {
                short.to_string()
            };
            tests.push(Test {
                name,
                name_format: "text",
                number: format!("{}.{}", a + 1, n + 1),
                score: if check.counts {
                    check.points_earned
                } else {
                    0.0
                },
                max_score: if check.counts { check.points } else { 0.0 },
                status: if check.outcome == Outcome::Pass {
                    "passed"
                } else {
                    "failed"
                },
                output: test_output(report, check),
                output_format: "md",
                tags: vec![
                    check.level.to_string(),
                    if check.required { "required" } else { "info" }.to_string(),
                ],
                visibility: check.visibility.as_str(),
            });
        }
    }
    Results {
        score,
        execution_time: seconds.ceil() as u64,
        output: output.join("\n\n"),
        output_format: "md",
        visibility: "visible",
        stdout_visibility: "hidden",
        tests,
    }
}

/// A check as Markdown: verdict, requirement and concept, then the evidence in code blocks (verbatim,
/// whatever the program printed).
fn test_output(report: &GradeReport, check: &CheckReport) -> String {
    let role = if check.required {
        "required"
    } else {
        "information only"
    };
    let points = if check.counts {
        format!(
            "{}/{} points",
            trim_points(check.points_earned),
            trim_points(check.points)
        )
    } else {
        "does not count".to_string()
    };
    let mut out = format!(
        "**{}** · {role} ({}) · {points}\n\n**Requirement:** {}\n\n**Concept:** {}\n",
        outcome_word(check.outcome),
        check.level,
        md_text(&check.requirement),
        md_text(&check.concept)
    );
    if check.outcome == Outcome::Pass {
        return out;
    }
    out.push_str(&format!("\n**Why:** {}\n", md_text(&check.message)));
    let cause = cause_of(report, check);
    if let Some(cause) = cause {
        out.push_str(&format!("\n**Cause:** {}\n", md_text(&cause.summary)));
        if let Some(detail) = &cause.detail {
            out.push_str(&md_code(detail));
        }
    }
    for (label, evidence) in [
        ("Input (the smallest failing one found)", &check.input),
        ("Expected", &check.expected),
        ("Actual", &check.actual),
    ] {
        if let Some(e) = evidence {
            out.push_str(&format!("\n{label}:\n{}", md_code(&e.text)));
            if let Some(hex) = &e.hex {
                out.push_str(&md_code(hex));
            }
        }
    }
    if let Some(exit) = &check.exit {
        out.push_str(&format!("\nProgram: {}\n", md_text(exit)));
    }
    if let Some(replay) = &check.replay {
        out.push_str(&format!("\nReplay:\n{}", md_code(replay)));
    }
    let wire = wire_lines(check);
    if !wire.is_empty() {
        out.push_str(&format!("\nWire:\n{}", md_code(&wire.join("\n"))));
    }
    // A traceback shown as the cause's detail is not repeated.
    let stderr = stderr_lines(check);
    if !stderr.is_empty() && cause.is_none_or(|c| c.detail.is_none()) {
        out.push_str(&format!(
            "\nStandard error (last lines):\n{}",
            md_code(&stderr.join("\n"))
        ));
    }
    out
}
