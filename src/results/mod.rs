//! The results of a batch on disk: what was graded, and one grade report per student and assignment, written
//! so that nothing graded is ever lost or half-written, and read back by `sockspec report`.
//!
//! A batch's output directory (OUT_DIR):
//!
//! ```text
//! OUT_DIR/
//!   batch.json                       what was graded (BatchInfo): written first, before any grade
//!   results/
//!     <student>/
//!       <assignment>.json            the GradeReport, exactly as `sockspec grade --format json` writes it
//! ```
//!
//! - `<student>` is the student's folder name in the class directory, `<assignment>` the assignment's name
//!   in the class manifest, both used as they are (any UTF-8 but `/`, NUL, `.` and `..`).
//! - `batch.json` holds the layout's `format` (1), the sockspec version, the class name, the assignments
//!   (name, suite as named, seed, options), the students this directory grades (sorted), and the shard
//!   (`{"index": K, "count": N}`, 1-based) when the batch was run with `--shard K/N`.
//! - Every file is written to a temporary file in the same directory (`.tmp-*`), flushed to disk, then
//!   renamed over its name, and the directory is flushed too: a file under its final name is always whole.
//!   A crash can leave `.tmp-*` files: readers ignore them, [`ResultsDir::remove_stale_temp_files`] removes them.
//! - A result that is absent means "not graded yet" (`--resume` grades it); one that cannot be read is
//!   reported in one line and treated as absent, never a panic.
//!
//! [`class`] merges one or more such directories (the shards of a batch) into the summary that every
//! class report renders.

pub mod class;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::grade::suite::Level;
use crate::grade::GradeReport;

/// The version of this layout, in `batch.json`; a reader refuses a newer one instead of misreading it.
pub const FORMAT: u32 = 1;
/// The file that describes a batch, at the root of its output directory.
pub const BATCH_FILE: &str = "batch.json";
/// The folder of per-student results.
pub const RESULTS_DIR: &str = "results";
const TEMP_PREFIX: &str = ".tmp-";

/// What a batch graded: `batch.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchInfo {
    /// The layout version ([`FORMAT`]).
    pub format: u32,
    /// The version of sockspec that made the batch.
    pub sockspec_version: String,
    /// The class's name (the manifest's, or the class directory's name).
    pub class: String,
    /// In the manifest's order: the order of columns in every summary.
    pub assignments: Vec<AssignmentInfo>,
    /// The students this directory grades (a shard's share of the class when `shard` is set).
    pub students: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The shard this directory holds, when the class was split.
    pub shard: Option<Shard>,
}

/// One assignment of a batch and the settings every student's program was graded with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentInfo {
    /// Its name in the manifest; the file name of its results.
    pub name: String,
    /// The suite as the manifest named it: a built-in name or a path.
    pub suite: String,
    /// The seed every student of the assignment was graded with.
    pub seed: u64,
    #[serde(default)]
    /// The options every student was graded with.
    pub options: AssignmentOptions,
}

/// The grading options of an assignment that change verdicts (as `sockspec grade` flags).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentOptions {
    /// `--level`; none: the suite's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    #[serde(default)]
    /// `--strict`.
    pub strict: bool,
    /// `--prefix`; none: the suite's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default = "one")]
    /// `--timeout-scale`.
    pub timeout_scale: f64,
    /// `--only` globs: only these checks were run (none: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// `--skip` globs: these checks were not run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<String>,
}

fn one() -> f64 {
    1.0
}

impl Default for AssignmentOptions {
    fn default() -> Self {
        AssignmentOptions {
            level: None,
            strict: false,
            prefix: None,
            timeout_scale: 1.0,
            only: Vec::new(),
            skip: Vec::new(),
        }
    }
}

/// Shard K of N of a class (1-based), as `--shard K/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// K: which shard, from 1.
    pub index: u32,
    /// N: how many shards in all.
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl BatchInfo {
    /// Checks names and numbers before anything is written or rendered from them.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Usage(format!("{BATCH_FILE}: {what}")));
        if self.format > FORMAT {
            return bad(format!(
                "layout format {} is newer than this sockspec reads ({FORMAT}): use a newer sockspec",
                self.format
            ));
        }
        if self.assignments.is_empty() {
            return bad("no assignments".into());
        }
        let mut seen = std::collections::HashSet::new();
        for a in &self.assignments {
            check_name("assignment", &a.name)?;
            if !seen.insert(a.name.as_str()) {
                return bad(format!("assignment {:?} appears twice", a.name));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.students {
            check_name("student", s)?;
            if !seen.insert(s.as_str()) {
                return bad(format!("student {s:?} appears twice"));
            }
        }
        if let Some(shard) = self.shard {
            if shard.count == 0 || shard.index == 0 || shard.index > shard.count {
                return bad(format!("shard {shard} is not K/N with 1 <= K <= N"));
            }
        }
        Ok(())
    }

    /// The assignment of that name.
    pub fn assignment(&self, name: &str) -> Option<&AssignmentInfo> {
        self.assignments.iter().find(|a| a.name == name)
    }
}

/// A student or assignment name becomes a file name: it must be one.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." {
        Some("is . or ..")
    } else if name.contains('/') || name.contains('\0') {
        Some("holds / or NUL")
    } else if name.starts_with(TEMP_PREFIX) {
        Some("starts with .tmp-, which marks unfinished files")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::Usage(format!(
            "{what} name {name:?} {why}: it must be a file name"
        ))),
        None => Ok(()),
    }
}

/// What reading one stored result gave.
#[derive(Debug, Clone)]
pub enum Stored {
    /// A whole grade report.
    Graded(Box<GradeReport>),
    /// Not graded yet: no file.
    Missing,
    /// A file that is not a whole grade report (damaged, edited, from another program): why, in one line.
    Unreadable(String),
}

/// A batch output directory.
#[derive(Debug, Clone)]
pub struct ResultsDir {
    root: PathBuf,
}

impl ResultsDir {
    /// Creates (or reuses) `root` for a batch and writes its `batch.json`. Resuming a batch writes the same
    /// `BatchInfo` again; a different one is refused, so results of two different batches never mix.
    pub fn create(root: &Path, info: &BatchInfo) -> Result<ResultsDir> {
        info.validate()?;
        fs::create_dir_all(root.join(RESULTS_DIR)).map_err(|source| Error::WriteFile {
            path: root.join(RESULTS_DIR),
            source,
        })?;
        let dir = ResultsDir {
            root: root.to_path_buf(),
        };
        if dir.batch_file().exists() {
            let old = dir.info()?;
            let same = BatchInfo {
                sockspec_version: info.sockspec_version.clone(),
                ..old.clone()
            };
            if &same != info {
                return Err(Error::Usage(format!(
                    "{} holds another batch (class, assignments, seeds, options or students differ): \
                     choose another output directory",
                    root.display()
                )));
            }
        }
        let mut text = serde_json::to_string_pretty(info).expect("batch info serializes");
        text.push('\n');
        write_atomically(&dir.batch_file(), text.as_bytes())?;
        Ok(dir)
    }

    /// An existing batch directory (one with a `batch.json`).
    pub fn open(root: &Path) -> Result<ResultsDir> {
        let dir = ResultsDir {
            root: root.to_path_buf(),
        };
        if !root.is_dir() {
            return Err(Error::Usage(format!(
                "{} is not a directory of batch results",
                root.display()
            )));
        }
        if !dir.batch_file().is_file() {
            return Err(Error::Usage(format!(
                "{} has no {BATCH_FILE}: not the output directory of `sockspec batch`",
                root.display()
            )));
        }
        Ok(dir)
    }

    /// The output directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of its `batch.json`.
    pub fn batch_file(&self) -> PathBuf {
        self.root.join(BATCH_FILE)
    }

    /// Reads and checks `batch.json`.
    pub fn info(&self) -> Result<BatchInfo> {
        let path = self.batch_file();
        let text = fs::read_to_string(&path).map_err(|source| Error::ReadFile {
            path: path.clone(),
            source,
        })?;
        let info: BatchInfo = serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{}: not a sockspec batch description: {e}",
                path.display()
            ))
        })?;
        info.validate()
            .map_err(|e| Error::Usage(format!("{}: {e}", self.root.display())))?;
        Ok(info)
    }

    /// Where the result of `student` for `assignment` is kept.
    pub fn result_path(&self, student: &str, assignment: &str) -> PathBuf {
        self.root
            .join(RESULTS_DIR)
            .join(student)
            .join(format!("{assignment}.json"))
    }

    /// Stores a finished grade: whole or not at all, on disk before this returns.
    pub fn write_result(
        &self,
        student: &str,
        assignment: &str,
        report: &GradeReport,
    ) -> Result<()> {
        check_name("student", student)?;
        check_name("assignment", assignment)?;
        let path = self.result_path(student, assignment);
        let dir = path.parent().expect("a result has a folder");
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|source| Error::WriteFile {
                path: dir.to_path_buf(),
                source,
            })?;
            // The new folder's name must be on disk too, or a power cut could lose every result in it.
            sync_dir(&self.root.join(RESULTS_DIR));
        }
        write_atomically(&path, crate::report::json(report).as_bytes())
    }

    /// Reads one stored result; a damaged file is [`Stored::Unreadable`] with a one-line reason.
    pub fn read_result(&self, student: &str, assignment: &str) -> Stored {
        let path = self.result_path(student, assignment);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Stored::Missing,
            Err(e) => return Stored::Unreadable(format!("{}: cannot read: {e}", path.display())),
        };
        match serde_json::from_slice::<GradeReport>(&bytes) {
            Ok(report) => Stored::Graded(Box::new(report)),
            Err(e) => Stored::Unreadable(format!(
                "{}: not a whole grade report ({e}); grade it again (`sockspec batch --resume` does)",
                path.display()
            )),
        }
    }

    /// Folders under `results/` that are no student of `batch.json` (left from another run, or made by
    /// hand): a summary says so rather than dropping them unseen.
    pub fn strangers(&self, info: &BatchInfo) -> Vec<String> {
        let Ok(entries) = fs::read_dir(self.root.join(RESULTS_DIR)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !name.starts_with(TEMP_PREFIX) && !info.students.contains(name))
            .collect();
        names.sort();
        names
    }

    /// Removes the temporary files an interrupted writer left; returns how many.
    pub fn remove_stale_temp_files(&self) -> Result<usize> {
        let mut removed = 0;
        let mut dirs = vec![self.root.clone(), self.root.join(RESULTS_DIR)];
        if let Ok(entries) = fs::read_dir(self.root.join(RESULTS_DIR)) {
            dirs.extend(
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir()),
            );
        }
        for dir in dirs {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.filter_map(|e| e.ok()) {
                let is_temp = entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(TEMP_PREFIX));
                if is_temp && entry.path().is_file() {
                    fs::remove_file(entry.path()).map_err(|source| Error::WriteFile {
                        path: entry.path(),
                        source,
                    })?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk, renames it to `path` and flushes
/// the directory: readers see the old file or the whole new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let failed = |source| Error::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        // As a file written in place would be: readable by others unless the umask says otherwise.
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(failed)?;
    file.write_all(bytes)
        .and_then(|_| file.as_file().sync_all())
        .map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    sync_dir(dir);
    Ok(())
}

/// Flushes a directory's entries (a rename into it) to disk. Best effort: some file systems refuse it, and
/// the data itself is already flushed.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}
