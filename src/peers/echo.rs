//! The lesson's ECHO server and client: the server answers `prefix + message` for every line a client sends.
//!
//! The server streams: the prefix goes out when the first byte of a line arrives, and the line's bytes are
//! forwarded as they come. So a line split over many reads, many lines in one read, a 1 MiB line or bytes
//! that are not UTF-8 all get exactly `prefix + line`, in memory bounded by one read buffer.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::wire::{self, Deadline};

/// The prefix of the lesson: `ECHO` and a full-width colon (U+FF1A).
pub const DEFAULT_PREFIX: &str = "ECHO：";

/// Bytes read at once per connection; allocated only once a connection has data, so idle ones cost little.
const READ_BUFFER: usize = 16 * 1024;

/// How the server takes its clients: the three servers of the lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
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

#[derive(Debug, Clone)]
pub struct EchoConfig {
    pub mode: Mode,
    pub prefix: Vec<u8>,
    /// Log each connection and its end to stderr.
    pub verbose: bool,
}

impl Default for EchoConfig {
    fn default() -> Self {
        EchoConfig {
            mode: Mode::Concurrent,
            prefix: DEFAULT_PREFIX.as_bytes().to_vec(),
            verbose: false,
        }
    }
}

/// A bound echo server, not yet serving: its address can be read (and printed) before any client comes.
pub struct EchoServer {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    config: EchoConfig,
}

impl EchoServer {
    pub fn bind(addr: SocketAddr, config: EchoConfig) -> Result<Self> {
        let listener = wire::listen_tcp(addr, wire::LISTEN_BACKLOG)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        Ok(EchoServer {
            listener,
            addr,
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the mode says to stop (`single`: after one client); `sequential` and `concurrent`
    /// serve until the process ends.
    pub fn run(self) -> Result<()> {
        let (_keep, stop) = oneshot::channel();
        self.run_until(stop)
    }

    /// Serves on a thread of its own; the returned handle stops the server when dropped.
    pub fn spawn(self) -> Result<ServerHandle> {
        let addr = self.addr;
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("echo-{addr}"))
            .spawn(move || self.run_until(stop_rx))
            .map_err(|e| Error::io("cannot start the server thread", e))?;
        Ok(ServerHandle {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    fn run_until(self, stop: oneshot::Receiver<()>) -> Result<()> {
        let mut builder = match self.config.mode {
            Mode::Concurrent => tokio::runtime::Builder::new_multi_thread(),
            Mode::Single | Mode::Sequential => tokio::runtime::Builder::new_current_thread(),
        };
        let runtime = builder
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::io("cannot start the async runtime", e))?;
        let result = runtime.block_on(self.serve(stop));
        // Dropping the runtime cancels the connections still being served.
        runtime.shutdown_timeout(Duration::from_secs(1));
        result
    }

    async fn serve(self, mut stop: oneshot::Receiver<()>) -> Result<()> {
        self.listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("cannot configure the listener", e))?;
        let listener = tokio::net::TcpListener::from_std(self.listener)
            .map_err(|e| Error::io("cannot register the listener", e))?;
        let prefix: Arc<[u8]> = self.config.prefix.into();
        let verbose = self.config.verbose;
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // A failed accept (a reset in the backlog, EMFILE) never stops the server; the pause
                        // keeps a persistent EMFILE from spinning.
                        eprintln!("sockspec: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                _ = &mut stop => return Ok(()),
            };
            if verbose {
                eprintln!("connected: {peer}");
            }
            let served = serve_connection(stream, prefix.clone());
            match self.config.mode {
                Mode::Concurrent => {
                    tokio::spawn(async move {
                        log_end(peer, served.await, verbose);
                    });
                }
                Mode::Sequential | Mode::Single => {
                    tokio::select! {
                        result = served => log_end(peer, result, verbose),
                        _ = &mut stop => return Ok(()),
                    }
                    if self.config.mode == Mode::Single {
                        return Ok(());
                    }
                }
            }
        }
    }
}

fn log_end(peer: SocketAddr, result: io::Result<u64>, verbose: bool) {
    match result {
        Ok(lines) if verbose => eprintln!("closed: {peer} after {lines} lines"),
        Ok(_) => {}
        // A client that resets or vanishes is its own business; say so and go on serving.
        Err(e) => eprintln!("sockspec: connection from {peer}: {e}"),
    }
}

/// Echoes one connection until the client closes. Returns the number of complete lines answered.
async fn serve_connection(mut stream: tokio::net::TcpStream, prefix: Arc<[u8]>) -> io::Result<u64> {
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
        lines += input[..n].iter().filter(|&&b| b == b'\n').count() as u64;
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

/// A server serving on its own thread. Dropping it stops the server and waits for the thread.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// True once the server has stopped by itself (a `single` server after its client).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the server and returns how it ended.
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(Error::Usage("the server thread panicked".into()))),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Settings of the echo client.
#[derive(Debug, Clone)]
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
