//! The lesson's ECHO client: a line sent, its reply awaited and printed, then the next line.

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::peers::strip_line_ending;
use crate::wire::{self, Deadline};

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
            strip_line_ending(&mut line);
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
