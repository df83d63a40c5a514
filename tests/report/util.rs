//! Shared helpers: the stored class fixture, and `sockspec report` run as a user would.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The committed results of a small class graded for real (see `regenerate.rs`).
pub fn fixture_class() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/class")
}

/// What one `sockspec report` run gave.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub command: String,
}

impl Run {
    /// Standard output as text, after asserting the run succeeded.
    #[track_caller]
    pub fn text(&self) -> String {
        assert_eq!(
            self.code, 0,
            "`{}` failed\nstderr:\n{}",
            self.command, self.stderr
        );
        String::from_utf8(self.stdout.clone()).expect("UTF-8 output")
    }
}

/// Runs `sockspec ARGS` with a deadline.
pub fn sockspec<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_sockspec"))
        .args(&args)
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(120))
        .output()
        .expect("sockspec runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        command: format!(
            "sockspec {}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// Runs `sockspec report ARGS` with a deadline.
pub fn report_run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut all = vec![OsStr::new("report").to_owned()];
    all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
    sockspec(all)
}

/// `sockspec report DIRS --format FORMAT`, which must succeed; its output.
#[track_caller]
pub fn report(dirs: &[&Path], format: &str) -> String {
    let mut args: Vec<&OsStr> = dirs.iter().map(|d| d.as_os_str()).collect();
    args.extend([OsStr::new("--format"), OsStr::new(format)]);
    report_run(args).text()
}
