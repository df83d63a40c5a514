//! One self-contained HTML page for a class (no network: its CSS and script are inline, `html/page.css`
//! and `html/page.js`): a students × checks matrix, sortable by any column and filterable by assignment and
//! outcome, per-check pass rates (the checks the class failed most), a distribution of scores, and each
//! cell's evidence on a click.
//!
//! The results go in as JSON data (every `<` written as `\u003c`, so nothing a program printed can close
//! the script element), and the script puts them into the page as text only: a student's output holding
//! `<script>` shows as those characters.

use serde::Serialize;

use super::markup::xml;
use super::{
    cause_of, mode_word, outcome_word, report_warnings, stderr_lines, summary_line, trim_points,
    wire_lines,
};
use crate::grade::verdict::{CheckReport, Evidence, Outcome};
use crate::grade::CauseReport;
use crate::results::class::{Cell, Class};
use crate::results::Stored;

const CSS: &str = include_str!("html/page.css");
const SCRIPT: &str = include_str!("html/page.js");

#[derive(Serialize)]
struct Page<'a> {
    class: &'a str,
    sockspec_version: &'static str,
    assignments: Vec<AssignmentData<'a>>,
    columns: Vec<ColumnData<'a>>,
    students: Vec<StudentData>,
}

#[derive(Serialize)]
struct AssignmentData<'a> {
    name: &'a str,
    suite: &'a str,
    seed: u64,
    max: f64,
    has_mode: bool,
}

#[derive(Serialize)]
struct ColumnData<'a> {
    assignment: usize,
    id: &'a str,
    short: &'a str,
    level: String,
    required: bool,
    requirement: &'a str,
    concept: &'a str,
    points: f64,
    counts: bool,
}

#[derive(Serialize)]
struct StudentData {
    id: String,
    /// Per assignment: points, or none when there is no readable result.
    points: Vec<Option<f64>>,
    total: f64,
    max: f64,
    required_passed: usize,
    required_total: usize,
    modes: Vec<Option<&'static str>>,
    /// One line per thing to know about this student's results (not launched, not graded, ...).
    notes: Vec<String>,
    /// Per column: the word of its cell (an outcome, or why there is none).
    cells: Vec<&'static str>,
    /// Per column: the evidence of a check that ran, else none.
    evidence: Vec<Option<EvidenceData>>,
}

#[derive(Serialize)]
struct EvidenceData {
    outcome: &'static str,
    message: String,
    points: String,
    duration: String,
    input: Option<Shown>,
    expected: Option<Shown>,
    actual: Option<Shown>,
    differs_at: Option<usize>,
    program: Option<String>,
    replay: Option<String>,
    wire: Vec<String>,
    stderr: Vec<String>,
    summary: String,
}

#[derive(Serialize)]
struct Shown {
    text: String,
    about: String,
    hex: Option<String>,
}

pub fn html(class: &Class) -> String {
    let columns = class.columns();
    let page = Page {
        class: &class.name,
        sockspec_version: env!("CARGO_PKG_VERSION"),
        assignments: class
            .assignments
            .iter()
            .enumerate()
            .map(|(a, info)| AssignmentData {
                name: &info.name,
                suite: &info.suite,
                seed: info.seed,
                max: class.max_points(a),
                has_mode: class
                    .students
                    .iter()
                    .any(|s| s.graded(a).is_some_and(|r| r.mode.is_some())),
            })
            .collect(),
        columns: columns
            .iter()
            .map(|c| ColumnData {
                assignment: c.assignment,
                id: &c.id,
                short: &c.short,
                level: c.level.to_string(),
                required: c.required,
                requirement: &c.requirement,
                concept: &c.concept,
                points: c.points,
                counts: c.counts,
            })
            .collect(),
        students: class
            .students
            .iter()
            .map(|student| {
                let totals = class.totals(student);
                let mut notes = Vec::new();
                for (a, result) in student.results.iter().enumerate() {
                    let name = &class.assignments[a].name;
                    match result {
                        Stored::Graded(report) => notes.extend(
                            report_warnings(report)
                                .into_iter()
                                .chain(report.notes.iter().cloned())
                                .map(|w| format!("{name}: {w}")),
                        ),
                        Stored::Missing => notes.push(format!("{name}: not graded yet")),
                        Stored::Unreadable(_) => {
                            notes.push(format!("{name}: the stored result could not be read"))
                        }
                    }
                }
                StudentData {
                    id: student.id.clone(),
                    points: (0..class.assignments.len())
                        .map(|a| student.graded(a).map(|r| r.summary.points))
                        .collect(),
                    total: totals.points,
                    max: totals.max_points,
                    required_passed: totals.required_passed,
                    required_total: totals.required_total,
                    modes: (0..class.assignments.len())
                        .map(|a| student.graded(a).and_then(|r| r.mode).map(mode_word))
                        .collect(),
                    notes,
                    cells: columns.iter().map(|c| student.cell(c).word()).collect(),
                    evidence: columns
                        .iter()
                        .map(|c| match student.cell(c) {
                            Cell::Ran(check) => Some(evidence(
                                student
                                    .graded(c.assignment)
                                    .and_then(|r| cause_of(r, check)),
                                check,
                                student
                                    .graded(c.assignment)
                                    .map(summary_line)
                                    .unwrap_or_default(),
                            )),
                            _ => None,
                        })
                        .collect(),
                }
            })
            .collect(),
    };
    let data = serde_json::to_string(&page)
        .expect("page data serializes")
        // Inside <script>, `</script>` or `<!--` would end or change the element: no `<` at all.
        .replace('<', "\\u003c");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>sockspec · {title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n{BODY}\
         <script type=\"application/json\" id=\"data\">{data}</script>\n<script>\n{SCRIPT}</script>\n\
         </body>\n</html>\n",
        title = xml(&class.name),
    )
}

const BODY: &str = r#"<header>
  <h1>sockspec · <span id="class-name"></span></h1>
  <p id="overview"></p>
</header>
<section id="controls" aria-label="Filters">
  <div class="filter" id="assignment-filter" role="group" aria-label="Assignment"></div>
  <div class="filter" id="outcome-filter" role="group" aria-label="Outcome"></div>
</section>
<main>
  <div id="matrix-wrap"><table id="matrix"></table></div>
  <aside id="evidence" hidden aria-live="polite"></aside>
</main>
<section id="insights">
  <div id="hardest"></div>
  <div id="distribution"></div>
</section>
<noscript>This page draws its matrix with JavaScript; the CSV report holds the same results.</noscript>
"#;

fn evidence(cause: Option<&CauseReport>, check: &CheckReport, summary: String) -> EvidenceData {
    let shown = |e: &Option<Evidence>| {
        e.as_ref().map(|e| Shown {
            text: e.text.clone(),
            about: if e.shown_len < e.len {
                format!(
                    "bytes {}..{} of {}, sha256 {}",
                    e.shown_from,
                    e.shown_from + e.shown_len,
                    e.len,
                    e.sha256.as_deref().unwrap_or("?")
                )
            } else {
                format!("{} bytes", e.len)
            },
            hex: e.hex.clone(),
        })
    };
    let passed = check.outcome == Outcome::Pass;
    EvidenceData {
        outcome: outcome_word(check.outcome),
        // The cause, which the grade says once for several checks, with each check here.
        message: match cause {
            Some(cause) => format!("{}\ncause: {}", check.message, cause.summary),
            None => check.message.clone(),
        },
        points: format!(
            "{}/{}{}",
            trim_points(check.points_earned),
            trim_points(check.points),
            if check.counts {
                ""
            } else {
                " (does not count)"
            }
        ),
        duration: format!("{:.2} s", check.duration_secs),
        input: shown(&check.input),
        expected: shown(&check.expected),
        actual: shown(&check.actual),
        differs_at: check.differs_at,
        program: check.exit.clone(),
        replay: check.replay.clone(),
        wire: if passed {
            Vec::new()
        } else {
            wire_lines(check)
        },
        stderr: if passed {
            Vec::new()
        } else {
            stderr_lines(check)
                .into_iter()
                .map(str::to_string)
                .collect()
        },
        summary,
    }
}
