//! JUnit XML: one testsuite for the run, one testcase per check; failures carry the plain details.

use std::fmt::Write as _;

use super::{details, outcome_word, summary_line, Shown};
use crate::grade::verdict::Outcome;
use crate::grade::GradeReport;

pub fn junit(report: &GradeReport) -> String {
    let s = &report.summary;
    // A program that cannot be launched is the submission's error, not a check skipped: a CI that shows
    // skipped tests as harmless must not show such a submission as clean.
    let unlaunchable = report.cannot_launch.is_some();
    let (errors, skipped) = if unlaunchable {
        (s.crash + s.not_run, 0)
    } else {
        (s.crash, s.not_run)
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sockspec\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.checks.len(),
        s.failed + s.timeout,
        errors,
        skipped,
        report.duration_secs
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        xml(&report.suite),
        report.checks.len(),
        s.failed + s.timeout,
        errors,
        skipped,
        report.duration_secs
    );
    let incomplete = report
        .interrupted_by
        .as_ref()
        .map_or(String::new(), |signal| {
            format!(
                "<property name=\"incomplete\" value=\"interrupted by {}\"/>",
                xml(signal)
            )
        });
    let _ = writeln!(
        out,
        "    <properties><property name=\"command\" value=\"{}\"/><property name=\"seed\" value=\"{}\"/><property name=\"replay\" value=\"{}\"/>{incomplete}</properties>",
        xml(&report.command),
        report.seed,
        xml(&report.replay)
    );
    for check in &report.checks {
        let classname = format!("{}.{}", report.suite, check.level);
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&classname),
            xml(&check.id),
            check.duration_secs
        );
        let body = xml(&details(check, Shown::all(report, check)));
        let message = xml(&format!(
            "{}: {}",
            outcome_word(check.outcome),
            check.message
        ));
        match check.outcome {
            Outcome::Pass => out.push_str("/>\n"),
            Outcome::Fail | Outcome::Timeout | Outcome::Limit => {
                let _ = writeln!(out, ">\n      <failure message=\"{message}\" type=\"{}\">{body}</failure>\n    </testcase>", check.outcome.as_str());
            }
            Outcome::NotRun if unlaunchable => {
                let _ = writeln!(out, ">\n      <error message=\"{message}\" type=\"cannot-launch\">{body}</error>\n    </testcase>");
            }
            Outcome::Crash => {
                let _ = writeln!(out, ">\n      <error message=\"{message}\" type=\"crash\">{body}</error>\n    </testcase>");
            }
            Outcome::NotRun => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{message}\"/>\n    </testcase>"
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "    <system-out>{}</system-out>",
        xml(&summary_line(report))
    );
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes text for XML attributes and content; drops the control characters XML 1.0 cannot hold.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(
            super::xml("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\\x01"
        );
    }
}
