//! The default report: one line per check, the evidence of each failure, a summary; in the report's
//! language (`GradeReport::lang`: its frame from `locales/`, the suite's and grader's texts from
//! `localized`).

use std::fmt::Write as _;

use super::{
    cause_of, details_in, incomplete_line_in, level_word_in, localized_summary, outcome_word_in,
    summary_in, summary_line_in, trim_points, Shown,
};
use crate::grade::suite::Level;
use crate::grade::verdict::Outcome;
use crate::grade::{GradeReport, ServerMode};
use crate::i18n::{key, pad, text, Lang, Message};

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

/// The report as text for a person; `colour` adds ANSI colours (for a terminal).
pub fn human(report: &GradeReport, colour: bool) -> String {
    let paint = Paint(colour);
    let lang = report.lang.unwrap_or_default();
    let mut out = String::new();
    let title = Message::new(key::REPORT_TITLE).arg("suite", report.suite.as_str());
    let _ = writeln!(out, "{}", paint.bold(&title.render(lang)));
    let program = Message::new(key::REPORT_PROGRAM).arg("command", report.command.as_str());
    let _ = writeln!(out, "  {}", program.render(lang));
    let comparison = if report.strict {
        key::COMPARISON_STRICT
    } else {
        key::COMPARISON_LENIENT
    };
    let settings = Message::new(key::REPORT_SETTINGS)
        .arg("seed", report.seed.to_string())
        .arg("level", level_word_in(report.required_level, lang))
        .arg("comparison", text(lang, comparison));
    let _ = writeln!(out, "  {}", settings.render(lang));
    let incomplete = incomplete_line_in(report, lang);
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
            "\n{}{}",
            paint.bold(&text(lang, key::CAUSES_HEADING)),
            paint.dim(&text(lang, key::CAUSES_HEADING_NOTE))
        );
        for cause in &shared {
            let summary = summary_in(cause, localized_summary(report, cause), lang);
            let _ = writeln!(out, "  {} {summary}", paint.red(&cause.id));
            let explains = Message::new(key::CAUSE_EXPLAINS)
                .arg("count", cause.checks.len())
                .arg("id", cause.id.as_str());
            let _ = writeln!(out, "     {}", paint.dim(&explains.render(lang)));
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
                key::ROLE_REQUIRED
            } else {
                key::ROLE_INFORMATION
            };
            let role = Message::new(key::LEVEL_HEADING).arg("role", text(lang, role));
            let _ = writeln!(
                out,
                "\n{}{}",
                paint.bold(&level_word_in(check.level, lang)),
                paint.dim(&role.render(lang))
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
                format!(" {}", paint.yellow(&outcome_word_in(check.outcome, lang)))
            }
            other => format!(" {}", paint.red(&outcome_word_in(other, lang))),
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
                    cause_localized: localized_summary(report, cause),
                    cause_above: true,
                    wire: cause.checks.first() == Some(&check.id),
                },
                None => Shown::all(report, check),
            };
            out.push_str(&details_in(check, shown, lang));
        }
    }
    out.push('\n');
    if let Some(mode) = report.mode {
        let words = text(
            lang,
            match mode {
                ServerMode::None => key::MODE_NONE,
                ServerMode::Single => key::MODE_SINGLE,
                ServerMode::Sequential => key::MODE_SEQUENTIAL,
                ServerMode::Concurrent => key::MODE_CONCURRENT,
                ServerMode::Unknown => key::MODE_UNKNOWN,
            },
        );
        let line = Message::new(key::SERVER_MODE).arg("mode", words);
        let _ = writeln!(out, "{}", line.render(lang));
    }
    let notes = match (&report.localized, lang) {
        (Some(l), Lang::Zh) if l.notes.len() == report.notes.len() => &l.notes,
        _ => &report.notes,
    };
    let note_label = text(lang, key::LABEL_NOTE);
    for note in notes {
        let _ = writeln!(out, "{}{note}", paint.yellow(&note_label));
    }
    if let Some(line) = &incomplete {
        let _ = writeln!(out, "{}", paint.red(line));
    }
    let line = summary_line_in(report, lang);
    let line = if report.summary.success && !report.summary.harness_fault && !report.incomplete {
        paint.green(&line)
    } else {
        paint.red(&line)
    };
    let _ = writeln!(out, "{}", paint.bold(&line));
    if report.checks.iter().any(|c| c.outcome != Outcome::Pass) {
        let label = pad(&text(lang, key::REPORT_REPLAY), 9);
        let _ = writeln!(out, "{label}{}", report.replay);
    }
    out
}
