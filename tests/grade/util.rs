//! Running `sockspec grade` as a user would, and checking the process table afterwards.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
    /// The JSON report; panics with the run's output when there is none.
    #[track_caller]
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
