//! Gradescope autograder results (`results.json`): one test per check, scored by the suite's points.

use serde::Serialize;

use super::{details, incomplete_line, outcome_word, summary_line, Shown};
use crate::grade::verdict::Outcome;
use crate::grade::GradeReport;

#[derive(Serialize)]
struct Results<'a> {
    score: f64,
    execution_time: f64,
    output: String,
    visibility: &'a str,
    stdout_visibility: &'a str,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    number: String,
    score: f64,
    max_score: f64,
    status: &'static str,
    output: String,
    tags: Vec<String>,
    visibility: &'static str,
}

pub fn gradescope(report: &GradeReport) -> String {
    let tests = report
        .checks
        .iter()
        .enumerate()
        .map(|(n, check)| Test {
            name: format!("{} — {}", check.id, check.requirement),
            number: format!("{}", n + 1),
            score: check.points_earned,
            max_score: check.points,
            status: if check.outcome == Outcome::Pass {
                "passed"
            } else {
                "failed"
            },
            output: if check.outcome == Outcome::Pass {
                String::new()
            } else {
                format!(
                    "{}\n{}",
                    outcome_word(check.outcome),
                    details(check, Shown::all(report, check))
                )
            },
            tags: vec![check.level.to_string(), check.concept.clone()],
            visibility: "visible",
        })
        .collect();
    let results = Results {
        score: report.summary.points,
        execution_time: report.duration_secs,
        output: format!(
            "{}{}\nseed {} · {}{}",
            summary_line(report),
            incomplete_line(report)
                .map(|line| format!("\n{line}"))
                .unwrap_or_default(),
            report.seed,
            report.command,
            report
                .notes
                .iter()
                .map(|note| format!("\nnote: {note}"))
                .collect::<String>()
        ),
        visibility: "visible",
        stdout_visibility: "hidden",
        tests,
    };
    let mut text = serde_json::to_string_pretty(&results).expect("results serialize to JSON");
    text.push('\n');
    text
}
