//! The default report: one line per check, the evidence of each failure, a summary.

use std::fmt::Write as _;

use super::{cause_of, details, incomplete_line, outcome_word, summary_line, trim_points, Shown};
use crate::grade::suite::Level;
use crate::grade::verdict::Outcome;
use crate::grade::{GradeReport, ServerMode};

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
    fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
    fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.wrap("33", t)
    }
    fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
}

pub fn human(report: &GradeReport, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&format!("sockspec grade {}", report.suite))
    );
    let _ = writeln!(out, "  program: {}", report.command);
    let _ = writeln!(
        out,
        "  seed {} · required level: {} · {} comparison",
        report.seed,
        report.required_level,
        if report.strict { "strict" } else { "lenient" }
    );
    let incomplete = incomplete_line(report);
    if let Some(line) = &incomplete {
        let _ = writeln!(out, "  {}", paint.red(line));
    }
    // A cause that explains several checks is said once, here; each of them refers to it.
    let shared: Vec<&crate::grade::CauseReport> = report
        .causes
        .iter()
        .filter(|c| c.checks.len() > 1)
        .collect();
    if !shared.is_empty() {
        let _ = writeln!(
            out,
            "\n{} {}",
            paint.bold("causes"),
            paint.dim("(one explanation for several checks)")
        );
        for cause in &shared {
            let _ = writeln!(out, "  {} {}", paint.red(&cause.id), cause.summary);
            let _ = writeln!(
                out,
                "     {}",
                paint.dim(&format!(
                    "explains {} checks, marked {} below",
                    cause.checks.len(),
                    cause.id
                ))
            );
            if let Some(detail) = &cause.detail {
                for line in detail.lines() {
                    let _ = writeln!(out, "     | {line}");
                }
            }
        }
    }
    let mut level: Option<Level> = None;
    for check in &report.checks {
        if level != Some(check.level) {
            level = Some(check.level);
            let role = if check.level <= report.required_level {
                "required"
            } else {
                "information"
            };
            let _ = writeln!(
                out,
                "\n{} {}",
                paint.bold(&check.level.to_string()),
                paint.dim(&format!("({role})"))
            );
        }
        let mark = match check.outcome {
            Outcome::Pass => paint.green("✓"),
            Outcome::NotRun => paint.yellow("-"),
            _ => paint.red("✗"),
        };
        let word = match check.outcome {
            Outcome::Pass => String::new(),
            Outcome::Timeout | Outcome::NotRun => {
                format!(" {}", paint.yellow(outcome_word(check.outcome)))
            }
            other => format!(" {}", paint.red(outcome_word(other))),
        };
        let cause = cause_of(report, check).filter(|c| c.checks.len() > 1);
        let tag = cause.map(|c| format!(" [{}]", c.id)).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {mark} {}{word}{tag}  {}",
            check.id,
            paint.dim(&format!(
                "{}/{} · {:.2} s",
                trim_points(check.points_earned),
                trim_points(check.points),
                check.duration_secs
            ))
        );
        if check.outcome != Outcome::Pass {
            let shown = match cause {
                // The first check of a shared cause shows its wire, as the example of it.
                Some(cause) => Shown {
                    cause: Some(cause),
                    cause_above: true,
                    wire: cause.checks.first() == Some(&check.id),
                },
                None => Shown::all(report, check),
            };
            out.push_str(&details(check, shown));
        }
    }
    out.push('\n');
    if let Some(mode) = report.mode {
        let words = match mode {
            ServerMode::None => "none (no client was served correctly)",
            ServerMode::Single => "single (serves one client)",
            ServerMode::Sequential => "sequential (serves clients one by one)",
            ServerMode::Concurrent => "concurrent (serves clients at once)",
            ServerMode::Unknown => {
                "not determined (the checks that tell it did not get a program that served clients)"
            }
        };
        let _ = writeln!(out, "server mode: {words}");
    }
    for note in &report.notes {
        let _ = writeln!(out, "{} {note}", paint.yellow("note:"));
    }
    if let Some(line) = &incomplete {
        let _ = writeln!(out, "{}", paint.red(line));
    }
    let line = summary_line(report);
    let line = if report.summary.success && !report.summary.harness_fault && !report.incomplete {
        paint.green(&line)
    } else {
        paint.red(&line)
    };
    let _ = writeln!(out, "{}", paint.bold(&line));
    if report.checks.iter().any(|c| c.outcome != Outcome::Pass) {
        let _ = writeln!(out, "replay:  {}", report.replay);
    }
    out
}
