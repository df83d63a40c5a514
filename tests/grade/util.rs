//! Running `sockspec grade` as a user would, and checking the process table afterwards; the fixture
//! submissions and their manifest.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// The directory of the fixture submissions; manifest commands are relative to it.
pub fn submissions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions")
}

/// Environment variable every program launched by one test inherits, so the test can find leftovers.
pub const TOKEN_VAR: &str = "SOCKSPEC_TEST_TOKEN";

/// A token unique to one call in this test process.
pub fn fresh_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "grade-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What one `sockspec grade` run gave.
pub struct Graded {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub command: String,
}

impl Graded {
    /// The checks of a JSON report that did not pass, each as `id outcome: message`.
    pub fn not_passed(&self) -> Vec<String> {
        self.json()["checks"]
            .as_array()
            .expect("checks is an array")
            .iter()
            .filter(|c| c["outcome"] != "pass")
            .map(|c| format!("{} {}: {}", c["id"], c["outcome"], c["message"]))
            .collect()
    }

    /// The JSON report; panics with the run's output when there is none.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON report ({e})\ncommand: {}\nexit: {}\nstdout:\n{}\nstderr:\n{}",
                self.command, self.code, self.stdout, self.stderr
            )
        })
    }
}

/// Runs `sockspec ARGS` in `dir` with a deadline, then asserts that no process it launched is left.
#[track_caller]
pub fn sockspec_in(dir: &Path, args: &[String], limit: Duration) -> Graded {
    sockspec_with(dir, args, limit, |_| {})
}

/// [`sockspec_in`], with the command adjusted by `setup` first (as another user, under a seccomp filter).
#[track_caller]
pub fn sockspec_with(
    dir: &Path,
    args: &[String],
    limit: Duration,
    setup: impl FnOnce(&mut std::process::Command),
) -> Graded {
    let token = fresh_token();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sockspec"));
    setup(&mut command);
    let output = assert_cmd::Command::from_std(command)
        .args(args)
        .current_dir(dir)
        .env(TOKEN_VAR, &token)
        .env("NO_COLOR", "1")
        .timeout(limit)
        .output()
        .expect("sockspec runs");
    let graded = Graded {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        command: format!("sockspec {}", args.join(" ")),
    };
    let left = processes_with(&format!("{TOKEN_VAR}={token}"));
    assert!(
        left.is_empty(),
        "processes left behind by `{}`: {left:?}\nstderr:\n{}",
        graded.command,
        graded.stderr
    );
    graded
}

/// Pids of live processes whose environment holds `entry` (zombies have no environment to read).
pub fn processes_with(entry: &str) -> Vec<u32> {
    processes_whose("environ", |env| {
        env.split(|&b| b == 0).any(|kv| kv == entry.as_bytes())
    })
}

/// Pids of live processes whose `/proc/PID/{file}` (environ, cmdline, ...) satisfies `matches`.
pub fn processes_whose(file: &str, matches: impl Fn(&[u8]) -> bool) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/{file}")).is_ok_and(|b| matches(&b)))
        .collect()
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `fixtures/submissions/manifest.toml`: the fixture submissions and the verdicts they must get.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub submission: Vec<Submission>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub name: String,
    pub suite: String,
    pub command: Vec<String>,
    pub about: String,
    /// A C source (under fixtures/submissions) compiled for the test; `{compiled}` in the command is
    /// the program built from it.
    #[serde(default)]
    pub compile: Option<String>,
    /// The server mode the report should state (echo servers).
    #[serde(default)]
    pub mode: Option<String>,
    /// More `sockspec grade` flags for this submission (e.g. a shorter `--timeout-scale`).
    #[serde(default)]
    pub grade_args: Vec<String>,
    pub expect: BTreeMap<String, String>,
}

pub fn manifest() -> Manifest {
    manifest_in(&submissions_dir())
}

/// The manifest of a directory of submissions (`fixtures/submissions`, `fixtures/submissions-teacher`).
pub fn manifest_in(dir: &Path) -> Manifest {
    let path = dir.join("manifest.toml");
    let text = std::fs::read_to_string(&path).expect("the manifest is readable");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Manifest {
    /// The entry of submission `name`.
    #[track_caller]
    pub fn submission(&self, name: &str) -> &Submission {
        self.submission
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no submission {name:?} in the manifest"))
    }
}

/// The seed every fixture is graded with: verdicts must not depend on it, but a fixed one makes a
/// failure here replayable by hand.
pub const SEED: &str = "20261125";

/// Compiles `source` (under fixtures/submissions) into `dir`, returning the program's path.
#[track_caller]
pub fn compile(source: &str, dir: &Path) -> String {
    let out = dir.join(Path::new(source).file_stem().expect("a file name"));
    let status = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&out)
        .arg(submissions_dir().join(source))
        .status()
        .expect("a C compiler `cc` on PATH (.ci/run installs one)");
    assert!(status.success(), "cc {source} failed: {status}");
    out.to_string_lossy().into_owned()
}

/// A manifest submission graded once per test process with `--format json` and [`SEED`]: the tests of
/// its verdicts and of its explanations share the one run.
#[track_caller]
pub fn graded_submission(name: &str) -> Arc<Graded> {
    type Slot = Arc<OnceLock<Arc<Graded>>>;
    static RUNS: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    let slot: Slot = RUNS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(name.to_string())
        .or_default()
        .clone();
    slot.get_or_init(|| Arc::new(grade_submission(name)))
        .clone()
}

#[track_caller]
fn grade_submission(name: &str) -> Graded {
    grade_submission_in(&submissions_dir(), name)
}

/// Grades submission `name` of the manifest in `dir`, from `dir`.
#[track_caller]
pub fn grade_submission_in(dir: &Path, name: &str) -> Graded {
    let manifest = manifest_in(dir);
    let sub = manifest.submission(name);
    let build = tempfile::tempdir().expect("a temp dir");
    let compiled = sub
        .compile
        .as_deref()
        .map(|source| compile(source, build.path()));
    let mut args = strings(&["grade", &sub.suite, "--format", "json", "--seed", SEED]);
    args.extend(sub.grade_args.iter().cloned());
    args.push("--".into());
    for (i, word) in sub.command.iter().enumerate() {
        args.push(match &compiled {
            Some(program) => word.replace("{compiled}", program),
            None if i == 0 && word == "python3" => python().to_string(),
            None => word.clone(),
        });
    }
    sockspec_in(dir, &args, Duration::from_secs(300))
}

/// The Python interpreter `python3` runs, by its path: a version manager's `python3` is often a shell
/// script that starts it (pyenv's shim doubles the start time), and every check starts the program anew.
pub fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|path| path.trim().to_string())
            .filter(|path| !path.is_empty())
            .unwrap_or_else(|| "python3".to_string())
    })
}
