//! The lesson's ECHO server and client: the server answers `prefix + message` for every line a client sends.
//!
//! The server streams: the prefix goes out when the first byte of a line arrives, and the line's bytes are
//! forwarded as they come. So a line split over many reads, many lines in one read, a 1 MiB line or bytes
//! that are not UTF-8 all get exactly `prefix + line`, in memory bounded by one read buffer.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Handle, Stop};
use crate::error::{Error, Result};
use crate::wire::{self, Deadline};

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

/// Settings of the echo client: [`ClientConfig::default`] and the setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// How long to wait for each reply before giving up.
    pub reply_timeout: Duration,
    /// A reply without a newline ends after this long with nothing more (servers that strip the newline).
    pub quiet_gap: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            reply_timeout: Duration::from_secs(10),
            quiet_gap: Duration::from_millis(300),
        }
    }
}

impl ClientConfig {
    /// Sets how long to wait for each reply (and for the connection to open).
    pub fn reply_timeout(mut self, timeout: Duration) -> Self {
        self.reply_timeout = timeout;
        self
    }

    /// Sets how long a reply without a newline may pause before it counts as whole.
    pub fn quiet_gap(mut self, gap: Duration) -> Self {
        self.quiet_gap = gap;
        self
    }
}

/// Runs the echo client against `addr` with `lines` as its input and returns the replies, one per line,
/// without their line endings. As [`run_client`]: one line at a time, each reply awaited before the next
/// line goes; an empty line ends the input early, as it ends the lesson's client; a line holding `\n`
/// is sent as several lines.
///
/// ```
/// use sockspec::peers::echo::{self, ClientConfig, EchoConfig, EchoServer};
///
/// let server = EchoServer::bind("127.0.0.1:0".parse()?, EchoConfig::default().prefix("got "))?.spawn()?;
/// let replies = echo::send_lines(server.local_addr(), &ClientConfig::default(), ["one", "二"])?;
/// assert_eq!(replies, ["got one".as_bytes(), "got 二".as_bytes()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn send_lines(
    addr: SocketAddr,
    config: &ClientConfig,
    lines: impl IntoIterator<Item = impl AsRef<[u8]>>,
) -> Result<Vec<Vec<u8>>> {
    let mut input = Vec::new();
    for line in lines {
        input.extend_from_slice(line.as_ref());
        input.push(b'\n');
    }
    let mut output = Vec::new();
    let count = run_client(addr, config, &input[..], &mut output)?;
    // Every reply was written as one line, so the lines of the output are the replies.
    let mut replies: Vec<Vec<u8>> = output
        .split_inclusive(|&b| b == b'\n')
        .map(|line| {
            let mut line = line.to_vec();
            super::strip_line_ending(&mut line);
            line
        })
        .collect();
    replies.truncate(count as usize);
    Ok(replies)
}

/// Bytes read from the server at once by the client; a reply streams through a buffer of this size.
const CLIENT_READ: usize = 64 * 1024;

/// Bytes the client writes at once; the count sent so far is what tells a slow peer from a stuck one.
const CLIENT_WRITE: usize = 64 * 1024;

/// The echo client: sends each input line, writes each reply to `output` as a line; stops at an empty
/// line (a line that is only `\r\n` counts as empty) or the end of input, then closes. Returns the
/// number of replies received.
///
/// Lock-step, as the lesson's client: a line is sent, its reply read, then the next line. Within one
/// line, writing and reading overlap (the line is written from a second thread), so a line larger than
/// the socket buffers cannot deadlock against a server that echoes as it reads; the reply streams to
/// `output` up to its first newline, in bounded memory. Replies are written as they came, except that a
/// reply without a final newline gets one.
pub fn run_client(
    addr: SocketAddr,
    config: &ClientConfig,
    mut input: impl BufRead,
    mut output: impl Write,
) -> Result<u64> {
    let mut stream = wire::connect(addr, Deadline::after(config.reply_timeout))?;
    let configure = |e| Error::io("cannot configure the connection", e);
    stream.set_nodelay(true).map_err(configure)?;
    let writer = stream.try_clone().map_err(configure)?;
    // A write that makes no progress for this long fails instead of blocking for ever.
    writer
        .set_write_timeout(Some(config.reply_timeout))
        .map_err(configure)?;
    let mut line = Vec::new();
    let mut pending = Vec::new();
    let mut replies = 0u64;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("cannot read standard input", e))?;
        if n == 0 || line == b"\n" || line == b"\r\n" {
            break;
        }
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        exchange_line(
            &mut stream,
            &writer,
            addr,
            &line,
            &mut pending,
            config,
            &mut output,
        )?;
        replies += 1;
    }
    let _ = wire::finish_sending(&stream);
    Ok(replies)
}

/// Sends `line` from a scoped thread while this one streams its reply to `output`.
fn exchange_line(
    stream: &mut TcpStream,
    writer: &TcpStream,
    addr: SocketAddr,
    line: &[u8],
    pending: &mut Vec<u8>,
    config: &ClientConfig,
    output: &mut impl Write,
) -> Result<()> {
    let sent = AtomicU64::new(0);
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let sent = &sent;
        scope.spawn(move || {
            let mut writer = writer;
            let mut result = Ok(());
            for piece in line.chunks(CLIENT_WRITE) {
                result = writer.write_all(piece);
                if result.is_err() {
                    break;
                }
                sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
            }
            let _ = done_tx.send(result);
        });
        let mut writer_end = None;
        let got = stream_reply(stream, pending, config, output, sent, &done_rx, addr)
            .map(|end| writer_end = end);
        if got.is_err() {
            // Unblocks the writer, so that the scope's join cannot hang.
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return got;
        }
        // The reply ended before the line was all sent (a newline came early): the rest must still go
        // out, or fail within the write timeout.
        match writer_end.or_else(|| done_rx.recv().ok()) {
            Some(Err(e)) => Err(send_err(addr, config, e)),
            _ => Ok(()),
        }
    })
}

/// Streams one reply to `output`: bytes up to and including the first newline, or, once the line is
/// wholly sent, what arrived before `quiet_gap` passed with nothing more (or before the server closed).
/// Fails when neither side makes progress for `reply_timeout`. Returns how the writer ended, when it
/// did so before the reply ended.
fn stream_reply(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    config: &ClientConfig,
    output: &mut impl Write,
    sent: &AtomicU64,
    done: &mpsc::Receiver<io::Result<()>>,
    addr: SocketAddr,
) -> Result<Option<io::Result<()>>> {
    let out_err = |e| Error::io("cannot write standard output", e);
    let broke = |e| Error::io(format!("connection to {addr} broke"), e);
    let mut buf = vec![0u8; CLIENT_READ];
    let mut got = 0u64;
    let mut idle = Deadline::after(config.reply_timeout);
    let mut last_sent = 0;
    // When the whole line was sent, as far as this thread knows.
    let mut sent_at: Option<Instant> = None;
    let mut last_rx = Instant::now();
    // Bounded: each turn either moves bytes or waits at least a slice, and `idle` ends the waiting.
    loop {
        if !pending.is_empty() {
            let (piece, complete) = match pending.iter().position(|&b| b == b'\n') {
                Some(i) => (&pending[..=i], true),
                None => (&pending[..], false),
            };
            output.write_all(piece).map_err(out_err)?;
            got += piece.len() as u64;
            let len = piece.len();
            pending.drain(..len);
            if complete {
                output.flush().map_err(out_err)?;
                return Ok(sent_at.map(|_| Ok(())));
            }
        }
        if sent_at.is_none() {
            match done.try_recv() {
                Ok(Ok(())) => sent_at = Some(Instant::now()),
                Ok(Err(e)) => return Err(send_err(addr, config, e)),
                Err(_) => {}
            }
        }
        let now_sent = sent.load(Ordering::Relaxed);
        if now_sent != last_sent {
            last_sent = now_sent;
            idle = Deadline::after(config.reply_timeout);
        }
        // A reply without a newline ends once the line is out and the quiet gap passed since the last
        // byte either way.
        let quiet_until = sent_at
            .filter(|_| got > 0)
            .map(|at| at.max(last_rx) + config.quiet_gap);
        if quiet_until.is_some_and(|t| t <= Instant::now()) {
            end_unterminated(output)?;
            return Ok(Some(Ok(())));
        }
        let Some(left) = idle.remaining() else {
            let why = if got == 0 {
                format!(
                    "no reply within {:.1} s",
                    config.reply_timeout.as_secs_f64()
                )
            } else {
                format!(
                    "the reply stalled for {:.1} s",
                    config.reply_timeout.as_secs_f64()
                )
            };
            return Err(Error::io(
                format!("{addr}: {why}"),
                io::Error::from(io::ErrorKind::TimedOut),
            ));
        };
        // Waits in slices, so that the writer's end and its progress are noticed.
        let wait = match quiet_until {
            Some(t) => t.saturating_duration_since(Instant::now()),
            None => config.quiet_gap,
        }
        .min(left)
        .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(wait)).map_err(broke)?;
        match stream.read(&mut buf) {
            Ok(0) if got == 0 => {
                return Err(Error::io(
                    format!("{addr}: the server closed the connection without replying"),
                    io::Error::from(io::ErrorKind::UnexpectedEof),
                ))
            }
            // The server closed after a reply without a newline: that reply is whole.
            Ok(0) => {
                end_unterminated(output)?;
                return Ok(sent_at.map(|_| Ok(())));
            }
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                last_rx = Instant::now();
                idle = Deadline::after(config.reply_timeout);
            }
            Err(e) if wire::is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(broke(e)),
        }
    }
}

/// Ends a reply that came without a newline: the output still gets one line per reply.
fn end_unterminated(output: &mut impl Write) -> Result<()> {
    output
        .write_all(b"\n")
        .and_then(|_| output.flush())
        .map_err(|e| Error::io("cannot write standard output", e))
}

fn send_err(addr: SocketAddr, config: &ClientConfig, e: io::Error) -> Error {
    if wire::is_timeout(&e) {
        let secs = config.reply_timeout.as_secs_f64();
        return Error::io(
            format!("{addr} took nothing of the line for {secs:.1} s"),
            e,
        );
    }
    Error::io(format!("cannot send to {addr}"), e)
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
