//! The lesson's ECHO server and client: the server answers `prefix + message` for every line a client sends.
//!
//! The server streams: the prefix goes out when the first byte of a line arrives, and the line's bytes are
//! forwarded as they come. So a line split over many reads, many lines in one read, a 1 MiB line or bytes
//! that are not UTF-8 all get exactly `prefix + line`, in memory bounded by one read buffer.

mod client;

pub use client::{run_client, send_lines, ClientConfig};

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Handle, Stop};
use crate::error::{Error, Result};
use crate::wire;

/// The prefix of the lesson: `ECHO` and a full-width colon (U+FF1A).
pub const DEFAULT_PREFIX: &str = "ECHO：";

/// Bytes read at once per connection; allocated only once a connection has data, so idle ones cost little.
const READ_BUFFER: usize = 16 * 1024;

/// How the server takes its clients: the three servers of the lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Serve one client, then exit.
    Single,
    /// Serve clients one by one; the next waits in the backlog until the current one closes.
    Sequential,
    /// Serve every client at once.
    #[default]
    Concurrent,
}

/// Settings of the echo server. Build it from [`EchoConfig::default`] and the setters:
/// `EchoConfig::default().mode(Mode::Single).prefix("回声：")`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EchoConfig {
    /// How clients are taken (default: all at once).
    pub mode: Mode,
    /// Put before every reply (default: [`DEFAULT_PREFIX`]).
    pub prefix: Vec<u8>,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            mode: Mode::Concurrent,
            prefix: DEFAULT_PREFIX.as_bytes().to_vec(),
        }
    }
}

impl EchoConfig {
    /// Sets how clients are taken.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the text put before every reply.
    pub fn prefix(mut self, prefix: impl Into<Vec<u8>>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// Something that happened to a running echo server, for the caller's log: the server itself prints
/// nothing, and no event stops it.
#[derive(Debug)]
#[non_exhaustive]
#[allow(missing_docs)] // The fields say what they are: the client's address, its lines, the error.
pub enum EchoEvent {
    /// A client was accepted.
    Connected { peer: SocketAddr },
    /// A client closed, after this many complete lines.
    Closed { peer: SocketAddr, lines: u64 },
    /// A connection failed (a reset, a write error); the server goes on serving the others.
    ConnectionFailed { peer: SocketAddr, error: io::Error },
    /// Accepting failed (a client that reset in the backlog, no descriptors left); the server goes on.
    AcceptFailed { error: io::Error },
}

/// What an echo server did, counted when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EchoStats {
    /// Clients accepted.
    pub clients: u64,
    /// Complete lines answered. A line is counted as its newline arrives, before its reply goes out,
    /// so a client that has its reply finds its line counted.
    pub lines: u64,
}

/// The handle of a spawned echo server: [`Handle::stop`] returns its [`EchoStats`].
pub type EchoHandle = Handle<EchoStats>;

type EventSink = Arc<dyn Fn(&EchoEvent) + Send + Sync>;

/// A bound echo server, not yet serving: its address can be read (and printed) before any client comes.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use sockspec::peers::echo::{EchoConfig, EchoServer};
///
/// let server = EchoServer::bind("127.0.0.1:0".parse()?, EchoConfig::default())?.spawn()?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all("你好\n".as_bytes())?;
/// let mut reply = String::new();
/// BufReader::new(&client).read_line(&mut reply)?;
/// assert_eq!(reply, "ECHO：你好\n");
/// drop(client);
/// let stats = server.stop()?;
/// assert_eq!((stats.clients, stats.lines), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EchoServer {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    config: EchoConfig,
    events: Option<EventSink>,
}

impl EchoServer {
    /// Listens on `addr` (port 0: a free port, see [`local_addr`](EchoServer::local_addr)).
    pub fn bind(addr: SocketAddr, config: EchoConfig) -> Result<Self> {
        let listener = wire::listen_tcp(addr, wire::LISTEN_BACKLOG)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        Ok(EchoServer {
            listener,
            addr,
            config,
            events: None,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Calls `on_event` for every connection, its end, and every failure (from the server's threads,
    /// so it must be quick). Without it, events are dropped.
    pub fn on_event(mut self, on_event: impl Fn(&EchoEvent) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(on_event));
        self
    }

    /// Serves in this thread until the mode says to stop (`single`: after one client); `sequential` and
    /// `concurrent` serve until the process ends.
    pub fn run(self) -> Result<EchoStats> {
        self.run_until(Stop::never())
    }

    /// Serves on a thread of its own until stopped (or, `single`, until its client is done).
    pub fn spawn(self) -> Result<EchoHandle> {
        Handle::spawn("echo server", self.addr, move |stop| self.run_until(stop))
    }

    fn run_until(self, mut stop: Stop) -> Result<EchoStats> {
        let mut builder = match self.config.mode {
            Mode::Concurrent => tokio::runtime::Builder::new_multi_thread(),
            Mode::Single | Mode::Sequential => tokio::runtime::Builder::new_current_thread(),
        };
        let runtime = builder
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::io("cannot start the async runtime", e))?;
        let wake = stop.take_wake();
        let result = runtime.block_on(self.serve(wake));
        // Dropping the runtime cancels the connections still being served.
        runtime.shutdown_timeout(Duration::from_secs(1));
        result
    }

    async fn serve(self, wake: Option<std::os::unix::net::UnixStream>) -> Result<EchoStats> {
        self.listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("cannot configure the listener", e))?;
        let listener = tokio::net::TcpListener::from_std(self.listener)
            .map_err(|e| Error::io("cannot register the listener", e))?;
        let stop = StopSignal::new(wake)?;
        let stop = stop.stopped();
        tokio::pin!(stop);
        let prefix: Arc<[u8]> = self.config.prefix.into();
        let events = self.events;
        let emit = move |event: EchoEvent| {
            if let Some(events) = &events {
                events(&event);
            }
        };
        let lines = Arc::new(AtomicU64::new(0));
        let mut clients = 0u64;
        let stats = |clients| EchoStats {
            clients,
            lines: lines.load(Ordering::Relaxed),
        };
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // A failed accept (a reset in the backlog, EMFILE) never stops the server; the pause
                        // keeps a persistent EMFILE from spinning.
                        emit(EchoEvent::AcceptFailed { error });
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                _ = &mut stop => return Ok(stats(clients)),
            };
            clients += 1;
            emit(EchoEvent::Connected { peer });
            let served = serve_connection(stream, prefix.clone(), lines.clone());
            match self.config.mode {
                Mode::Concurrent => {
                    let emit = emit.clone();
                    tokio::spawn(async move {
                        emit(end_event(peer, served.await));
                    });
                }
                Mode::Sequential | Mode::Single => {
                    tokio::select! {
                        result = served => emit(end_event(peer, result)),
                        _ = &mut stop => return Ok(stats(clients)),
                    }
                    if self.config.mode == Mode::Single {
                        return Ok(stats(clients));
                    }
                }
            }
        }
    }
}

/// The stop request as a future: the wake-up socket reads EOF once the handle asks to stop.
struct StopSignal(Option<tokio::net::UnixStream>);

impl StopSignal {
    fn new(wake: Option<std::os::unix::net::UnixStream>) -> Result<Self> {
        let register = |e| Error::io("cannot register the stop socket", e);
        let wake = match wake {
            Some(wake) => {
                wake.set_nonblocking(true).map_err(register)?;
                Some(tokio::net::UnixStream::from_std(wake).map_err(register)?)
            }
            None => None,
        };
        Ok(StopSignal(wake))
    }

    /// Resolves once a stop is asked for; never, for a server run in the caller's thread.
    async fn stopped(self) {
        let Some(wake) = self.0 else {
            return std::future::pending().await;
        };
        loop {
            if wake.readable().await.is_err() {
                return;
            }
            match wake.try_read(&mut [0u8; 1]) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                // EOF (the trigger closed), or anything else: stop.
                _ => return,
            }
        }
    }
}

fn end_event(peer: SocketAddr, result: io::Result<u64>) -> EchoEvent {
    match result {
        Ok(lines) => EchoEvent::Closed { peer, lines },
        // A client that resets or vanishes is its own business: the caller hears of it, the server goes on.
        Err(error) => EchoEvent::ConnectionFailed { peer, error },
    }
}

/// Echoes one connection until the client closes. Returns the number of complete lines answered, and
/// adds each to `answered` as it goes.
async fn serve_connection(
    mut stream: tokio::net::TcpStream,
    prefix: Arc<[u8]>,
    answered: Arc<AtomicU64>,
) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    // Wait for data before allocating, so ten thousand idle clients hold no buffers.
    stream.readable().await?;
    let mut input = vec![0u8; READ_BUFFER];
    let mut output = Vec::with_capacity(READ_BUFFER + 64 * prefix.len());
    let mut at_line_start = true;
    let mut lines = 0u64;
    loop {
        let n = stream.read(&mut input).await?;
        if n == 0 {
            // The reply to an unterminated last line has already been streamed out.
            let _ = stream.shutdown().await;
            return Ok(lines);
        }
        output.clear();
        frame_replies(&input[..n], &prefix, &mut at_line_start, &mut output);
        let complete = input[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        // Counted before the reply goes out: a client that saw its reply finds the line counted.
        lines += complete;
        answered.fetch_add(complete, Ordering::Relaxed);
        stream.write_all(&output).await?;
    }
}

/// Appends the reply bytes for `chunk` to `out`: the prefix before the first byte of every line.
/// `at_line_start` carries across chunks, so a line split over reads gets exactly one prefix.
pub fn frame_replies(chunk: &[u8], prefix: &[u8], at_line_start: &mut bool, out: &mut Vec<u8>) {
    for piece in chunk.split_inclusive(|&b| b == b'\n') {
        if *at_line_start {
            out.extend_from_slice(prefix);
        }
        out.extend_from_slice(piece);
        *at_line_start = piece.last() == Some(&b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(chunks: &[&[u8]]) -> Vec<u8> {
        let mut at_start = true;
        let mut out = Vec::new();
        for c in chunks {
            frame_replies(c, b"P:", &mut at_start, &mut out);
        }
        out
    }

    #[test]
    fn one_prefix_per_line_however_the_bytes_are_cut() {
        assert_eq!(framed(&[b"ab\ncd\n"]), b"P:ab\nP:cd\n");
        assert_eq!(framed(&[b"a", b"b\nc", b"d\n"]), b"P:ab\nP:cd\n");
        assert_eq!(framed(&[b"\n\n"]), b"P:\nP:\n");
        assert_eq!(framed(&[b"no newline"]), b"P:no newline");
        assert_eq!(framed(&[]), b"");
    }
}
