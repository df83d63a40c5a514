//! The class manifest, `sockspec.toml` at the root of a class folder: the assignments to grade, how to
//! find each student's program, the command that runs it and the suite's options. Every mistake is one
//! [`Error::Manifest`] naming the file, the line and the field, found before anything is graded.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::grade::ctx::Options;
use crate::grade::suite::{Level, Suite};
use crate::grade::template::Template;
use crate::grade::GradeConfig;
use crate::results::AssignmentOptions;

/// The manifest's file name in a class folder.
pub const FILE_NAME: &str = "sockspec.toml";

/// What `sockspec batch --init` writes: every field, commented.
pub const INIT: &str = include_str!("init.toml");

/// A checked class manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it was read from.
    pub path: PathBuf,
    /// The class's name: the manifest's `class`, or the class folder's name.
    pub class: String,
    /// The seed every assignment without its own uses, when fixed.
    pub seed: Option<u64>,
    /// Folder names that are no student's.
    pub ignore: Vec<String>,
    /// The assignments, in the manifest's order.
    pub assignments: Vec<Assignment>,
}

/// One assignment of the manifest, its suite loaded.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// Its name: the column of summaries and the file name of its results.
    pub name: String,
    /// The suite as the manifest names it (a built-in name, or a path relative to the manifest).
    pub suite_name: String,
    /// The suite as `sockspec grade` would be given it from the current directory (a built-in name, or
    /// the path joined to the manifest's folder): the replay line's.
    pub suite_source: String,
    /// The suite, loaded and checked.
    pub suite: Suite,
    /// Glob patterns, in order; the first that matches a file wins.
    pub files: Vec<String>,
    /// The command template; `None`: by the file's extension (see [`default_command`]).
    pub command: Option<Vec<String>>,
    /// `--level` for every student; `None`: the suite's.
    pub level: Option<Level>,
    /// `--strict` for every student.
    pub strict: bool,
    /// `--prefix` for every student; `None`: the suite's.
    pub prefix: Option<String>,
    /// `--timeout-scale` for every student.
    pub timeout_scale: f64,
    /// `--only` globs (empty: every check).
    pub only: Vec<String>,
    /// `--skip` globs.
    pub skip: Vec<String>,
    /// This assignment's own seed, when fixed.
    pub seed: Option<u64>,
    /// Per-student overrides, by folder name.
    pub overrides: BTreeMap<String, Override>,
}

/// What one student does differently for one assignment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Override {
    /// The program, relative to the student's folder (instead of the patterns).
    pub file: Option<String>,
    /// The command template (instead of the assignment's).
    pub command: Option<Vec<String>>,
}

impl Assignment {
    /// The grading configuration of one program: `command` is the template with `{program}` already
    /// replaced by the program's path; `seed` the assignment's.
    pub fn config(&self, command: Vec<String>, seed: u64) -> Result<GradeConfig> {
        // Not through `Grade::config`: that refuses an interpreter it cannot find, which the manifest
        // checks once per assignment with the line to blame (see `command` below).
        let template = Template::new(&command, &self.suite)?;
        let mut options = Options {
            strict: self.strict,
            timeout_scale: self.timeout_scale,
            ..Options::default()
        };
        if let Some(prefix) = self.prefix.as_ref().or(self.suite.prefix.as_ref()) {
            options.prefix = prefix.as_bytes().to_vec();
        }
        Ok(GradeConfig {
            suite_source: self.suite_source.clone(),
            required_level: self.level.unwrap_or(self.suite.required_level),
            template,
            only: self.only.clone(),
            skip: self.skip.clone(),
            seed,
            options,
            suite: self.suite.clone(),
            lang: crate::i18n::Lang::En,
        })
    }

    /// The options that change verdicts, as `batch.json` records them.
    pub fn options(&self) -> AssignmentOptions {
        AssignmentOptions {
            level: self.level,
            strict: self.strict,
            prefix: self.prefix.clone(),
            timeout_scale: self.timeout_scale,
            only: self.only.clone(),
            skip: self.skip.clone(),
        }
    }
}

/// The placeholder for the student's program in a command template.
pub const PROGRAM: &str = "{program}";

/// The command of a program the manifest gives none for: `python3 {program}` for Python, the file itself
/// for anything else (an executable, a script with a `#!` line).
pub fn default_command(program: &str) -> Vec<String> {
    if program.to_lowercase().ends_with(".py") {
        vec!["python3".into(), PROGRAM.into()]
    } else {
        vec![PROGRAM.into()]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    class: Option<Spanned<String>>,
    seed: Option<Spanned<i64>>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    #[serde(default)]
    assignment: Vec<Spanned<RawAssignment>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssignment {
    name: Spanned<String>,
    suite: Spanned<String>,
    files: Spanned<Vec<String>>,
    command: Option<Spanned<RawCommand>>,
    level: Option<Spanned<Level>>,
    #[serde(default)]
    strict: bool,
    prefix: Option<Spanned<String>>,
    timeout_scale: Option<Spanned<f64>>,
    #[serde(default)]
    only: Vec<Spanned<String>>,
    #[serde(default)]
    skip: Vec<Spanned<String>>,
    seed: Option<Spanned<i64>>,
    #[serde(default, rename = "override")]
    overrides: BTreeMap<Spanned<String>, Spanned<RawOverride>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverride {
    file: Option<Spanned<String>>,
    command: Option<Spanned<RawCommand>>,
}

/// A command as a string split at spaces, or as an array (for arguments holding spaces).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawCommand {
    Line(String),
    Words(Vec<String>),
}

/// Where errors point: the manifest's path and text.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, at: usize) -> usize {
        let at = at.min(self.text.len());
        self.text.as_bytes()[..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> Error {
        Error::Manifest {
            path: self.path.to_path_buf(),
            line: self.line(span.start),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl Manifest {
    /// Reads `CLASS_DIR/sockspec.toml`.
    pub fn load(class_dir: &Path) -> Result<Manifest> {
        let path = class_dir.join(FILE_NAME);
        if !class_dir.is_dir() {
            return Err(Error::Usage(format!(
                "{} is not a directory: give the class folder (one sub-folder per student)",
                class_dir.display()
            )));
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Usage(format!(
                    "{} has no class manifest {FILE_NAME}: `sockspec batch --init {}` writes a \
                     commented one",
                    class_dir.display(),
                    class_dir.display()
                )))
            }
            Err(source) => return Err(Error::ReadFile { path, source }),
        };
        let default_class = class_dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "class".into());
        Manifest::parse(&text, &path, &default_class)
    }

    /// Parses and checks a manifest's text; `path` names it in errors, and suite files are relative to
    /// its folder.
    pub fn parse(text: &str, path: &Path, default_class: &str) -> Result<Manifest> {
        let src = Source { path, text };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().lines().next().unwrap_or("invalid TOML");
            src.error(span.clone(), &field_at(text, span), message)
        })?;
        let class = match raw.class {
            Some(c) if c.get_ref().trim().is_empty() => {
                return Err(src.error(c.span(), "class", "is empty"))
            }
            Some(c) => c.into_inner(),
            None => default_class.to_string(),
        };
        let seed = raw.seed.map(|s| seed(&src, "seed", s)).transpose()?;
        let mut ignore = Vec::new();
        for name in raw.ignore {
            crate::results::check_name("folder", name.get_ref())
                .map_err(|e| src.error(name.span(), "ignore", e.to_string()))?;
            ignore.push(name.into_inner());
        }
        if raw.assignment.is_empty() {
            return Err(src.error(
                0..0,
                "assignment",
                "no [[assignment]]: name at least one program to grade (`sockspec batch --init` \
                 writes an example)",
            ));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut assignments: Vec<Assignment> = Vec::new();
        for a in raw.assignment {
            let span = a.span();
            let assignment = assignment(&src, dir, a.into_inner())?;
            if assignments.iter().any(|b| b.name == assignment.name) {
                return Err(src.error(
                    span,
                    "name",
                    format!("assignment {:?} appears twice", assignment.name),
                ));
            }
            assignments.push(assignment);
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            class,
            seed,
            ignore,
            assignments,
        })
    }
}

fn assignment(src: &Source, dir: &Path, a: RawAssignment) -> Result<Assignment> {
    let name = a.name.get_ref().clone();
    crate::results::check_name("assignment", &name)
        .map_err(|e| src.error(a.name.span(), "name", e.to_string()))?;
    let suite_name = a.suite.get_ref().clone();
    let is_builtin = crate::grade::suite::builtin_names().any(|n| n == suite_name);
    let suite_source = if is_builtin {
        suite_name.clone()
    } else {
        dir.join(&suite_name).display().to_string()
    };
    if !is_builtin && !Path::new(&suite_source).is_file() {
        let names: Vec<&str> = crate::grade::suite::builtin_names().collect();
        return Err(src.error(
            a.suite.span(),
            "suite",
            format!(
                "no built-in suite and no suite file named {suite_name:?} (files are relative to \
                 the manifest): built-in suites are {}",
                names.join(", ")
            ),
        ));
    }
    let suite = Suite::load(&suite_source)
        .map_err(|e| src.error(a.suite.span(), "suite", e.to_string()))?;
    if a.files.get_ref().is_empty() {
        return Err(src.error(
            a.files.span(),
            "files",
            "no pattern: give at least one, such as \"*server*.py\"",
        ));
    }
    for pattern in a.files.get_ref() {
        if pattern.is_empty() || pattern.starts_with('/') || pattern.split('/').any(|p| p == "..") {
            return Err(src.error(
                a.files.span(),
                "files",
                format!("{pattern:?} must be a pattern inside the student's folder"),
            ));
        }
    }
    let template = a
        .command
        .map(|c| command(src, "command", c, &suite))
        .transpose()?;
    let timeout_scale = match a.timeout_scale {
        Some(s) if !(s.get_ref().is_finite() && *s.get_ref() > 0.0 && *s.get_ref() <= 100.0) => {
            return Err(src.error(
                s.span(),
                "timeout_scale",
                format!("{} is not a factor between 0 and 100", s.get_ref()),
            ))
        }
        Some(s) => s.into_inner(),
        None => 1.0,
    };
    let mut overrides = BTreeMap::new();
    for (student, o) in a.overrides {
        crate::results::check_name("student", student.get_ref())
            .map_err(|e| src.error(student.span(), "override", e.to_string()))?;
        let o_span = o.span();
        let o = o.into_inner();
        let file = match o.file {
            Some(f) if f.get_ref().is_empty() || Path::new(f.get_ref()).is_absolute() => {
                return Err(src.error(
                    f.span(),
                    "override.file",
                    "must be a path inside the student's folder",
                ))
            }
            Some(f) if f.get_ref().split('/').any(|p| p == "..") => {
                return Err(src.error(
                    f.span(),
                    "override.file",
                    "must be a path inside the student's folder (no ..)",
                ))
            }
            Some(f) => Some(f.into_inner()),
            None => None,
        };
        let command = o
            .command
            .map(|c| command(src, "override.command", c, &suite))
            .transpose()?;
        if file.is_none() && command.is_none() {
            return Err(src.error(o_span, "override", "gives neither file nor command"));
        }
        overrides.insert(student.into_inner(), Override { file, command });
    }
    let assignment = Assignment {
        name,
        suite_name,
        suite_source,
        files: a.files.into_inner(),
        command: template,
        level: a.level.map(Spanned::into_inner),
        strict: a.strict,
        prefix: a.prefix.map(Spanned::into_inner),
        timeout_scale,
        only: a.only.iter().map(|s| s.get_ref().clone()).collect(),
        skip: a.skip.iter().map(|s| s.get_ref().clone()).collect(),
        seed: a.seed.map(|s| seed(src, "seed", s)).transpose()?,
        overrides,
        suite,
    };
    // The selection must leave a check to run, as `sockspec grade --only` requires.
    let probe = assignment.config(vec!["program".into()], 0);
    if let Err(e) = probe.and_then(|c| c.selected().map(drop)) {
        let span = a
            .only
            .first()
            .or(a.skip.first())
            .map_or(0..0, Spanned::span);
        return Err(src.error(span, "only", e.to_string()));
    }
    Ok(assignment)
}

fn seed(src: &Source, field: &str, seed: Spanned<i64>) -> Result<u64> {
    u64::try_from(*seed.get_ref())
        .map_err(|_| src.error(seed.span(), field, "a seed is a number from 0 up"))
}

/// A command template, checked: `{program}` named, placeholders the suite gives, an interpreter that is
/// installed (a missing one would fail every student alike: the manifest's fault).
fn command(
    src: &Source,
    field: &str,
    raw: Spanned<RawCommand>,
    suite: &Suite,
) -> Result<Vec<String>> {
    let span = raw.span();
    let words = match raw.into_inner() {
        RawCommand::Words(words) => words,
        RawCommand::Line(line) => {
            if line.contains(['"', '\'', '\\']) {
                return Err(src.error(
                    span,
                    field,
                    "quotes are not read here: give the command as an array, \
                     [\"python3\", \"{program}\", \"a b\"]",
                ));
            }
            line.split_whitespace().map(String::from).collect()
        }
    };
    if words.is_empty() {
        return Err(src.error(span, field, "is empty"));
    }
    if !words.iter().any(|w| w.contains(PROGRAM)) {
        return Err(src.error(
            span,
            field,
            format!("names no {PROGRAM}: the student's file goes there (\"python3 {PROGRAM}\")"),
        ));
    }
    let shown: Vec<String> = words
        .iter()
        .map(|w| w.replace(PROGRAM, "program"))
        .collect();
    Template::new(&shown, suite).map_err(|e| src.error(span.clone(), field, e.to_string()))?;
    if let Some(name) = words.first().filter(|n| !n.contains(['/', '{'])) {
        crate::grade::launch::resolve_program(name, &[])
            .map_err(|e| src.error(span, field, e.to_string()))?;
    }
    Ok(words)
}

/// The key or value at `span` of a TOML error, as the field it names (`suit` in "unknown field `suit`").
/// A value's error (`level = "expert"`) names the key before it on its line.
fn field_at(text: &str, span: Range<usize>) -> String {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    if let Some((key, _)) = text.get(line_start..start).and_then(|p| p.split_once('=')) {
        let key = key.trim().trim_matches('"');
        if !key.is_empty() {
            return key.to_string();
        }
    }
    let word = text.get(span).unwrap_or("").trim();
    let word = word.trim_matches(|c| c == '"' || c == '[' || c == ']');
    let is_key = !word.is_empty()
        && word.len() <= 40
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
    if is_key {
        word.to_string()
    } else {
        "manifest".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(text, Path::new("class/sockspec.toml"), "class")
    }

    #[test]
    fn the_init_manifest_parses() {
        let m = parse(INIT).unwrap();
        assert_eq!(m.class, "class");
        assert_eq!(m.assignments.len(), 1);
        assert_eq!(m.assignments[0].files[0], "*echo*server*.py");
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let text = "[[assignment]]\nname = \"echo\"\nsuite = \"echo-srv\"\nfiles = [\"*.py\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with("class/sockspec.toml:3: suite: "), "{err}");
        let text = "[[assignment]]\nname = \"echo\"\nsuit = \"echo-server\"\nfiles = [\"*.py\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.starts_with("class/sockspec.toml:3: suit: unknown field"),
            "{err}"
        );
        let text = "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\n\
                    command = \"python3 x.py\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.starts_with("class/sockspec.toml:5: command: names no {program}"),
            "{err}"
        );
        let text = "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\n\
                    timeout_scale = 0\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.starts_with("class/sockspec.toml:5: timeout_scale: "),
            "{err}"
        );
        let text = "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\n\
                    only = [\"nothing/*\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.starts_with("class/sockspec.toml:5: only: no check"),
            "{err}"
        );
    }

    #[test]
    fn commands_are_split_or_given_as_arrays() {
        let text = "[[assignment]]\nname = \"e\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\n\
                    command = \"python3 -u {program} {port}\"\n\
                    [assignment.override.\"王小明\"]\ncommand = [\"python3\", \"{program}\", \"a b\"]\n";
        let m = parse(text).unwrap();
        let a = &m.assignments[0];
        assert_eq!(
            a.command.as_ref().unwrap(),
            &["python3", "-u", "{program}", "{port}"]
        );
        assert_eq!(
            a.overrides["王小明"].command.as_ref().unwrap(),
            &["python3", "{program}", "a b"]
        );
    }
}
