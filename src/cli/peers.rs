//! The reference peers from the shell: `serve echo|chat|file|udp`, `echo`, `chat`, `send-file`, `send-udp`.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::parse_seconds;
use crate::error::{Error, Result};
use crate::exit;
use crate::peers::echo::{self, EchoConfig, EchoServer, Mode};
use crate::wire;

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

/// Prints a server's first line, `listening on ADDR`, and flushes it so a script reading the pipe sees it.
pub fn announce(addr: SocketAddr) -> Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write standard output", e))
}

pub(super) fn serve_echo(args: &ServeEchoArgs) -> Result<u8> {
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

pub(super) fn echo_client(args: &EchoClientArgs) -> Result<u8> {
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
