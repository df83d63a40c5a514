//! Reports: of one grading run (human text, JSON, JUnit XML, Gradescope, PrairieLearn, TAP), and of a
//! class from its stored results (CSV, HTML, and the same machine formats, one entry per student and
//! assignment). A single run is rendered as a class of one ([`Class::lone`]), so both share one renderer
//! per format.

mod class_json;
mod csv;
mod gradescope;
mod html;
mod human;
mod junit;
mod markup;
mod prairielearn;
mod tap;

use std::fmt::Write as _;

use crate::grade::suite::Level;
use crate::grade::verdict::{CheckReport, Direction, Evidence, Outcome};
use crate::grade::words::phrase;
use crate::grade::{CauseReport, GradeReport, ServerMode};
use crate::i18n::{key, pad, text, Lang, Message};
use crate::results::class::Class;
use crate::results::Stored;

pub use human::human;

/// Formats of `sockspec grade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// Per check ✓/✗, the evidence of each failure, a summary; colour only on a terminal.
    Human,
    /// Everything, with stable field names.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
    /// Gradescope autograder results.json.
    Gradescope,
    /// PrairieLearn external grader results.json.
    Prairielearn,
    /// TAP version 14.
    Tap,
}

/// Formats of `sockspec report`, rendered from a class's stored results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ClassFormat {
    /// One row per student: points per assignment, totals, server modes, one column per check.
    Csv,
    /// One self-contained page: a students × checks matrix, pass rates, scores, evidence per cell.
    Html,
    /// JUnit XML: one testsuite per student and assignment.
    Junit,
    /// Gradescope results.json (one student), or an object of them by student id.
    Gradescope,
    /// PrairieLearn results.json (one student), or an object of them by student id.
    Prairielearn,
    /// TAP version 14: a subtest per student and assignment.
    Tap,
    /// Every stored report, merged: the class, its assignments, each student's results.
    Json,
}

/// Choices of a class rendering that are not its format.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassOptions {
    /// CSV: start with a byte order mark, so Excel reads the file as UTF-8 (names may be Chinese).
    pub bom: bool,
}

/// Renders `report` in `format`; `colour` only matters for human text.
pub fn render(report: &GradeReport, format: Format, colour: bool) -> String {
    let class = || Class::lone(report.clone());
    match format {
        Format::Human => human(report, colour),
        Format::Json => json(report),
        Format::Junit => junit::junit(&class()),
        Format::Gradescope => gradescope::gradescope(&class()),
        Format::Prairielearn => prairielearn::prairielearn(&class()),
        Format::Tap => tap::tap(&class()),
    }
}

/// Renders a class's results in `format`.
pub fn render_class(class: &Class, format: ClassFormat, options: ClassOptions) -> String {
    match format {
        ClassFormat::Csv => csv::csv(class, options.bom),
        ClassFormat::Html => html::html(class),
        ClassFormat::Junit => junit::junit(class),
        ClassFormat::Gradescope => gradescope::gradescope(class),
        ClassFormat::Prairielearn => prairielearn::prairielearn(class),
        ClassFormat::Tap => tap::tap(class),
        ClassFormat::Json => class_json::class_json(class),
    }
}

/// How a student and an assignment are named in formats with one entry per pair: `student/assignment`, or
/// the assignment alone for a lone grade.
pub(crate) fn entry_name(student: &str, assignment: &str) -> String {
    if student.is_empty() {
        assignment.to_string()
    } else {
        format!("{student}/{assignment}")
    }
}

/// A student's result for each assignment: its name, and the report or why there is none.
pub(crate) fn results_of<'a>(
    class: &'a Class,
    student: &'a crate::results::class::Student,
) -> impl Iterator<Item = (&'a str, std::result::Result<&'a GradeReport, &'static str>)> {
    student
        .results
        .iter()
        .zip(&class.assignments)
        .map(|(result, assignment)| {
            let report = match result {
                Stored::Graded(report) => Ok(report.as_ref()),
                Stored::Missing => Err("not graded yet: no stored result"),
                Stored::Unreadable(_) => Err("the stored result could not be read: grade again"),
            };
            (assignment.name.as_str(), report)
        })
}

/// Lines about a report as a whole that a reader must see before its checks: it could not be launched, it
/// did not finish, the grader failed.
pub(crate) fn report_warnings(report: &GradeReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(why) = &report.cannot_launch {
        lines.push(format!("the program could not be launched: {why}"));
    }
    if let Some(why) = report.incomplete_reason() {
        lines.push(format!(
            "INCOMPLETE: grading did not finish ({why}); only {} check(s) ran",
            report.checks.len()
        ));
    }
    if report.summary.harness_fault {
        lines.push(
            "a fault of the grader itself: some verdicts cannot be trusted; grade again"
                .to_string(),
        );
    }
    lines
}

/// The word for a server mode, as JSON writes it.
pub(crate) fn mode_word(mode: ServerMode) -> &'static str {
    match mode {
        ServerMode::None => "none",
        ServerMode::Single => "single",
        ServerMode::Sequential => "sequential",
        ServerMode::Concurrent => "concurrent",
        ServerMode::Unknown => "unknown",
    }
}

/// True when the whole run can be trusted as the program's grade (it finished, the grader did not fail).
pub(crate) fn trustworthy(report: &GradeReport) -> bool {
    !report.incomplete && !report.summary.harness_fault
}

/// The report as pretty-printed JSON, with a final newline.
pub fn json(report: &GradeReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("a report serializes to JSON");
    text.push('\n');
    text
}

/// Transcript events shown in text reports: the first ones and the last ones, the cut said.
const SHOWN_EVENTS_HEAD: usize = 24;
const SHOWN_EVENTS_TAIL: usize = 8;
/// Lines of stderr shown in text reports.
const STDERR_LINES: usize = 12;
/// Characters of one transcript event's bytes shown in text reports (escaped binary data is long).
const SHOWN_EVENT_CHARS: usize = 100;

/// The outcome in capitals (`PASS`, `NOT RUN`...), as text reports show it.
pub fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Timeout => "TIMEOUT",
        Outcome::Crash => "CRASH",
        Outcome::NotRun => "NOT RUN",
        Outcome::Limit => "LIMIT",
    }
}

/// [`outcome_word`] in `lang`, for reports a person reads (machine formats keep the English word).
pub fn outcome_word_in(outcome: Outcome, lang: Lang) -> String {
    text(
        lang,
        match outcome {
            Outcome::Pass => key::OUTCOME_PASS,
            Outcome::Fail => key::OUTCOME_FAIL,
            Outcome::Timeout => key::OUTCOME_TIMEOUT,
            Outcome::Crash => key::OUTCOME_CRASH,
            Outcome::NotRun => key::OUTCOME_NOT_RUN,
            Outcome::Limit => key::OUTCOME_LIMIT,
        },
    )
}

/// A level's name in `lang` (`basic`; in Chinese `基础 basic`, the flag's word kept).
pub fn level_word_in(level: Level, lang: Lang) -> String {
    text(
        lang,
        match level {
            Level::Basic => key::LEVEL_BASIC,
            Level::Sequential => key::LEVEL_SEQUENTIAL,
            Level::Concurrent => key::LEVEL_CONCURRENT,
            Level::Robust => key::LEVEL_ROBUST,
            Level::Security => key::LEVEL_SECURITY,
        },
    )
}

/// Width of the label column of a check's details (`requirement: `), and of the evidence labels.
const LABEL_WIDTH: usize = 13;
const EVIDENCE_LABEL_WIDTH: usize = 10;

fn evidence_lines(out: &mut String, indent: &str, label: &str, evidence: &Evidence, lang: Lang) {
    let end = evidence.shown_from + evidence.shown_len;
    let sha256 = evidence.sha256.as_deref().unwrap_or("?");
    let part = if evidence.shown_from > 0 {
        Message::new(key::EVIDENCE_WINDOW)
            .arg("from", evidence.shown_from.to_string())
            .arg("end", end.to_string())
            .arg("len", evidence.len.to_string())
            .arg("sha256", sha256)
            .render(lang)
    } else if end < evidence.len {
        Message::new(key::EVIDENCE_HEAD)
            .arg("len", evidence.len.to_string())
            .arg("sha256", sha256)
            .render(lang)
    } else {
        String::new()
    };
    let lead = if evidence.shown_from > 0 { "…" } else { "" };
    // Binary data is read in its hex dump; its escaped text only helps where it is short.
    let mut shown = quoted(&evidence.text);
    if evidence.hex.is_some() && shown.chars().count() > SHOWN_EVENT_CHARS {
        shown = shown.chars().take(SHOWN_EVENT_CHARS).collect::<String>() + "…";
    }
    let label = pad(label, EVIDENCE_LABEL_WIDTH);
    let _ = writeln!(out, "{indent}{label}{lead}\"{shown}\"{part}");
    if let Some(hex) = &evidence.hex {
        for line in hex.lines() {
            let _ = writeln!(out, "{indent}          {line}");
        }
    }
}

/// Text already escaped by [`crate::wire::escape_bytes`], made safe between double quotes.
pub fn quoted(escaped: &str) -> String {
    escaped.replace('"', "\\\"")
}

/// How much of a check's details a text report shows.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    /// The check's cause, if it has one.
    pub cause: Option<&'a CauseReport>,
    /// The cause's summary in the report's language (from its `localized` texts), when it has one.
    pub cause_localized: Option<&'a str>,
    /// The cause was printed once at the top of the report: refer to it.
    pub cause_above: bool,
    /// Show the wire transcript (off for the later checks of a cause already shown).
    pub wire: bool,
}

impl<'a> Shown<'a> {
    /// Everything, the cause said in full: for reports without a causes section (JUnit, Gradescope).
    pub fn all(report: &'a GradeReport, check: &CheckReport) -> Self {
        let cause = cause_of(report, check);
        Shown {
            cause,
            cause_localized: cause.and_then(|c| localized_summary(report, c)),
            cause_above: false,
            wire: true,
        }
    }
}

/// The cause a check names, if any.
pub fn cause_of<'a>(report: &'a GradeReport, check: &CheckReport) -> Option<&'a CauseReport> {
    let id = check.cause.as_deref()?;
    report.causes.iter().find(|c| c.id == id)
}

/// The summary of `cause` in the report's language, from its `localized` texts (one per cause, in
/// order), when it has them.
pub(crate) fn localized_summary<'a>(
    report: &'a GradeReport,
    cause: &CauseReport,
) -> Option<&'a str> {
    let localized = report.localized.as_ref()?;
    let n = report.causes.iter().position(|c| c.id == cause.id)?;
    (localized.causes.len() == report.causes.len()).then(|| localized.causes[n].as_str())
}

/// The summary of `cause` in `lang`: the English one, or the report's localized one for another
/// language (see [`check_texts`]).
pub(crate) fn summary_in<'a>(
    cause: &'a CauseReport,
    localized: Option<&'a str>,
    lang: Lang,
) -> &'a str {
    match (localized, lang) {
        (Some(l), Lang::Zh) => l,
        _ => &cause.summary,
    }
}

/// A check's requirement, concept and message in `lang`: the English fields, or the report's
/// `localized` ones (made in the report's language) for another language.
pub(crate) fn check_texts(check: &CheckReport, lang: Lang) -> (&str, &str, &str) {
    match (&check.localized, lang) {
        (Some(l), Lang::Zh) => (&l.requirement, &l.concept, &l.message),
        _ => (&check.requirement, &check.concept, &check.message),
    }
}

/// The plain-text details of one check that did not pass: what the person needs to see why.
pub fn details(check: &CheckReport, shown: Shown) -> String {
    details_in(check, shown, Lang::En)
}

/// [`details`] in `lang`: its labels, and the check's texts from `localized` (see `check_texts`).
pub fn details_in(check: &CheckReport, shown: Shown, lang: Lang) -> String {
    let mut out = String::new();
    let i = "    ";
    let label = |id: &str| pad(&text(lang, id), LABEL_WIDTH);
    let (requirement, concept, message) = check_texts(check, lang);
    let _ = writeln!(out, "{i}{}{requirement}", label(key::LABEL_REQUIREMENT));
    let _ = writeln!(out, "{i}{}{concept}", label(key::LABEL_CONCEPT));
    let _ = writeln!(out, "{i}{}{message}", label(key::LABEL_WHY));
    let cause_label = label(key::LABEL_CAUSE);
    match shown.cause {
        Some(cause) if shown.cause_above => {
            let above = Message::new(key::CAUSE_ABOVE)
                .arg("id", cause.id.as_str())
                .arg("count", cause.checks.len());
            let _ = writeln!(out, "{i}{cause_label}{}", above.render(lang));
        }
        Some(cause) => {
            let summary = summary_in(cause, shown.cause_localized, lang);
            let _ = writeln!(out, "{i}{cause_label}{summary}");
            if let Some(detail) = &cause.detail {
                for line in detail.lines() {
                    let _ = writeln!(out, "{i}  | {line}");
                }
            }
        }
        None => {}
    }
    if let Some(e) = &check.input {
        evidence_lines(&mut out, i, &text(lang, key::LABEL_INPUT), e, lang);
    }
    if let Some(at) = check.differs_at {
        let differs = Message::new(key::DIFFERS_AT)
            .arg("at", at.to_string())
            .arg("hex", format!("{at:x}"));
        let _ = writeln!(
            out,
            "{i}{}{}",
            pad(&text(lang, key::LABEL_DIFFERS), EVIDENCE_LABEL_WIDTH),
            differs.render(lang)
        );
    }
    if let Some(e) = &check.expected {
        evidence_lines(&mut out, i, &text(lang, key::LABEL_EXPECTED), e, lang);
    }
    if let Some(e) = &check.actual {
        evidence_lines(&mut out, i, &text(lang, key::LABEL_ACTUAL), e, lang);
    }
    if let Some(replay) = &check.replay {
        let _ = writeln!(out, "{i}{}{replay}", label(key::LABEL_REPLAY));
        if check.seed.is_some() && check.input.is_some() {
            let note = match check.shrinking.as_ref() {
                Some(s) => match &s.stopped {
                    Some(why) if s.runs == 0 => {
                        Message::new(key::SHRINK_NOT_SHRUNK).arg("why", phrase(why))
                    }
                    Some(why) => Message::new(key::SHRINK_STOPPED)
                        .arg("runs", s.runs)
                        .arg("why", phrase(why)),
                    None => Message::new(key::SHRINK_SMALLEST).arg("runs", s.runs),
                },
                None => Message::new(key::SHRINK_REPLAY),
            };
            let note = note.render(lang);
            let _ = writeln!(out, "{i}{}{note}", " ".repeat(LABEL_WIDTH));
        }
    }
    if let Some(exit) = &check.exit {
        let _ = writeln!(out, "{i}{}{exit}", label(key::LABEL_PROGRAM));
    }
    if shown.wire {
        let wire = wire_lines_in(check, lang);
        if !wire.is_empty() {
            let _ = writeln!(out, "{i}{}", text(lang, key::LABEL_WIRE));
            for line in wire {
                let _ = writeln!(out, "{i}  {line}");
            }
        }
    }
    // A traceback said with the check's cause is not repeated.
    let traceback_shown = shown.cause.is_some_and(|c| c.detail.is_some());
    let stderr = stderr_lines(check);
    if !stderr.is_empty() && !traceback_shown {
        let _ = writeln!(out, "{i}{}", text(lang, key::LABEL_STDERR));
        for line in stderr {
            let _ = writeln!(out, "{i}  | {line}");
        }
    }
    out
}

/// The wire transcript of a check as text lines (`+0.122s client 1     → "hello\n"`): the first events and
/// the last ones, the cut said.
pub(crate) fn wire_lines(check: &CheckReport) -> Vec<String> {
    wire_lines_in(check, Lang::En)
}

/// [`wire_lines`], the lines that say what was cut in `lang` (the events themselves are the grader's).
pub(crate) fn wire_lines_in(check: &CheckReport, lang: Lang) -> Vec<String> {
    let events = &check.transcript;
    let skip_from = SHOWN_EVENTS_HEAD;
    let skip_to = events
        .len()
        .saturating_sub(SHOWN_EVENTS_TAIL)
        .max(skip_from);
    let mut lines = Vec::new();
    for (n, e) in events.iter().enumerate() {
        if n == skip_from && skip_to > skip_from {
            let skipped = Message::new(key::WIRE_SKIPPED).arg("count", skip_to - skip_from);
            lines.push(skipped.render(lang));
        }
        if (skip_from..skip_to).contains(&n) {
            continue;
        }
        let escaped = crate::wire::escape_bytes(&e.bytes);
        let mut body: String = escaped.chars().take(SHOWN_EVENT_CHARS).collect();
        let cut = body.len() < escaped.len() || e.len > e.bytes.len();
        let (arrow, body) = match e.direction {
            Direction::Sent | Direction::Received => {
                body = format!("\"{}\"", quoted(&body));
                let arrow = if e.direction == Direction::Sent {
                    "→"
                } else {
                    "←"
                };
                (arrow, body)
            }
            Direction::Event => ("·", String::from_utf8_lossy(&e.bytes).into_owned()),
        };
        let more = if cut && e.direction != Direction::Event {
            format!(" … ({} bytes)", e.len)
        } else {
            String::new()
        };
        lines.push(format!(
            "+{:.3}s {:<12} {arrow} {body}{more}",
            e.at, e.channel
        ));
    }
    if check.transcript_dropped > 0 {
        let dropped = Message::new(key::WIRE_DROPPED).arg("count", check.transcript_dropped);
        lines.push(dropped.render(lang));
    }
    lines
}

/// The last lines of a check's stderr, as text reports show them.
pub(crate) fn stderr_lines(check: &CheckReport) -> Vec<&str> {
    let lines: Vec<&str> = check.stderr_tail.lines().collect();
    lines[lines.len().saturating_sub(STDERR_LINES)..].to_vec()
}

/// One line that sums up a run.
pub fn summary_line(report: &GradeReport) -> String {
    summary_line_in(report, Lang::En)
}

/// [`summary_line`] in `lang`.
pub fn summary_line_in(report: &GradeReport, lang: Lang) -> String {
    let s = &report.summary;
    let verdict = if let Some(signal) = &report.interrupted_by {
        Message::new(key::SUMMARY_INTERRUPTED)
            .arg("signal", signal.as_str())
            .render(lang)
    } else if s.harness_fault {
        text(lang, key::SUMMARY_GRADER_ERROR)
    } else if s.success {
        text(lang, key::SUMMARY_PASS)
    } else {
        text(lang, key::SUMMARY_FAIL)
    };
    let mut problems = Vec::new();
    for (n, id) in [
        (s.failed, key::SUMMARY_FAILED),
        (s.timeout, key::SUMMARY_TIMED_OUT),
        (s.crash, key::SUMMARY_CRASHED),
        (s.not_run, key::SUMMARY_NOT_RUN),
        (s.limit, key::SUMMARY_OVER_LIMIT),
    ] {
        if n > 0 {
            problems.push(Message::new(id).arg("count", n).render(lang));
        }
    }
    let problems = if problems.is_empty() {
        String::new()
    } else {
        let separator = text(lang, key::SUMMARY_SEPARATOR);
        format!(
            "{}{}",
            text(lang, key::SUMMARY_PROBLEMS_LEAD),
            problems.join(&separator)
        )
    };
    Message::new(key::SUMMARY)
        .arg("verdict", verdict)
        .arg("passed", s.required_passed.to_string())
        .arg("total", s.required_total.to_string())
        .arg("points", trim_points(s.points))
        .arg("max", trim_points(s.max_points))
        .arg("problems", problems)
        .arg("secs", format!("{:.1}", report.duration_secs))
        .render(lang)
}

/// For an interrupted grade, the line that says so.
pub fn incomplete_line(report: &GradeReport) -> Option<String> {
    incomplete_line_in(report, Lang::En)
}

/// [`incomplete_line`] in `lang`.
pub fn incomplete_line_in(report: &GradeReport, lang: Lang) -> Option<String> {
    report.interrupted_by.as_ref().map(|signal| {
        Message::new(key::REPORT_INCOMPLETE)
            .arg("signal", signal.as_str())
            .render(lang)
    })
}

/// Points as text: no decimals when whole (`3`), else two (`2.50`).
pub fn trim_points(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_around_a_difference_names_its_bytes() {
        let expected = vec![b'x'; 1000];
        let mut actual = expected.clone();
        actual[500] = b'y';
        let (e, a, at) = Evidence::compared(&expected, &actual);
        assert_eq!(at, Some(500));
        let mut out = String::new();
        evidence_lines(&mut out, "", "actual:", &a, Lang::En);
        assert!(
            out.starts_with(&format!(
                "actual:   …\"{}y{}\" (bytes 468..532 of 1000, sha256 ",
                "x".repeat(32),
                "x".repeat(31)
            )),
            "{out}"
        );
        let mut out = String::new();
        evidence_lines(
            &mut out,
            "",
            "expected:",
            &Evidence::of(&expected),
            Lang::En,
        );
        assert!(out.contains("\" … (1000 bytes in all, sha256 "), "{out}");
        assert!(!e.text.contains('y'));
    }

    #[test]
    fn double_quotes_in_evidence_are_escaped() {
        let mut out = String::new();
        evidence_lines(
            &mut out,
            "",
            "actual:",
            &Evidence::of(b"say \"hi\"\n"),
            Lang::En,
        );
        assert_eq!(out, "actual:   \"say \\\"hi\\\"\\n\"\n");
    }
}
