//! A class folder made for one test (fixture submissions copied into one folder per student), and
//! `sockspec batch` run on it as a teacher would, with a check that nothing it started is left.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

/// Environment variable every program launched by one run inherits, so the test finds leftovers.
pub const TOKEN_VAR: &str = "SOCKSPEC_TEST_TOKEN";

/// Every run of these tests: generous for a loaded machine (the classes are a few quick grades).
pub const LIMIT: Duration = Duration::from_secs(300);

pub fn submissions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions")
}

/// A token unique to one run in this test process.
pub fn fresh_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "batch-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A class in a temporary directory: `class/` (the students and the manifest), `tmp/` (the grader's
/// TMPDIR, one folder in it per run, to see it left nothing), and room for output directories.
pub struct TestClass {
    pub root: tempfile::TempDir,
}

impl TestClass {
    /// `students`: (folder, [(fixture under fixtures/submissions, file name in the folder)]).
    pub fn new(manifest: &str, students: &[(&str, &[(&str, &str)])]) -> TestClass {
        let root = tempfile::tempdir().unwrap();
        let class = root.path().join("class");
        fs::create_dir_all(&class).unwrap();
        fs::create_dir_all(root.path().join("tmp")).unwrap();
        fs::write(class.join("sockspec.toml"), manifest).unwrap();
        for (student, files) in students {
            fs::create_dir_all(class.join(student)).unwrap();
            for (fixture, name) in *files {
                let dest = class.join(student).join(name);
                fs::create_dir_all(dest.parent().unwrap()).unwrap();
                fs::copy(submissions().join(fixture), dest).unwrap();
            }
        }
        TestClass { root }
    }

    pub fn class_dir(&self) -> PathBuf {
        self.root.path().join("class")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Runs `sockspec batch class ARGS` in the root; asserts nothing it launched is left running and its
    /// TMPDIR is empty.
    #[track_caller]
    pub fn batch(&self, args: &[&str]) -> Run {
        let mut all = vec!["batch", "class"];
        all.extend(args);
        self.sockspec(&all)
    }

    #[track_caller]
    pub fn sockspec(&self, args: &[&str]) -> Run {
        let token = fresh_token();
        // A TMPDIR of its own: runs of one class may go side by side, each must leave its own empty.
        let tmp = self.path("tmp").join(&token);
        fs::create_dir_all(&tmp).unwrap();
        let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_sockspec"))
            .args(args)
            .current_dir(self.root.path())
            .env(TOKEN_VAR, &token)
            .env("TMPDIR", &tmp)
            .env("NO_COLOR", "1")
            .timeout(LIMIT)
            .output()
            .expect("sockspec runs");
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            command: format!("sockspec {}", args.join(" ")),
        };
        self.assert_nothing_left(&token, &run);
        // Empty (just asserted): other runs on this class see the class's TMPDIR as they left it.
        let _ = fs::remove_dir(&tmp);
        run
    }

    #[track_caller]
    pub fn assert_nothing_left(&self, token: &str, run: &Run) {
        let left = processes_with(&format!("{TOKEN_VAR}={token}"));
        assert!(left.is_empty(), "processes left behind: {left:?}\n{run}");
        // The run's own TMPDIR when it had one (see `sockspec`), else the class's.
        let own = self.path("tmp").join(token);
        let dir = if own.is_dir() { own } else { self.path("tmp") };
        let tmp = names_in(&dir);
        assert!(tmp.is_empty(), "temporary files left: {tmp:?}\n{run}");
    }
}

/// What one run gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub command: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nexit: {}\nstdout:\n{}\nstderr:\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "{self}");
        self
    }
}

/// Per student and assignment, every check's outcome, from a batch's stored results.
pub fn verdicts(out: &Path) -> BTreeMap<String, Vec<(String, String)>> {
    let mut all = BTreeMap::new();
    for student in fs::read_dir(out.join("results")).unwrap() {
        let student = student.unwrap();
        for result in fs::read_dir(student.path()).unwrap() {
            let path = result.unwrap().path();
            let report = read_json(&path);
            let checks = report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap().to_string(),
                        c["outcome"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let name = format!(
                "{}/{}",
                student.file_name().to_string_lossy(),
                path.file_stem().unwrap().to_string_lossy()
            );
            all.insert(name, checks);
        }
    }
    all
}

#[track_caller]
pub fn read_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file and folder under `dir` whose name starts with `.tmp-` (an unfinished write).
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                found.push(path.clone());
            }
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found
}

pub fn names_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Pids of live processes whose environment holds `entry`.
pub fn processes_with(entry: &str) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|kv| kv == entry.as_bytes()))
        })
        .collect()
}
