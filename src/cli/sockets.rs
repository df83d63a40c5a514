//! `sockspec sockets`: the sockets of running processes (once, or watched), or of a program started
//! for the purpose and watched until it ends or Ctrl-C.

use std::io;
use std::time::Duration;

use clap::Args;

use super::write_stdout;
use crate::error::{Error, Result};
use crate::exit;
use crate::grade::launch::{LaunchError, LaunchSpec, Program};
use crate::grade::template::shell_quote;
use crate::inspect::stop_signals::StopSignals;
use crate::inspect::watch::{self, End, Printer, Target};
use crate::inspect::{netstat, sockets, Format};

#[derive(Debug, Clone, Args)]
#[command(after_help = SOCKETS_HELP)]
/// The flags of `sockspec sockets`.
pub struct SocketsArgs {
    /// Processes to show, each with all its children (by parent pid).
    #[arg(value_name = "PID", value_parser = parse_pid)]
    pub pids: Vec<i32>,
    /// Keep watching the PIDs: print each change (a socket new, changed or gone, a process started or
    /// ended) until they all end or Ctrl-C. A program given after `--` is always watched.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between two looks while watching; a socket that lives shorter may be missed.
    #[arg(long, default_value = "0.1", value_parser = parse_interval, value_name = "SECS")]
    pub interval: Duration,
    /// human: a table like `netstat -ano` with the meaning of its states; json: one object (a stream
    /// of JSON lines, one per event, while watching).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// A program to start (in the current directory) and watch until it ends or Ctrl-C, after `--`.
    /// It runs in its own process group and is stopped, with everything it started, when the watch
    /// ends; what you type goes to it, what it prints is shown.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

const SOCKETS_HELP: &str = "\
Examples:
  sockspec sockets 8123                         the sockets of pid 8123 and its children, now
  sockspec sockets --watch 8123                 the same, then every change until they end or Ctrl-C
  sockspec sockets -- python3 server.py 9999    start the server, show its sockets as they change

Columns: Proto (TCP, UDP; TCP6, UDP6 for IPv6), Local Address, Foreign Address (0.0.0.0:* when not
connected), State (TCP states as netstat names them; none for UDP), PID (- for a connection the program
closed that the kernel still keeps, as in TIME_WAIT), Program. The meaning of every state shown is
printed below the table.

Exit codes: 0 shown (or the watched program ended), 2 usage (no such pid, a program that cannot be
started), 128+N stopped by signal N (130: Ctrl-C; the started program is stopped).";

fn parse_pid(text: &str) -> std::result::Result<i32, String> {
    match text.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(format!("{text:?} is not a process id (a positive number)")),
    }
}

/// Below 10 ms a watch would mostly read `/proc`.
fn parse_interval(text: &str) -> std::result::Result<Duration, String> {
    let interval = super::parse_seconds(text)?;
    if interval < Duration::from_millis(10) {
        return Err(format!("{text} s is too short (at least 0.01 s)"));
    }
    Ok(interval)
}

pub(super) fn sockets(args: &SocketsArgs) -> Result<u8> {
    match (args.pids.is_empty(), args.command.is_empty()) {
        (true, true) => Err(Error::Usage(
            "give the PIDs to show, or a program to start after `--` (see --help)".to_string(),
        )),
        (false, false) => Err(Error::Usage(
            "give either PIDs or a program after `--`, not both".to_string(),
        )),
        (true, false) => watch_program(args),
        (false, true) => {
            if let Some(pid) = args
                .pids
                .iter()
                .find(|&&p| sockets::ProcInfo::of(p).is_none())
            {
                return Err(Error::Usage(format!("no process with pid {pid}")));
            }
            if args.watch {
                watch_pids(args)
            } else {
                show_once(args)
            }
        }
    }
}

fn show_once(args: &SocketsArgs) -> Result<u8> {
    let snapshot = sockets::of_tree(&args.pids);
    let text = match args.format {
        Format::Human => netstat::table(&snapshot),
        Format::Json => {
            let json = serde_json::to_string_pretty(&snapshot)
                .map_err(|e| Error::io("cannot write JSON", io::Error::other(e)))?;
            json + "\n"
        }
    };
    write_stdout(&text)?;
    Ok(exit::OK)
}

fn watch_pids(args: &SocketsArgs) -> Result<u8> {
    let signals = catch_stop_signals()?;
    let mut printer = Printer::new(io::stdout().lock(), args.format);
    let end = watch::watch(
        Target::Pids(args.pids.clone()),
        args.interval,
        &mut printer,
        None,
        |d| signals.wait(d),
    )
    .map_err(stdout_error)?;
    Ok(exit_code(end))
}

fn watch_program(args: &SocketsArgs) -> Result<u8> {
    // Before the program starts, so that a Ctrl-C from then on stops it.
    let signals = catch_stop_signals()?;
    let cwd =
        std::env::current_dir().map_err(|e| Error::io("cannot read the current directory", e))?;
    let mut program =
        Program::spawn(&LaunchSpec::new(args.command.clone(), cwd)).map_err(launch_error)?;
    let command: Vec<String> = args.command.iter().map(|a| shell_quote(a)).collect();
    let command = command.join(" ");
    let input = watch::read_stdin().map_err(|e| Error::io("cannot read standard input", e))?;
    let mut printer = Printer::new(io::stdout().lock(), args.format);
    let end = watch::watch(
        Target::Program(&mut program, command),
        args.interval,
        &mut printer,
        Some(input),
        |d| signals.wait(d),
    )
    .map_err(stdout_error)?;
    Ok(exit_code(end))
}

fn catch_stop_signals() -> Result<StopSignals> {
    StopSignals::install().map_err(|e| Error::io("cannot catch the stop signals", e))
}

fn stdout_error(e: io::Error) -> Error {
    Error::io("cannot write standard output", e)
}

fn exit_code(end: End) -> u8 {
    match end {
        End::Exited(_) => exit::OK,
        End::Interrupted(signal) => exit::SIGNALLED.saturating_add(signal as u8),
    }
}

/// A program that cannot be started is a usage error, as for `grade`; a failure to read its output
/// is ours.
fn launch_error(e: LaunchError) -> Error {
    match e {
        LaunchError::Capture { source, .. } => {
            Error::io("cannot read the program's output", source)
        }
        other => Error::Usage(format!("{:#}", anyhow::Error::from(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> std::result::Result<SocketsArgs, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Sockets(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn pids_and_a_command_after_the_separator_are_parsed() {
        let args = parse(&["sockspec", "sockets", "--watch", "12", "34"]).unwrap();
        assert_eq!((args.pids, args.watch), (vec![12, 34], true));
        let args = parse(&["sockspec", "sockets", "--", "python3", "server.py", "-v"]).unwrap();
        assert_eq!(args.command, ["python3", "server.py", "-v"]);
        assert!(args.pids.is_empty());
        assert_eq!(args.interval, Duration::from_millis(100));
    }

    #[test]
    fn bad_pids_and_intervals_are_usage_errors() {
        assert!(parse(&["sockspec", "sockets", "0"]).is_err());
        assert!(parse(&["sockspec", "sockets", "abc"]).is_err());
        assert!(parse(&["sockspec", "sockets", "--interval", "0.001", "1"]).is_err());
        let none = parse(&["sockspec", "sockets"]).unwrap();
        assert!(matches!(sockets(&none), Err(Error::Usage(_))));
    }
}
