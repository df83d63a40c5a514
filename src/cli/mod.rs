//! The `sockspec` command line: clap definitions, turned into checked configuration before anything runs.
//!
//! - `peers`: `serve ...`, `echo`, `chat`, `send-file`, `send-udp`: the reference peers from the shell.
//! - `grade`: `grade`: a suite run against a program, and its report; `output` where the report
//!   goes (`-o`), `signals` how an interrupted or killed grade cleans up; `help` the language of
//!   `grade`'s help and report (`--lang`), known before parsing.
//! - `sockets`, `lookup`: `sockets` and `lookup`: a program's sockets, a name's addresses.
//! - `handshake`: `handshake`: one TCP connection captured segment by segment.
//! - `batch`: `batch`: a class graded from its manifest, in parallel, resumable.
//! - `report`: `report`: a class summary rendered from a batch's stored results.
//! - `suite`: `suite check|show|schema`: for teachers who write their own suite file.

mod batch;
mod grade;
mod handshake;
mod help;
mod lookup;
mod output;
mod peers;
mod report;
mod signals;
mod sockets;
mod suite;

pub use batch::BatchArgs;
pub use grade::*;
pub use handshake::HandshakeArgs;
pub use lookup::LookupArgs;
pub use peers::*;
pub use report::*;
pub use sockets::SocketsArgs;
pub use suite::{SuiteCheckArgs, SuiteCommand, SuiteShowArgs};

use std::io::{self, Write};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::exit;

#[derive(Debug, Parser)]
#[command(
    name = "sockspec",
    version,
    about = "Reference peers and a grader for the socket programs of an introductory lesson",
    long_about = "Reference peers and a grader for the socket programs of an introductory lesson.\n\n\
        Servers bind 127.0.0.1 and the port you give (0, the default, picks a free one) and print \
        `listening on ADDR` as their first line of output.",
    after_help = exit::HELP
)]
/// The whole command line of `sockspec`.
pub struct Cli {
    #[command(subcommand)]
    /// The subcommand to run.
    pub command: Command,
}

#[derive(Debug, Subcommand)]
/// The subcommands of `sockspec`.
pub enum Command {
    /// Run a reference server or receiver; its first output line is `listening on ADDR`.
    #[command(subcommand)]
    Serve(Serve),
    /// Echo client: send each stdin line, print each reply; close and exit 0 at an empty line or EOF.
    Echo(EchoClientArgs),
    /// Chat client: send a stdin line, print the server's answer, and so on; an empty line or EOF ends it.
    Chat(ClientArgs),
    /// File sender: send every byte of FILE, then close.
    SendFile(SendFileArgs),
    /// UDP sender: one datagram per stdin line; stops at an empty line or EOF.
    SendUdp(ClientArgs),
    /// Grade a program: launch it, drive it over loopback with a suite's checks, report per check.
    Grade(GradeArgs),
    /// Show the sockets of processes or of a program you start (like `netstat -ano`, for one program).
    Sockets(SocketsArgs),
    /// Resolve names to addresses with the system resolver, and say where each answer came from.
    Lookup(LookupArgs),
    /// Open one TCP connection on loopback and show every segment: the handshake, data, the close.
    Handshake(HandshakeArgs),
    /// Grade a whole class from its manifest (sockspec.toml), in parallel; CSV and HTML summaries.
    Batch(BatchArgs),
    /// Summarise a batch's stored results (CSV, HTML, JUnit, Gradescope, PrairieLearn, TAP, JSON).
    Report(ReportArgs),
    /// Suite files: validate one (`check FILE`), print a built-in one (`show NAME`), the JSON Schema.
    #[command(subcommand)]
    Suite(SuiteCommand),
}

/// Parses a positive, finite scale factor.
pub fn parse_scale(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 100.0 => Ok(x),
        _ => Err(format!("{text:?} is not a factor between 0 and 100")),
    }
}

/// Parses a positive number of seconds, such as `10` or `0.5`.
pub fn parse_seconds(text: &str) -> std::result::Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return Err(format!("{text} s is out of range (0 to 86400 s)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses the process arguments. Help and version print as clap prints them; a usage error is one line
/// on stderr (`sockspec: invalid value '70000' for '<PORT>': ...`) and exit code 2.
pub fn parse_args() -> Cli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `grade --help` is in the language asked for, so that language is read before clap parses.
    let command = help::localize(Cli::command(), help::lang_of(&args));
    let parsed = command
        .try_get_matches_from(args)
        .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches));
    match parsed {
        Ok(cli) => cli,
        Err(err)
            if !err.use_stderr()
                || err.kind()
                    == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            err.exit()
        }
        Err(err) => {
            eprintln!("sockspec: {}", one_line(&err));
            std::process::exit(exit::USAGE.into())
        }
    }
}

/// Clap's message on one line: the usage block and the `--help` hint are dropped, the rest joined.
pub fn one_line(err: &clap::Error) -> String {
    let text = err.to_string();
    let mut parts = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if !line.is_empty() {
            parts.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    format!("{} (see --help)", parts.join(" "))
}

/// Runs a parsed command line; returns the exit code for a run that completed.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Serve(Serve::Echo(args)) => peers::serve_echo(&args),
        Command::Serve(Serve::Chat(args)) => peers::serve_chat(&args),
        Command::Serve(Serve::File(args)) => peers::serve_file(&args),
        Command::Serve(Serve::Udp(args)) => peers::serve_udp(&args),
        Command::Serve(Serve::Http(args)) => peers::serve_http(&args),
        Command::Echo(args) => peers::echo_client(&args),
        Command::Chat(args) => peers::chat_client(&args),
        Command::SendFile(args) => peers::send_file(&args),
        Command::SendUdp(args) => peers::send_udp(&args),
        Command::Grade(args) => grade::grade(&args),
        Command::Sockets(args) => sockets::sockets(&args),
        Command::Lookup(args) => lookup::lookup(&args),
        Command::Handshake(args) => handshake::handshake(&args),
        Command::Report(args) => report::report(&args),
        Command::Suite(command) => suite::suite(&command),
        Command::Batch(args) => batch::batch(&args),
    }
}

/// Writes `text` to stdout and flushes it.
pub(crate) fn write_stdout(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write standard output", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::echo::Mode;

    #[test]
    fn serve_echo_defaults_to_a_free_loopback_port() {
        let cli = Cli::try_parse_from(["sockspec", "serve", "echo"]).unwrap();
        let Command::Serve(Serve::Echo(args)) = cli.command else {
            panic!("parsed as {cli:?}")
        };
        assert_eq!(args.listen.port, 0);
        assert_eq!(args.listen.host, "127.0.0.1");
        assert_eq!(args.mode, Mode::Concurrent);
        assert_eq!(args.prefix, "ECHO：");
    }

    #[test]
    fn ports_out_of_range_are_rejected() {
        let err = Cli::try_parse_from(["sockspec", "echo", "127.0.0.1", "70000"]).unwrap_err();
        assert!(err.to_string().contains("70000"), "{err}");
    }

    #[test]
    fn usage_errors_fit_on_one_line() {
        let err = Cli::try_parse_from(["sockspec", "echo", "127.0.0.1", "70000"]).unwrap_err();
        let line = one_line(&err);
        assert!(!line.contains('\n') && line.contains("70000"), "{line}");
        let err = Cli::try_parse_from(["sockspec", "send-file", "127.0.0.1"]).unwrap_err();
        let line = one_line(&err);
        assert!(!line.contains('\n') && line.contains("<PORT>"), "{line}");
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("nan").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
