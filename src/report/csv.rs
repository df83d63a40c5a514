//! CSV (RFC 4180): one row per student, for a spreadsheet.
//!
//! Columns: `student`; `<assignment> points` for each assignment; `total`, `max`, `required passed`,
//! `required total`; `<assignment> mode` for each assignment whose reports state a server mode; `notes`
//! (why an assignment has no verdicts: not launched, not graded, unreadable, interrupted); then one column
//! per check, `<assignment>/<level>/<name>`, holding its outcome (`pass`, `fail`, `timeout`, `crash`, `limit`,
//! `not-run`) or why there is none (`not-graded`, `unreadable`, `unfinished`, `not-selected`).
//! UTF-8, CRLF line ends, fields quoted when they hold a comma, a quote or a line break.

use super::{mode_word, trim_points};
use crate::results::class::Class;
use crate::results::Stored;

pub fn csv(class: &Class, bom: bool) -> String {
    let columns = class.columns();
    let mode_of: Vec<usize> = (0..class.assignments.len())
        .filter(|&a| {
            class
                .students
                .iter()
                .any(|s| s.graded(a).is_some_and(|r| r.mode.is_some()))
        })
        .collect();
    let mut out = String::new();
    if bom {
        out.push('\u{feff}');
    }
    let mut header = vec!["student".to_string()];
    header.extend(
        class
            .assignments
            .iter()
            .map(|a| format!("{} points", a.name)),
    );
    header.extend(
        ["total", "max", "required passed", "required total"]
            .iter()
            .map(|s| s.to_string()),
    );
    header.extend(
        mode_of
            .iter()
            .map(|&a| format!("{} mode", class.assignments[a].name)),
    );
    header.push("notes".to_string());
    header.extend(
        columns
            .iter()
            .map(|c| format!("{}/{}", class.assignments[c.assignment].name, c.short)),
    );
    push_record(&mut out, &header);
    for student in &class.students {
        let totals = class.totals(student);
        let mut row = vec![student.id.clone()];
        row.extend((0..class.assignments.len()).map(|a| {
            student
                .graded(a)
                .map_or(String::new(), |r| trim_points(r.summary.points))
        }));
        row.push(trim_points(totals.points));
        row.push(trim_points(totals.max_points));
        row.push(totals.required_passed.to_string());
        row.push(totals.required_total.to_string());
        row.extend(mode_of.iter().map(|&a| {
            student
                .graded(a)
                .and_then(|r| r.mode)
                .map_or(String::new(), |m| mode_word(m).to_string())
        }));
        row.push(notes(class, student));
        row.extend(columns.iter().map(|c| student.cell(c).word().to_string()));
        push_record(&mut out, &row);
    }
    out
}

/// Why an assignment has no full set of verdicts, one `assignment: reason` per assignment, `; ` between.
fn notes(class: &Class, student: &crate::results::class::Student) -> String {
    let mut notes = Vec::new();
    for (a, result) in student.results.iter().enumerate() {
        let name = &class.assignments[a].name;
        match result {
            Stored::Graded(report) => {
                if let Some(why) = &report.cannot_launch {
                    notes.push(format!("{name}: not launched: {why}"));
                }
                if let Some(why) = report.incomplete_reason() {
                    notes.push(format!("{name}: grading did not finish: {why}"));
                }
                if report.summary.harness_fault {
                    notes.push(format!("{name}: a fault of the grader; grade again"));
                }
            }
            Stored::Missing => notes.push(format!("{name}: not graded yet")),
            Stored::Unreadable(_) => notes.push(format!("{name}: stored result unreadable")),
        }
    }
    notes.join("; ")
}

fn push_record(out: &mut String, fields: &[String]) {
    for (n, field) in fields.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(&quote(field));
    }
    out.push_str("\r\n");
}

/// A field as RFC 4180 writes it: in quotes (inner quotes doubled) when it holds `,`, `"`, CR or LF.
pub fn quote(field: &str) -> String {
    if field.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(quote("张伟"), "张伟");
        assert_eq!(quote("Li, Na"), "\"Li, Na\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("two\nlines"), "\"two\nlines\"");
    }
}
