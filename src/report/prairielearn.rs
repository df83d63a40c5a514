//! PrairieLearn external grader results (`/grade/results/results.json`, per PrairieLearn's "External
//! Grading" documentation): `score` from 0 to 1, `message`, `output`, and one test per check with
//! `points`/`max_points`/`message`/`output`.
//!
//! A program that could not be launched (a missing file), or a grade that did not finish or was spoiled by
//! a fault of the grader, is `gradable: false` with the reasons in `format_errors`: the student loses no
//! attempt and sees why. The file stays under PrairieLearn's 1 MB limit: outputs are cut (the cut said)
//! until it fits.
//!
//! One student (the usual case, or `sockspec grade`): that student's `results.json`. Several students: an
//! object of them keyed by student id.

use serde::Serialize;

use super::gradescope::Keyed;
use super::markup::capped;
use super::{
    details, entry_name, outcome_word, report_warnings, results_of, summary_line, trustworthy,
    Shown,
};
use crate::grade::verdict::Outcome;
use crate::results::class::{Class, Student};

/// PrairieLearn's limit on the whole file.
pub const MAX_BYTES: usize = 1_000_000;
/// Bytes kept of each text (a test's message and output, the whole's) at first; halved until the file fits.
const FIRST_CAP: usize = 64 * 1024;
const SMALLEST_CAP: usize = 128;

#[derive(Serialize)]
struct Results {
    gradable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    format_errors: Vec<String>,
    message: String,
    output: String,
    tests: Vec<Test>,
}

#[derive(Serialize)]
struct Test {
    name: String,
    description: String,
    points: f64,
    max_points: f64,
    message: String,
    output: String,
}

pub fn prairielearn(class: &Class) -> String {
    let mut cap = FIRST_CAP;
    loop {
        let results: Vec<(&str, Results)> = class
            .students
            .iter()
            .map(|s| (s.id.as_str(), results(class, s, cap)))
            .collect();
        let text = if let [(_, only)] = results.as_slice() {
            serde_json::to_string_pretty(only)
        } else {
            serde_json::to_string_pretty(&Keyed(&results))
        }
        .expect("results serialize to JSON");
        // The limit is PrairieLearn's per file: for a class (several files in one object) it applies to
        // each student's part, which is at most the whole.
        let largest = if results.len() == 1 {
            text.len()
        } else {
            results
                .iter()
                .map(|(_, r)| serde_json::to_string_pretty(r).map_or(0, |t| t.len()))
                .max()
                .unwrap_or(0)
        };
        if largest < MAX_BYTES || cap <= SMALLEST_CAP {
            return text + "\n";
        }
        cap /= 2;
    }
}

fn results(class: &Class, student: &Student, cap: usize) -> Results {
    let several = class.assignments.len() > 1;
    let (mut points, mut max_points) = (0.0, 0.0);
    let (mut format_errors, mut messages, mut outputs, mut tests) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (assignment, result) in results_of(class, student) {
        let lead = if several {
            format!("{assignment}: ")
        } else {
            String::new()
        };
        let report = match result {
            Ok(report) => report,
            Err(why) => {
                format_errors.push(format!("{lead}{why}"));
                continue;
            }
        };
        if report.cannot_launch.is_some() || !trustworthy(report) {
            format_errors.extend(
                report_warnings(report)
                    .into_iter()
                    .map(|w| format!("{lead}{w}")),
            );
        }
        points += report.summary.points;
        max_points += report.summary.max_points;
        messages.push(format!("{lead}{}", summary_line(report)));
        for note in &report.notes {
            messages.push(format!("{lead}note: {note}"));
        }
        outputs.push(format!(
            "{}: seed {} · {}\nreplay: {}",
            entry_name(&student.id, assignment),
            report.seed,
            report.command,
            report.replay
        ));
        for check in &report.checks {
            let short = check
                .id
                .strip_prefix(&format!("{}/", report.suite))
                .unwrap_or(&check.id);
            let role = if check.required {
                "required"
            } else {
                "information only"
            };
            tests.push(Test {
                name: if several {
                    format!("{assignment}/{short}")
                } else {
                    short.to_string()
                },
                description: check.requirement.clone(),
                points: if check.counts {
                    check.points_earned
                } else {
                    0.0
                },
                max_points: if check.counts { check.points } else { 0.0 },
                message: if check.outcome == Outcome::Pass {
                    format!("{} ({role})", outcome_word(check.outcome))
                } else {
                    let message = format!(
                        "{} ({role}): {}",
                        outcome_word(check.outcome),
                        check.message
                    );
                    capped(&message, cap)
                },
                output: if check.outcome == Outcome::Pass {
                    String::new()
                } else {
                    capped(&details(check, Shown::all(report, check)), cap)
                },
            });
        }
    }
    let gradable = format_errors.is_empty();
    Results {
        gradable,
        score: gradable.then(|| {
            if max_points > 0.0 {
                (points / max_points).clamp(0.0, 1.0)
            } else {
                0.0
            }
        }),
        format_errors,
        message: capped(&messages.join("\n"), cap),
        output: capped(&outputs.join("\n"), cap),
        tests,
    }
}
