//! JUnit XML, in the shape Jenkins, GitLab and GitHub reporters read (Surefire's; validated against the
//! Jenkins xunit plugin's `junit-10.xsd` in tests): one `<testsuite>` per student and assignment (for one
//! grade: per suite), one `<testcase>` per check.
//!
//! A required check that did not pass is a `<failure>` (its message in the attribute and the body, with the
//! evidence); a fault of the grader itself is an `<error>`. A check above the required level is information:
//! passed, or `<skipped>` with its outcome and evidence in `<system-out>`, never a failure, so a program that
//! meets its required level is green. A stored result that is missing or unreadable is an `<error>`.

use std::fmt::Write as _;

use super::markup::xml;
use super::{details, entry_name, mode_word, outcome_word, report_warnings, summary_line, Shown};
use crate::grade::verdict::{CheckReport, Outcome};
use crate::grade::GradeReport;
use crate::results::class::Class;
use crate::results::Stored;

/// One `<testcase>`, with what it counts as.
struct Case {
    xml: String,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Passed,
    Failed,
    Error,
    Skipped,
}

struct Suite {
    name: String,
    attributes: String,
    properties: Vec<(String, String)>,
    cases: Vec<Case>,
    system_out: String,
    time: f64,
}

pub fn junit(class: &Class) -> String {
    let mut suites = Vec::new();
    for student in &class.students {
        for (a, result) in student.results.iter().enumerate() {
            let name = entry_name(&student.id, &class.assignments[a].name);
            let classname = if student.id.is_empty() {
                None
            } else {
                Some(format!("{}.{}", student.id, class.assignments[a].name))
            };
            suites.push(match result {
                Stored::Graded(report) => graded_suite(name, classname.as_deref(), report),
                Stored::Missing => {
                    absent_suite(name, "not-graded", "no stored result: not graded yet")
                }
                Stored::Unreadable(why) => absent_suite(name, "unreadable", why),
            });
        }
    }
    let count = |k: Kind| {
        suites
            .iter()
            .flat_map(|s| &s.cases)
            .filter(|c| c.kind == k)
            .count()
    };
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let time: f64 = suites.iter().map(|s| s.time).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{}\" errors=\"{}\" time=\"{time:.3}\">",
        xml(&format!("sockspec {}", class.name)),
        count(Kind::Failed),
        count(Kind::Error),
    );
    for suite in &suites {
        write_suite(&mut out, suite);
    }
    out.push_str("</testsuites>\n");
    out
}

fn write_suite(out: &mut String, suite: &Suite) {
    let count = |k: Kind| suite.cases.iter().filter(|c| c.kind == k).count();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"{}>",
        xml(&suite.name),
        suite.cases.len(),
        count(Kind::Failed),
        count(Kind::Error),
        count(Kind::Skipped),
        suite.time,
        suite.attributes
    );
    if !suite.properties.is_empty() {
        out.push_str("    <properties>\n");
        for (name, value) in &suite.properties {
            let _ = writeln!(
                out,
                "      <property name=\"{}\" value=\"{}\"/>",
                xml(name),
                xml(value)
            );
        }
        out.push_str("    </properties>\n");
    }
    for case in &suite.cases {
        out.push_str(&case.xml);
    }
    let _ = writeln!(
        out,
        "    <system-out>{}</system-out>",
        xml(&suite.system_out)
    );
    out.push_str("  </testsuite>\n");
}

fn graded_suite(name: String, classname: Option<&str>, report: &GradeReport) -> Suite {
    let mut attributes = String::new();
    if let Some(at) = &report.started_at {
        // Surefire's timestamps have no zone (ISO 8601 local form); ours are UTC.
        let _ = write!(
            attributes,
            " timestamp=\"{}\"",
            xml(at.trim_end_matches('Z'))
        );
    }
    if let Some(host) = &report.hostname {
        let _ = write!(attributes, " hostname=\"{}\"", xml(host));
    }
    let mut properties = vec![
        ("suite".to_string(), report.suite.clone()),
        ("command".to_string(), report.command.clone()),
        ("seed".to_string(), report.seed.to_string()),
        (
            "required-level".to_string(),
            report.required_level.to_string(),
        ),
        ("replay".to_string(), report.replay.clone()),
    ];
    if let Some(mode) = report.mode {
        properties.push(("server-mode".to_string(), mode_word(mode).to_string()));
    }
    let mut cases: Vec<Case> = report
        .checks
        .iter()
        .map(|check| {
            let classname = match classname {
                Some(c) => c.to_string(),
                None => format!("{}.{}", report.suite, check.level),
            };
            case(&classname, check, report)
        })
        .collect();
    if let Some(why) = report.incomplete_reason() {
        cases.push(Case {
            xml: format!(
                "    <testcase classname=\"sockspec\" name=\"grading finished\">\n      <error message=\"{m}\" type=\"incomplete\">{m}</error>\n    </testcase>\n",
                m = xml(&format!("grading did not finish: {why}"))
            ),
            kind: Kind::Error,
        });
    }
    let mut system_out = report_warnings(report).join("\n");
    for line in report
        .notes
        .iter()
        .map(|n| format!("note: {n}"))
        .chain([summary_line(report)])
    {
        if !system_out.is_empty() {
            system_out.push('\n');
        }
        system_out.push_str(&line);
    }
    Suite {
        name,
        attributes,
        properties,
        cases,
        system_out,
        time: report.duration_secs,
    }
}

fn case(classname: &str, check: &CheckReport, report: &GradeReport) -> Case {
    let open = format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
        xml(classname),
        xml(&check.id),
        check.duration_secs
    );
    let message = xml(&format!(
        "{}: {}",
        outcome_word(check.outcome),
        check.message
    ));
    let body = xml(&details(check, Shown::all(report, check)));
    let (kind, inner) = match check.outcome {
        Outcome::Pass => (Kind::Passed, String::new()),
        _ if check.harness_fault => (
            Kind::Error,
            format!("      <error message=\"{message}\" type=\"grader-fault\">{message}\n{body}</error>\n"),
        ),
        // Not run because the grade was interrupted: nothing was judged, and the grade's own
        // `<error type="incomplete">` keeps the suite from being green.
        Outcome::NotRun if report.incomplete => (
            Kind::Skipped,
            format!("      <skipped message=\"{message}\"/>\n"),
        ),
        // A program that never started has nothing to be green about, at any level.
        _ if report.cannot_launch.is_some() => (
            Kind::Error,
            format!("      <error message=\"{message}\" type=\"cannot-launch\">{message}\n{body}</error>\n"),
        ),
        _ if !check.required => (
            Kind::Skipped,
            format!(
                "      <skipped message=\"{}\"/>\n      <system-out>{}</system-out>\n",
                xml(&format!(
                    "information only ({} is above the required level {}): {}",
                    check.level,
                    report.required_level,
                    outcome_word(check.outcome)
                )),
                xml(&format!(
                    "{}: {}\n{}",
                    outcome_word(check.outcome),
                    check.message,
                    details(check, Shown::all(report, check))
                ))
            ),
        ),
        outcome => (
            Kind::Failed,
            format!(
                "      <failure message=\"{message}\" type=\"{}\">{message}\n{body}</failure>\n",
                outcome.as_str()
            ),
        ),
    };
    let xml = if inner.is_empty() {
        format!("{open}/>\n")
    } else {
        format!("{open}>\n{inner}    </testcase>\n")
    };
    Case { xml, kind }
}

/// A student and assignment with no readable result: one `<error>`, so the summary is not green.
fn absent_suite(name: String, kind: &str, why: &str) -> Suite {
    Suite {
        cases: vec![Case {
            xml: format!(
                "    <testcase classname=\"sockspec\" name=\"result\">\n      <error message=\"{m}\" type=\"{kind}\">{m}</error>\n    </testcase>\n",
                m = xml(why)
            ),
            kind: Kind::Error,
        }],
        system_out: why.to_string(),
        name,
        attributes: String::new(),
        properties: Vec::new(),
        time: 0.0,
    }
}
