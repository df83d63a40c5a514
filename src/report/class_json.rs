//! The merged results of a class as JSON: the class, its assignments (as `batch.json` has them), and per
//! student their totals and, per assignment, the stored grade report whole (`status: graded`), or why
//! there is none (`not-graded`, `unreadable`). Independent of how the batch was sharded.

use serde::Serialize;

use crate::grade::GradeReport;
use crate::results::class::Class;
use crate::results::{AssignmentInfo, Stored};

#[derive(Serialize)]
struct ClassJson<'a> {
    sockspec_version: &'static str,
    class: &'a str,
    assignments: &'a [AssignmentInfo],
    students: Vec<StudentJson<'a>>,
}

#[derive(Serialize)]
struct StudentJson<'a> {
    id: &'a str,
    points: f64,
    max_points: f64,
    required_passed: usize,
    required_total: usize,
    results: Vec<ResultJson<'a>>,
}

#[derive(Serialize)]
struct ResultJson<'a> {
    assignment: &'a str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a GradeReport>,
}

pub fn class_json(class: &Class) -> String {
    let students = class
        .students
        .iter()
        .map(|student| {
            let totals = class.totals(student);
            StudentJson {
                id: &student.id,
                points: totals.points,
                max_points: totals.max_points,
                required_passed: totals.required_passed,
                required_total: totals.required_total,
                results: student
                    .results
                    .iter()
                    .zip(&class.assignments)
                    .map(|(result, assignment)| {
                        let (status, reason, report) = match result {
                            Stored::Graded(report) => ("graded", None, Some(report.as_ref())),
                            Stored::Missing => ("not-graded", None, None),
                            Stored::Unreadable(why) => ("unreadable", Some(why.as_str()), None),
                        };
                        ResultJson {
                            assignment: &assignment.name,
                            status,
                            reason,
                            report,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let json = ClassJson {
        sockspec_version: env!("CARGO_PKG_VERSION"),
        class: &class.name,
        assignments: &class.assignments,
        students,
    };
    let mut text = serde_json::to_string_pretty(&json).expect("class results serialize to JSON");
    text.push('\n');
    text
}
