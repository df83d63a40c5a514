//! The `sockspec` command line: clap definitions, turned into checked configuration before anything runs.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::exit;
use crate::peers::echo::{self, EchoConfig, EchoServer, Mode};
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
}

#[derive(Debug, Subcommand)]
pub enum Serve {
    /// ECHO server: answers PREFIX + message for every line a client sends.
    Echo(ServeEchoArgs),
    /// Chat server: prints each line the client sends and answers with a line read from stdin.
    Chat(ListenArgs),
    /// File receiver: accepts one connection and writes every byte until EOF to OUT.
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
    /// Path to write the received bytes to; created only once the whole transfer arrived.
    pub out: PathBuf,
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
    /// The file to send.
    pub file: PathBuf,
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
