//! The `sockspec` command line: clap definitions, turned into checked configuration before anything runs.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::exit;
use crate::grade::ctx::Options;
use crate::grade::suite::{Level, Suite};
use crate::grade::template::Template;
use crate::grade::{self, GradeConfig};
use crate::peers::echo::{self, EchoConfig, EchoServer, Mode};
use crate::report::{self, Format};
use crate::wire;

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
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
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
}

#[derive(Debug, Subcommand)]
pub enum Serve {
    /// ECHO server: answers PREFIX + message for every line a client sends.
    Echo(ServeEchoArgs),
    /// Chat server: prints each line the client sends and answers with a line read from stdin.
    Chat(ListenArgs),
    /// File receiver: accepts one connection and writes every byte until EOF to OUT; a broken transfer or
    /// an interrupt (Ctrl-C) leaves no file.
    File(ServeFileArgs),
    /// UDP receiver: prints each datagram with the sender's address.
    Udp(ServeUdpArgs),
}

/// Where a server listens.
#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Address to bind (a name or an IP).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to bind; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

impl ListenArgs {
    pub fn addr(&self) -> Result<SocketAddr> {
        wire::resolve(&self.host, self.port)
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeEchoArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    /// single: one client, then exit; sequential: clients one by one; concurrent: many at once.
    #[arg(long, value_enum, default_value_t = Mode::Concurrent)]
    pub mode: Mode,
    /// Text put before every reply.
    #[arg(long, default_value = echo::DEFAULT_PREFIX)]
    pub prefix: String,
    /// Log every connection and its end to stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeFileArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Path to write the received bytes to; created only once the whole transfer arrived. An existing
    /// file is refused unless --force is given.
    pub out: PathBuf,
    /// Replace OUT if it already exists (once the whole transfer arrived).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeUdpArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Exit after this many datagrams (default: run until stopped).
    #[arg(long)]
    pub count: Option<u64>,
    /// Print control characters and invalid UTF-8 as escapes (\n, \xff) so every datagram is one line.
    #[arg(long)]
    pub escape: bool,
}

/// Where a client connects.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Server host (a name or an IP).
    pub host: String,
    /// Server port.
    pub port: u16,
}

impl ClientArgs {
    pub fn addr(&self) -> Result<SocketAddr> {
        // Port 0 means "any free port" to a server; a client can only be refused there.
        if self.port == 0 {
            return Err(Error::Usage(
                "port 0 is not a port you can connect to".to_string(),
            ));
        }
        wire::resolve(&self.host, self.port)
    }
}

#[derive(Debug, Clone, Args)]
pub struct EchoClientArgs {
    #[command(flatten)]
    pub server: ClientArgs,
    /// Seconds to wait for each reply.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct SendFileArgs {
    #[command(flatten)]
    pub server: ClientArgs,
    /// The file to send (a regular file: not a directory, a FIFO or a device).
    pub file: PathBuf,
}

/// Whether the human report uses colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Colour {
    /// Colour when the report goes to a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = GRADE_HELP)]
pub struct GradeArgs {
    /// A built-in suite (echo-server, echo-client, chat-server, chat-client, file-receiver, file-sender,
    /// udp-receiver, udp-sender) or the path of a suite file.
    pub suite: String,
    /// List the suite's checks (id, level, points, requirement) and exit.
    #[arg(long)]
    pub list: bool,
    /// Required level: checks at it and below must pass (default: the suite's). Higher levels still run.
    #[arg(long, value_enum)]
    pub level: Option<Level>,
    /// Run only the checks whose id matches (a glob: `*` and `?`); may be repeated.
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Skip the checks whose id matches (a glob); may be repeated.
    #[arg(long, value_name = "ID")]
    pub skip: Vec<String>,
    /// Seed of the generated inputs; the report prints it. The same seed replays a run exactly, and with
    /// `--only ID` one check of it (each check's inputs depend on the seed and its id only).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Exact comparison: replies exactly PREFIX + message + newline, printed lines exactly the text.
    #[arg(long)]
    pub strict: bool,
    /// The reply prefix for echo suites (default: the suite's, `ECHO：`).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file instead of stdout (checked before any check runs; replaced only once
    /// the report is complete).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Multiply every deadline by this factor (slow machines, slow programs).
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub timeout_scale: f64,
    /// Colour in the human report.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub color: Colour,
    /// The program's command line, after `--`. Placeholders: {host} {port} {file} {out}; when it has
    /// none, the suite's own (e.g. {port}) are added at the end.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

const GRADE_HELP: &str = "\
Examples:
  sockspec grade echo-server -- python3 server.py {port}
  sockspec grade echo-client --strict -- python3 client.py {host} {port}
  sockspec grade file-receiver --format json -o report.json -- ./receiver {port} {out}
  sockspec grade --list echo-server

Outcomes: pass, fail (wrong answer), timeout (no answer by the deadline, which the report names),
crash (the program died: exit status and stderr shown), not-run (an earlier step made it impossible).

Exit codes:
  0  every required check passed
  1  a required check did not pass
  2  usage, suite or launch error, a report file (-o) that cannot be written (found before any check
     runs), or a fault of the grader itself
  4  the report could not be saved at the end (-o FILE; an older report there is left whole)";

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
    match Cli::try_parse() {
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
        Command::Serve(Serve::Echo(args)) => serve_echo(&args),
        Command::Serve(Serve::Chat(args)) => crate::peers::chat::cli_serve(&args),
        Command::Serve(Serve::File(args)) => crate::peers::file::cli_serve(&args),
        Command::Serve(Serve::Udp(args)) => crate::peers::udp::cli_serve(&args),
        Command::Echo(args) => echo_client(&args),
        Command::Chat(args) => crate::peers::chat::cli_connect(&args),
        Command::SendFile(args) => crate::peers::file::cli_send(&args),
        Command::SendUdp(args) => crate::peers::udp::cli_send(&args),
        Command::Grade(args) => grade(&args),
    }
}

/// Prints a server's first line, `listening on ADDR`, and flushes it so a script reading the pipe sees it.
pub fn announce(addr: SocketAddr) -> Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write standard output", e))
}

fn serve_echo(args: &ServeEchoArgs) -> Result<u8> {
    let config = EchoConfig {
        mode: args.mode,
        prefix: args.prefix.as_bytes().to_vec(),
        verbose: args.verbose,
    };
    // Every client holds a descriptor: let the concurrent server hold as many as the system allows.
    wire::raise_fd_limit();
    let server = EchoServer::bind(args.listen.addr()?, config)?;
    announce(server.local_addr())?;
    server.run()?;
    Ok(exit::OK)
}

fn echo_client(args: &EchoClientArgs) -> Result<u8> {
    let config = echo::ClientConfig {
        reply_timeout: args.timeout,
        ..Default::default()
    };
    echo::run_client(
        args.server.addr()?,
        &config,
        io::stdin().lock(),
        io::stdout().lock(),
    )?;
    Ok(exit::OK)
}

impl GradeArgs {
    /// The checked configuration of a grading run.
    pub fn config(&self, suite: Suite) -> Result<GradeConfig> {
        let template = Template::new(&self.command, &suite)?;
        let mut options = Options {
            strict: self.strict,
            timeout_scale: self.timeout_scale,
            ..Options::default()
        };
        if let Some(prefix) = self.prefix.as_ref().or(suite.prefix.as_ref()) {
            options.prefix = prefix.as_bytes().to_vec();
        }
        Ok(GradeConfig {
            suite_source: self.suite.clone(),
            required_level: self.level.unwrap_or(suite.required_level),
            template,
            only: self.only.clone(),
            skip: self.skip.clone(),
            seed: self.seed.unwrap_or_else(grade::fresh_seed),
            options,
            suite,
        })
    }
}

fn grade(args: &GradeArgs) -> Result<u8> {
    let suite = Suite::load(&args.suite)?;
    if args.list {
        write_stdout(&list_checks(&suite))?;
        return Ok(exit::OK);
    }
    let config = args.config(suite)?;
    // Before any check runs: a report that cannot be written is a usage error now, not after the run.
    let output = args
        .output
        .as_deref()
        .map(|path| Ok((path, report_file(path)?)))
        .transpose()?;
    let progress = std::io::IsTerminal::is_terminal(&io::stderr());
    let mut done = 0;
    let report = grade::grade(&config, |check| {
        done += 1;
        if progress {
            eprintln!(
                "[{done}] {} {}",
                check.id,
                report::outcome_word(check.outcome)
            );
        }
    })?;
    let to_terminal = args.output.is_none() && std::io::IsTerminal::is_terminal(&io::stdout());
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let text = report::render(&report, args.format, colour);
    match output {
        Some((path, file)) => save_report(path, file, &text)?,
        None => write_stdout(&text)?,
    }
    Ok(if report.summary.harness_fault {
        exit::USAGE
    } else if report.summary.success {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// A new file beside `path` that the report is written to and then renamed over `path`: a run that fails
/// leaves an existing report whole. Made before the run, so a place that cannot be written is found at once.
fn report_file(path: &Path) -> Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    let cannot = |why: String| {
        Error::Usage(format!(
            "cannot write the report to {}: {why}",
            path.display()
        ))
    };
    if path.is_dir() {
        return Err(cannot("it is a directory".into()));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".sockspec-report-")
        // As a file written in place would be: readable by others unless the umask says otherwise.
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| match std::fs::metadata(dir) {
            // Say what is wrong with the directory rather than with the temporary file's name.
            Err(why) => cannot(format!("{}: {why}", dir.display())),
            Ok(_) => cannot(e.to_string()),
        })
}

/// Writes the report into its temporary file and renames it to `path`.
fn save_report(path: &Path, mut file: tempfile::NamedTempFile, text: &str) -> Result<()> {
    let failed = |source| Error::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    file.write_all(text.as_bytes())
        .and_then(|_| file.as_file().sync_all())
        .map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

fn list_checks(suite: &Suite) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", suite.name, suite.description);
    let _ = writeln!(
        out,
        "launched as: COMMAND {} · required level: {}\n",
        suite.args.join(" "),
        suite.required_level
    );
    let width = suite.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for check in &suite.checks {
        let _ = writeln!(
            out,
            "{:<width$}  {:<10}  {:>3} pt  {}",
            check.id,
            check.level.to_string(),
            report::trim_points(check.points),
            check.requirement
        );
    }
    out
}

fn write_stdout(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write standard output", e))
}

#[cfg(test)]
mod tests {
    use super::*;

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
