//! The reference peers from the shell: `serve echo|chat|file|udp`, `echo`, `chat`, `send-file`, `send-udp`.

use std::io::{self, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::{parse_seconds, signals};
use crate::error::{Error, Result};
use crate::exit;
use crate::peers::chat::{self, ChatConfig, ChatEnd, ChatServer};
use crate::peers::echo::{self, EchoConfig, EchoEvent, EchoServer, Mode};
use crate::peers::file::{self, Existing, FileReceiver, ReceiverConfig};
use crate::peers::http::{HttpConfig, HttpEvent, HttpServer};
use crate::peers::udp::{self, UdpConfig, UdpReceiver};
use crate::wire;

#[derive(Debug, Subcommand)]
/// The reference servers and receivers of `sockspec serve`.
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
    /// HTTP/1.1 static file server for DIR: GET and HEAD, Content-Type and Content-Length, keep-alive,
    /// 404, 405, 400; nothing outside DIR is ever served. Logs each request to stderr.
    Http(ServeHttpArgs),
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
    /// The address to bind: `host` resolved, with `port`.
    pub fn addr(&self) -> Result<SocketAddr> {
        wire::resolve(&self.host, self.port)
    }
}

#[derive(Debug, Clone, Args)]
/// The flags of `sockspec serve echo`.
pub struct ServeEchoArgs {
    #[command(flatten)]
    /// Where to listen.
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
/// The flags of `sockspec serve file`.
pub struct ServeFileArgs {
    #[command(flatten)]
    /// Where to listen.
    pub listen: ListenArgs,
    /// Path to write the received bytes to; created only once the whole transfer arrived. An existing
    /// file is refused unless --force is given.
    pub out: PathBuf,
    /// Replace OUT if it already exists (once the whole transfer arrived).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
/// The flags of `sockspec serve udp`.
pub struct ServeUdpArgs {
    #[command(flatten)]
    /// Where to bind.
    pub listen: ListenArgs,
    /// Exit after this many datagrams (default: run until stopped).
    #[arg(long)]
    pub count: Option<u64>,
    /// Print control characters and invalid UTF-8 as escapes (\n, \xff) so every datagram is one line.
    #[arg(long)]
    pub escape: bool,
}

#[derive(Debug, Clone, Args)]
/// The flags of `sockspec serve http`.
pub struct ServeHttpArgs {
    #[command(flatten)]
    /// Where to listen.
    pub listen: ListenArgs,
    /// The directory to serve (`/` serves its index.html).
    pub dir: PathBuf,
    /// Log nothing but failures.
    #[arg(long, short)]
    pub quiet: bool,
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
    /// The server's address, resolved; port 0 is a usage error.
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
/// The flags of `sockspec echo`.
pub struct EchoClientArgs {
    #[command(flatten)]
    /// The server to connect to.
    pub server: ClientArgs,
    /// Seconds to wait for each reply.
    #[arg(long, default_value = "10", value_parser = parse_seconds)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
/// The flags of `sockspec send-file`.
pub struct SendFileArgs {
    #[command(flatten)]
    /// The receiver to connect to.
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
    let config = EchoConfig::default()
        .mode(args.mode)
        .prefix(args.prefix.as_bytes());
    let verbose = args.verbose;
    // Every client holds a descriptor: let the concurrent server hold as many as the system allows.
    wire::raise_fd_limit();
    let server = EchoServer::bind(args.listen.addr()?, config)?
        .on_event(move |event| log_echo_event(event, verbose));
    announce(server.local_addr())?;
    server.run()?;
    Ok(exit::OK)
}

/// Connections and their ends with `--verbose`; failures always, since they are worth a look.
fn log_echo_event(event: &EchoEvent, verbose: bool) {
    match event {
        EchoEvent::Connected { peer } if verbose => eprintln!("connected: {peer}"),
        EchoEvent::Closed { peer, lines } if verbose => {
            eprintln!("closed: {peer} after {lines} lines")
        }
        EchoEvent::ConnectionFailed { peer, error } => {
            eprintln!("sockspec: connection from {peer}: {error}")
        }
        EchoEvent::AcceptFailed { error } => eprintln!("sockspec: accept failed: {error}"),
        _ => {}
    }
}

/// `sockspec serve http DIR`: prints `listening on ADDR`, then one line per request on stderr.
pub(super) fn serve_http(args: &ServeHttpArgs) -> Result<u8> {
    let quiet = args.quiet;
    wire::raise_fd_limit();
    let server = HttpServer::bind(args.listen.addr()?, HttpConfig::new(&args.dir))?
        .on_event(move |event| log_http_event(event, quiet));
    announce(server.local_addr())?;
    eprintln!(
        "serving {} at http://{}/",
        server.root().display(),
        server.local_addr()
    );
    server.run()?;
    Ok(exit::OK)
}

/// An access log line per response (`CLIENT_ADDR "GET /cat.png" 200 5120 bytes`); failures always.
fn log_http_event(event: &HttpEvent, quiet: bool) {
    match event {
        HttpEvent::Served(s) if !quiet => eprintln!(
            "{} \"{} {}\" {} {} bytes",
            s.peer,
            s.method,
            s.target.escape_debug(),
            s.status,
            s.bytes
        ),
        HttpEvent::ConnectionFailed { peer, error } => {
            eprintln!("sockspec: connection from {peer}: {error}")
        }
        HttpEvent::AcceptFailed { error } => eprintln!("sockspec: accept failed: {error}"),
        _ => {}
    }
}

pub(super) fn echo_client(args: &EchoClientArgs) -> Result<u8> {
    let config = echo::ClientConfig::default().reply_timeout(args.timeout);
    echo::run_client(
        args.server.addr()?,
        &config,
        io::stdin().lock(),
        io::stdout().lock(),
    )?;
    Ok(exit::OK)
}

/// `sockspec serve chat`: prints `listening on ADDR`, then the client's messages; answers from stdin.
pub(super) fn serve_chat(args: &ListenArgs) -> Result<u8> {
    let server = ChatServer::bind(args.addr()?, ChatConfig::default())?;
    announce(server.local_addr())?;
    let end = server.serve(BufReader::new(io::stdin()), io::stdout().lock())?;
    note_chat_end(end);
    Ok(exit::OK)
}

/// `sockspec chat HOST PORT`: sends stdin lines, prints the server's answers.
pub(super) fn chat_client(args: &ClientArgs) -> Result<u8> {
    let end = chat::run_client(
        args.addr()?,
        &ChatConfig::default(),
        BufReader::new(io::stdin()),
        io::stdout().lock(),
    )?;
    note_chat_end(end);
    Ok(exit::OK)
}

/// Tells a person at the terminal why the program stopped; stdout carries only the messages.
fn note_chat_end(end: ChatEnd) {
    if end == ChatEnd::PeerClosed {
        eprintln!("sockspec: the other side closed the chat");
    }
}

/// `sockspec serve file OUT`: prints `listening on ADDR`, receives one file, prints what arrived.
/// SIGINT, SIGTERM or SIGHUP remove the temporary file and exit with 128 + the signal number.
pub(super) fn serve_file(args: &ServeFileArgs) -> Result<u8> {
    // Blocked before any thread starts, so that every thread inherits the mask and only the waiter
    // below takes these signals.
    let blocked = signals::block()?;
    let existing = if args.force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    // The digest is not shown: the transfer runs at full speed without it.
    let config = ReceiverConfig::new(&args.out)
        .existing(existing)
        .sha256(false);
    let receiver = FileReceiver::bind(args.listen.addr()?, config)?;
    remove_on_signal(
        blocked,
        receiver.temp_path().to_path_buf(),
        args.out.clone(),
    )?;
    announce(receiver.local_addr())?;
    let got = receiver.receive()?;
    write_stdout_line(&format!(
        "received {} bytes from {} into {}",
        got.bytes,
        got.peer,
        got.path.display()
    ))?;
    Ok(exit::OK)
}

/// When a stop signal comes: removes `temp`, says so on one line and exits with 128 + the signal number
/// (as a shell reports a process killed by it).
fn remove_on_signal(blocked: signals::Blocked, temp: PathBuf, out: PathBuf) -> Result<()> {
    signals::on_signal(blocked, move |signal| {
        // Held until the exit, so that an error the main thread is about to print cannot follow ours.
        let mut stderr = io::stderr().lock();
        let said = match std::fs::remove_file(&temp) {
            // Renamed already: the transfer ended just before the signal.
            Err(e) if e.kind() == io::ErrorKind::NotFound && out.exists() => {
                format!("interrupted after {} was written", out.display())
            }
            _ => format!("interrupted; nothing written to {}", out.display()),
        };
        let _ = writeln!(stderr, "sockspec: {said}");
        std::process::exit(128 + signal);
    })
}

/// `sockspec send-file HOST PORT FILE`: sends the file, prints `sent N bytes`.
pub(super) fn send_file(args: &SendFileArgs) -> Result<u8> {
    let sent = file::send_file(args.server.addr()?, &args.file)?;
    write_stdout_line(&format!("sent {sent} bytes"))?;
    Ok(exit::OK)
}

/// `sockspec serve udp`: prints `listening on ADDR`, then one line per datagram.
pub(super) fn serve_udp(args: &ServeUdpArgs) -> Result<u8> {
    let config = UdpConfig {
        count: args.count,
        ..UdpConfig::default()
    };
    let receiver = UdpReceiver::bind(args.listen.addr()?, config)?;
    announce(receiver.local_addr())?;
    let mut out = io::stdout().lock();
    receiver.run(|datagram| {
        datagram
            .write_line(&mut out, args.escape)
            .and_then(|_| out.flush())
            .map_err(|e| Error::io("cannot write standard output", e))
    })?;
    Ok(exit::OK)
}

/// `sockspec send-udp HOST PORT`: one datagram per stdin line; the count goes to stderr.
pub(super) fn send_udp(args: &ClientArgs) -> Result<u8> {
    let addr = args.addr()?;
    let sent = udp::run_sender(addr, io::stdin().lock())?;
    let plural = if sent == 1 { "" } else { "s" };
    eprintln!("sent {sent} datagram{plural} to {addr}");
    Ok(exit::OK)
}

/// Writes `line` and a newline to stdout, and flushes.
fn write_stdout_line(line: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write standard output", e))
}
