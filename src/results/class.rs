//! A class's results as every summary sees them: students (in natural order) × assignments, merged from
//! one batch directory or from the directories of its shards, and the check columns of each assignment.
//!
//! The merge depends only on the stored results, never on how they were split: the shards of a batch give
//! the same `Class`, and so byte-identical summaries, as the unsharded batch.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::PathBuf;

use super::{AssignmentInfo, ResultsDir, Shard, Stored};
use crate::error::{Error, Result};
use crate::grade::suite::Level;
use crate::grade::verdict::Outcome;
use crate::grade::GradeReport;

/// The results of a class.
#[derive(Debug, Clone)]
pub struct Class {
    /// The class's name, from its manifest.
    pub name: String,
    /// The assignments graded, in the manifest's order.
    pub assignments: Vec<AssignmentInfo>,
    /// In natural order of their ids (`s2` before `s10`).
    pub students: Vec<Student>,
}

/// One student and a result per assignment, in the order of [`Class::assignments`].
#[derive(Debug, Clone)]
pub struct Student {
    /// The student's folder name; empty for the lone program of `sockspec grade`.
    pub id: String,
    /// One result per assignment, in the order of [`Class::assignments`].
    pub results: Vec<Stored>,
}

/// A class loaded from disk, with one line per thing a reader should know (damaged files, missing shards).
#[derive(Debug)]
pub struct Loaded {
    /// The class as far as it could be read.
    pub class: Class,
    /// What a reader should know about what could not be read, one line each.
    pub warnings: Vec<String>,
}

/// One check of one assignment: a column of the summaries.
#[derive(Debug, Clone)]
pub struct Column {
    /// Index into [`Class::assignments`].
    pub assignment: usize,
    /// The check's id (`echo-server/basic/ascii`).
    pub id: String,
    /// The id without its suite (`basic/ascii`).
    pub short: String,
    /// The lesson level of the check.
    pub level: Level,
    /// Whether the check is required.
    pub required: bool,
    /// What the check asks, in English.
    pub requirement: String,
    /// The socket concept the check exercises.
    pub concept: String,
    /// Points the check is worth.
    pub points: f64,
    /// Whether its points count toward the score.
    pub counts: bool,
}

/// A student's totals over every assignment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    /// Points earned over every assignment.
    pub points: f64,
    /// Points available over every assignment.
    pub max_points: f64,
    /// Required checks passed.
    pub required_passed: usize,
    /// Required checks in every assignment.
    pub required_total: usize,
}

impl Class {
    /// Reads and merges batch directories: one, or the shards of one batch (any order).
    pub fn load(dirs: &[PathBuf]) -> Result<Loaded> {
        let mut warnings = Vec::new();
        let mut first: Option<(PathBuf, super::BatchInfo)> = None;
        let mut owner: HashMap<String, PathBuf> = HashMap::new();
        let mut students = Vec::new();
        let mut shards: Vec<Shard> = Vec::new();
        for root in dirs {
            let dir = ResultsDir::open(root)?;
            let info = dir.info()?;
            if let Some((first_root, first_info)) = &first {
                same_batch(first_root, first_info, root, &info)?;
            }
            shards.extend(info.shard);
            for stranger in dir.strangers(&info) {
                warnings.push(format!(
                    "{}: results/{stranger} is not a student of its {}: left out",
                    root.display(),
                    super::BATCH_FILE
                ));
            }
            for id in &info.students {
                if let Some(other) = owner.insert(id.clone(), root.clone()) {
                    return Err(Error::Usage(format!(
                        "student {id:?} is in both {} and {}: give each shard's directory once",
                        other.display(),
                        root.display()
                    )));
                }
                let results = info
                    .assignments
                    .iter()
                    .map(|a| dir.read_result(id, &a.name))
                    .collect::<Vec<_>>();
                for result in &results {
                    if let Stored::Unreadable(why) = result {
                        warnings.push(why.clone());
                    }
                }
                students.push(Student {
                    id: id.clone(),
                    results,
                });
            }
            if first.is_none() {
                first = Some((root.clone(), info));
            }
        }
        let Some((_, info)) = first else {
            return Err(Error::Usage("no results directory given".into()));
        };
        warnings.extend(shard_warnings(&shards, dirs.len()));
        let missing = students
            .iter()
            .flat_map(|s| &s.results)
            .filter(|r| matches!(r, Stored::Missing))
            .count();
        if missing > 0 {
            warnings.push(format!(
                "{missing} result(s) not graded yet (an interrupted batch? `sockspec batch --resume` \
                 finishes it): shown as not graded"
            ));
        }
        students.sort_by(|a, b| natural_cmp(&a.id, &b.id));
        let class = Class {
            name: info.class,
            assignments: info.assignments,
            students,
        };
        Ok(Loaded { class, warnings })
    }

    /// The lone report of `sockspec grade` seen as a class of one anonymous student and one assignment
    /// (named after its suite), so every format renders a single grade the same way.
    pub fn lone(report: GradeReport) -> Class {
        Class {
            name: report.suite.clone(),
            assignments: vec![AssignmentInfo {
                name: report.suite.clone(),
                suite: report.suite.clone(),
                seed: report.seed,
                options: super::AssignmentOptions {
                    level: Some(report.required_level),
                    strict: report.strict,
                    prefix: Some(report.prefix.clone()),
                    timeout_scale: report.timeout_scale,
                    only: report.only.clone(),
                    skip: report.skip.clone(),
                },
            }],
            students: vec![Student {
                id: String::new(),
                results: vec![Stored::Graded(Box::new(report))],
            }],
        }
    }

    /// True for [`Class::lone`]: formats print a single grade as `sockspec grade` always has.
    pub fn is_lone(&self) -> bool {
        self.students.len() == 1 && self.students[0].id.is_empty() && self.assignments.len() == 1
    }

    /// The checks of every assignment, in suite order (the union over students, first seen first).
    pub fn columns(&self) -> Vec<Column> {
        let mut columns = Vec::new();
        for a in 0..self.assignments.len() {
            let mut seen: Vec<Column> = Vec::new();
            for report in self.students.iter().filter_map(|s| s.graded(a)) {
                for check in &report.checks {
                    if seen.iter().any(|c| c.id == check.id) {
                        continue;
                    }
                    let short = check
                        .id
                        .strip_prefix(&format!("{}/", report.suite))
                        .unwrap_or(&check.id)
                        .to_string();
                    seen.push(Column {
                        assignment: a,
                        id: check.id.clone(),
                        short,
                        level: check.level,
                        required: check.required,
                        requirement: check.requirement.clone(),
                        concept: check.concept.clone(),
                        points: check.points,
                        counts: check.counts,
                    });
                }
            }
            columns.extend(seen);
        }
        columns
    }

    /// The most points an assignment gives (the same for every student of a batch; a student whose
    /// result is missing is counted out of it too, so totals stay comparable).
    pub fn max_points(&self, assignment: usize) -> f64 {
        self.students
            .iter()
            .filter_map(|s| s.graded(assignment))
            .map(|r| r.summary.max_points)
            .fold(0.0, f64::max)
    }

    /// The number of required checks of an assignment.
    pub fn required_total(&self, assignment: usize) -> usize {
        self.students
            .iter()
            .filter_map(|s| s.graded(assignment))
            .map(|r| r.summary.required_total)
            .max()
            .unwrap_or(0)
    }

    /// A student's totals over every assignment; an assignment without a readable report earns 0
    /// but still counts its points and required checks as available.
    pub fn totals(&self, student: &Student) -> Totals {
        let mut totals = Totals {
            points: 0.0,
            max_points: 0.0,
            required_passed: 0,
            required_total: 0,
        };
        for a in 0..self.assignments.len() {
            totals.max_points += self.max_points(a);
            totals.required_total += self.required_total(a);
            if let Some(report) = student.graded(a) {
                totals.points += report.summary.points;
                totals.required_passed += report.summary.required_passed;
            }
        }
        totals
    }
}

impl Student {
    /// The report of assignment `a`, when there is a readable one.
    pub fn graded(&self, a: usize) -> Option<&GradeReport> {
        match self.results.get(a) {
            Some(Stored::Graded(report)) => Some(report),
            _ => None,
        }
    }

    /// What this student got on a column: the outcome, or why there is none.
    pub fn cell(&self, column: &Column) -> Cell<'_> {
        match &self.results[column.assignment] {
            Stored::Graded(report) => match report.checks.iter().find(|c| c.id == column.id) {
                Some(check) => Cell::Ran(check),
                None if report.incomplete => Cell::Unfinished,
                None => Cell::NotSelected,
            },
            Stored::Missing => Cell::NotGraded,
            Stored::Unreadable(_) => Cell::Unreadable,
        }
    }
}

/// One student's result on one check.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// The check ran: its report.
    Ran(&'a crate::grade::verdict::CheckReport),
    /// The report exists but this check was not in it (`--only`/`--skip` differ).
    NotSelected,
    /// The grade was interrupted before this check ran.
    Unfinished,
    /// The student has no result for the assignment.
    NotGraded,
    /// The student's stored result could not be read.
    Unreadable,
}

impl Cell<'_> {
    /// The word every summary uses: an outcome (`pass`, `fail`, `timeout`, `crash`, `not-run`), or
    /// `not-graded`, `unreadable`, `unfinished`, `not-selected`.
    pub fn word(&self) -> &'static str {
        match self {
            Cell::Ran(check) => check.outcome.as_str(),
            Cell::NotSelected => "not-selected",
            Cell::Unfinished => "unfinished",
            Cell::NotGraded => "not-graded",
            Cell::Unreadable => "unreadable",
        }
    }

    /// Whether the check ran and passed.
    pub fn passed(&self) -> bool {
        matches!(self, Cell::Ran(c) if c.outcome == Outcome::Pass)
    }
}

/// Two directories are shards of one batch when they grade the same class with the same assignments.
fn same_batch(
    a_root: &std::path::Path,
    a: &super::BatchInfo,
    b_root: &std::path::Path,
    b: &super::BatchInfo,
) -> Result<()> {
    let differ = |what: &str| {
        Err(Error::Usage(format!(
            "{} and {} are not shards of one batch: their {what} differ",
            a_root.display(),
            b_root.display()
        )))
    };
    if a.class != b.class {
        return differ("class names");
    }
    if a.assignments != b.assignments {
        return differ("assignments (names, suites, seeds or options)");
    }
    if a.shard.map(|s| s.count) != b.shard.map(|s| s.count) {
        return differ("shard counts");
    }
    Ok(())
}

/// Shards that were not given, or given twice.
fn shard_warnings(shards: &[Shard], dirs: usize) -> Vec<String> {
    let Some(count) = shards.first().map(|s| s.count) else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    if shards.len() < dirs {
        warnings.push("some directories are shards and some are not".to_string());
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !shards.iter().any(|s| s.index == *k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        warnings.push(format!(
            "shard(s) {} not given: their students are not in this summary",
            missing.join(", ")
        ));
    }
    warnings
}

/// Orders names as people expect: runs of digits by their value (`s2` < `s10`), the rest by character;
/// names equal that way are ordered by their bytes, so the order is total and stable.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        match (x.chars().next(), y.chars().next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let (nx, rx) = split_digits(x);
                let (ny, ry) = split_digits(y);
                let (tx, ty) = (nx.trim_start_matches('0'), ny.trim_start_matches('0'));
                let by_value = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if by_value != Ordering::Equal {
                    return by_value;
                }
                (x, y) = (rx, ry);
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(&d);
                }
                (x, y) = (&x[c.len_utf8()..], &y[d.len_utf8()..]);
            }
        }
    }
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_naturally_and_totally() {
        let mut names = vec!["s10", "s2", "s1", "s02", "张伟", "Li, Na", "s2a", ""];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            vec!["", "Li, Na", "s1", "s02", "s2", "s2a", "s10", "张伟"]
        );
    }

    #[test]
    fn missing_shards_are_named() {
        let shards = [Shard { index: 1, count: 3 }, Shard { index: 3, count: 3 }];
        let warnings = shard_warnings(&shards, 2);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("2/3"), "{warnings:?}");
        assert!(shard_warnings(&[], 1).is_empty());
    }
}
