//! The default report: one line per check, the evidence of each failure, a summary.

use std::fmt::Write as _;

use super::{details, incomplete_line, outcome_word, summary_line, trim_points};
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
        let _ = writeln!(
            out,
            "  {mark} {}{word}  {}",
            check.id,
            paint.dim(&format!(
                "{}/{} · {:.2} s",
                trim_points(check.points_earned),
                trim_points(check.points),
                check.duration_secs
            ))
        );
        if check.outcome != Outcome::Pass {
            out.push_str(&details(check));
        }
    }
    out.push('\n');
    if let Some(mode) = report.mode {
        let words = match mode {
            ServerMode::None => "none (no client was served correctly)",
            ServerMode::Single => "single (serves one client)",
            ServerMode::Sequential => "sequential (serves clients one by one)",
            ServerMode::Concurrent => "concurrent (serves clients at once)",
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
