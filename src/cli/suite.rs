//! `sockspec suite`: for teachers who write their own suite. `check FILE` validates a suite file with the
//! errors `grade` gives, `show NAME` prints a built-in suite as a starting point, `schema` prints the
//! JSON Schema of suite files. Thin: the work is in [`crate::grade::suite`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::write_stdout;
use crate::error::{Error, Result};
use crate::exit;
use crate::grade::suite::{self, Level, Suite};
use crate::report::trim_points;

#[derive(Debug, Clone, Subcommand)]
/// The subcommands of `sockspec suite`.
pub enum SuiteCommand {
    /// Validate a suite file as `grade` reads it; print a short summary (checks, levels, points).
    #[command(after_help = CHECK_HELP)]
    Check(SuiteCheckArgs),
    /// Print a built-in suite file, as a starting point for your own.
    Show(SuiteShowArgs),
    /// Print the JSON Schema of suite files (what schema/suite.schema.json holds).
    Schema,
}

#[derive(Debug, Clone, Args)]
/// The flags of `sockspec suite check`.
pub struct SuiteCheckArgs {
    /// The suite file (TOML).
    pub file: PathBuf,
}

#[derive(Debug, Clone, Args)]
/// The flags of `sockspec suite show`.
pub struct SuiteShowArgs {
    /// A built-in suite: echo-server, echo-client, chat-server, chat-client, file-receiver, file-sender,
    /// udp-receiver, udp-sender.
    pub name: String,
}

const CHECK_HELP: &str = "\
Exit codes:
  0  the suite is valid (a summary is printed)
  4  the file cannot be read
  7  the suite is invalid: one line on stderr says where (line) and what (field), as `grade` would";

pub(super) fn suite(command: &SuiteCommand) -> Result<u8> {
    match command {
        SuiteCommand::Check(args) => check(&args.file),
        SuiteCommand::Show(args) => {
            let text = suite::builtin_text(&args.name).ok_or_else(|| {
                let names: Vec<&str> = suite::builtin_names().collect();
                Error::Usage(format!(
                    "no built-in suite named {:?}: the built-in suites are {}",
                    args.name,
                    names.join(", ")
                ))
            })?;
            write_stdout(text)?;
            Ok(exit::OK)
        }
        SuiteCommand::Schema => {
            write_stdout(&suite::json_schema())?;
            Ok(exit::OK)
        }
    }
}

fn check(path: &Path) -> Result<u8> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let origin = path.display().to_string();
    match Suite::parse(&text, &origin) {
        Ok(suite) => {
            write_stdout(&summary(&origin, &suite))?;
            Ok(exit::OK)
        }
        Err(Error::Usage(why)) => {
            eprintln!("sockspec: {why}");
            Ok(exit::INVALID_SUITE)
        }
        Err(other) => Err(other),
    }
}

/// `FILE: valid suite "NAME" (...)`, then the checks per level and the points.
fn summary(origin: &str, suite: &Suite) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{origin}: valid suite {:?}: a {} launched as `COMMAND {}`",
        suite.name,
        program_name(suite),
        suite.args.join(" ")
    );
    let levels = [
        Level::Basic,
        Level::Sequential,
        Level::Concurrent,
        Level::Robust,
    ];
    let per_level: Vec<String> = levels
        .iter()
        .filter_map(|level| {
            let n = suite.checks.iter().filter(|c| c.level == *level).count();
            let required = if *level <= suite.required_level {
                " (required)"
            } else {
                ""
            };
            (n > 0).then(|| format!("{level} {n}{required}"))
        })
        .collect();
    let _ = writeln!(
        out,
        "  {} checks: {}",
        suite.checks.len(),
        per_level.join(", ")
    );
    let counted: Vec<_> = suite.checks.iter().filter(|c| c.counts(suite)).collect();
    let points: f64 = counted.iter().map(|c| c.points).sum();
    let required: f64 = counted
        .iter()
        .filter(|c| c.level <= suite.required_level)
        .map(|c| c.points)
        .sum();
    let _ = write!(
        out,
        "  {} points ({} in required checks)",
        trim_points(points),
        trim_points(required)
    );
    let info = suite.checks.len() - counted.len();
    if info > 0 {
        let _ = write!(
            out,
            "; {info} check(s) for information only (counts = false)"
        );
    }
    out.push('\n');
    out
}

fn program_name(suite: &Suite) -> &'static str {
    use crate::grade::suite::Program;
    match suite.program {
        Program::TcpServer => "TCP server",
        Program::TcpClient => "TCP client",
        Program::UdpReceiver => "UDP receiver",
        Program::UdpSender => "UDP sender",
    }
}
