//! The grader's side of a TCP connection: every byte recorded in the check's transcript, every wait bounded.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::verdict::{CheckResult, Direction, Failure, Transcript};
use super::watch::Stopped;
use crate::wire::{self, Deadline, ReadEnd};

/// The waits of one check: each wait for an answer (or for a write to be taken) lasts the check's answer
/// deadline, and none goes past the end of the check's time budget.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The answer deadline.
    pub wait: Duration,
    /// The end of the check's time budget.
    pub end: Instant,
    /// How long a program that waits with nothing to read, and sends nothing, is given before it is taken
    /// to have answered all it will.
    pub quiet: Duration,
}

impl Limits {
    /// A deadline for one wait starting now.
    pub fn deadline(&self) -> Deadline {
        let left = self.end.saturating_duration_since(Instant::now());
        Deadline::after(self.wait.min(left))
    }

    /// "within 5.0 s", or the budget when it is what cut the wait.
    pub fn within(&self) -> String {
        if Instant::now() >= self.end {
            "before the check's time budget ran out".to_string()
        } else {
            format!("within {:.1} s", self.wait.as_secs_f64())
        }
    }
}

/// What the grader waits for on a connection, for the words of its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaited {
    /// A server's reply to a message.
    Reply,
    /// A client sending the line typed on its stdin.
    TypedLine,
}

impl Awaited {
    fn noun(self) -> &'static str {
        match self {
            Awaited::Reply => "the reply",
            Awaited::TypedLine => "the line typed",
        }
    }
}

/// Whether more replies are expected on the connection right after this one (then bytes already waiting
/// belong to them), or this reply must be all the program sent for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    End,
    More,
}

/// After a wrong reply starts arriving, how long to keep reading (up to its newline) so the report shows
/// all of it.
const REST_OF_WRONG_REPLY: Duration = Duration::from_millis(200);
/// ...and at most this many bytes of it, so a program that floods cannot fill memory.
const REST_CAP: usize = 4096;

/// How often a silent server is looked at, to tell a reply that is late from one that will not come.
const SETTLE_LOOK: Duration = Duration::from_millis(50);

/// How replies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The expected bytes, optionally followed by `\n` or `\r\n`; stray line endings before a reply are
    /// ignored (a server that adds or keeps a newline is not wrong for it).
    Lenient,
    /// Exactly the expected bytes followed by `\n`.
    Strict,
}

pub struct Conn {
    stream: TcpStream,
    name: String,
    log: Transcript,
    limits: Limits,
    /// Where to see whether the program waits, for a server: a reply that will not come is told at once.
    probe: Option<super::watch::Probe>,
    /// The program's stderr position when the grader last sent on this connection.
    stderr_mark: u64,
    /// The program closed its side (EOF was read): what the grader sends after that is refused.
    peer_closed: bool,
    /// Bytes read but not yet consumed by a reply.
    pending: Vec<u8>,
    parking: Parking,
    /// Closed on purpose, by [`Conn::close`] or [`Conn::reset`].
    closed: bool,
}

/// Where connections go that a check drops without closing them on purpose. They stay open until the
/// check's verdict is settled: a close the check never meant (its end) must not make the program crash
/// before the grader has looked at it.
#[derive(Debug, Clone, Default)]
pub struct Parking {
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Parking {
    /// Closes every parked connection.
    pub fn release(&self) {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn park(&self, stream: TcpStream) {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(stream);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.closed {
            if let Ok(stream) = self.stream.try_clone() {
                self.parking.park(stream);
            }
        }
    }
}

impl Conn {
    /// Connects to the program under test. A refusal is the program's doing (it stopped listening), so
    /// it is reported as a failure, not a harness fault.
    pub fn connect(
        addr: SocketAddr,
        name: &str,
        log: &Transcript,
        parking: &Parking,
        limits: Limits,
    ) -> CheckResult<Conn> {
        let stream = wire::connect(addr, limits.deadline()).map_err(|e| match e {
            crate::Error::ConnectTimeout { secs, .. } => Failure::timeout(format!(
                "{name}: the connection to {addr} was not accepted within {secs:.1} s"
            )),
            // The program is the one that should be listening: no advice to "start the server".
            crate::Error::Refused { .. } => Failure::fail(format!(
                "{name}: the connection to {addr} was refused: the program no longer listened"
            )),
            e => Failure::fail(format!("{name}: could not connect to {addr}: {e}")),
        })?;
        Ok(Conn::accepted(stream, name, log, parking, limits))
    }

    /// Wraps a connection the grader accepted (the program under test is the client).
    pub fn accepted(
        stream: TcpStream,
        name: &str,
        log: &Transcript,
        parking: &Parking,
        limits: Limits,
    ) -> Conn {
        let _ = stream.set_nodelay(true);
        log.event(name, "connected");
        Conn {
            stream,
            name: name.to_string(),
            log: log.clone(),
            limits,
            probe: None,
            stderr_mark: 0,
            peer_closed: false,
            pending: Vec::new(),
            parking: parking.clone(),
            closed: false,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Lets replies that will not come be told early: the program's first process is `pid`.
    pub fn watch_program(&mut self, pid: u32, stderr: &std::sync::Arc<super::capture::Capture>) {
        self.probe = self.feed().map(|feed| super::watch::Probe {
            pid: pid as i32,
            feed,
            stderr: std::sync::Arc::clone(stderr),
        });
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// The program's end of this connection, to see whether it has read what was sent.
    pub fn feed(&self) -> Option<super::watch::Feed> {
        Some(super::watch::Feed {
            proto: super::procfs::Proto::Tcp,
            local: self.stream.peer_addr().ok()?,
            remote: self.stream.local_addr().ok(),
        })
    }

    /// Sends bytes (one write call when the program takes them as fast as they come). A program that
    /// stops reading cannot block the grader: the bytes must be taken within the answer deadline.
    pub fn send(&mut self, bytes: &[u8]) -> CheckResult {
        self.log.record(&self.name, Direction::Sent, bytes);
        self.mark_stderr();
        self.write_all(bytes)
    }

    /// Remembers where the program's stderr is before a message goes out: a traceback after it is the
    /// program's reaction to the message.
    fn mark_stderr(&mut self) {
        if let Some(probe) = &self.probe {
            self.stderr_mark = probe.stderr.total();
        }
    }

    /// Writes all of `bytes` within the answer deadline (not recorded: the caller did).
    fn write_all(&mut self, bytes: &[u8]) -> CheckResult {
        let deadline = self.limits.deadline();
        let mut sent = 0;
        while sent < bytes.len() {
            let Some(left) = deadline.remaining() else {
                break;
            };
            if let Err(e) = self.stream.set_write_timeout(Some(left)) {
                return Err(self.broken("sending", e));
            }
            match self.stream.write(&bytes[sent..]) {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(e) if wire::is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.broken("sending", e)),
            }
        }
        if sent == bytes.len() {
            return Ok(());
        }
        self.log.event(
            &self.name,
            &format!("only {sent} of {} bytes were taken", bytes.len()),
        );
        Err(Failure::timeout(format!(
            "{}: the program stopped reading: it took {sent} of the {} bytes sent, and no more {} \
             (a program that neither reads nor closes blocks its peer)",
            self.name,
            bytes.len(),
            self.limits.within()
        ))
        .after_waiting())
    }

    /// Sends bytes in slices of `slice` bytes, each its own write, pausing `pause` between them.
    /// Sends bytes in slices of `slice` bytes, each its own write, pausing `pause` between them.
    pub fn send_slices(&mut self, bytes: &[u8], slice: usize, pause: Duration) -> CheckResult {
        let parts: Vec<&[u8]> = bytes.chunks(slice.max(1)).collect();
        self.send_parts(&parts, pause)
    }

    /// Sends `parts` one after another, each its own write, pausing `pause` between them. The transcript
    /// keeps the whole message as one event, and one more that says how it was cut.
    pub fn send_parts(&mut self, parts: &[&[u8]], pause: Duration) -> CheckResult {
        let whole = parts.concat();
        self.log.record(&self.name, Direction::Sent, &whole);
        self.mark_stderr();
        let sizes: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        let shape = if sizes.iter().all(|&n| n == sizes[0]) || sizes.len() > 4 {
            format!("{} writes of {} bytes", sizes.len(), sizes[0])
        } else {
            let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
            format!("{} writes of {} bytes", parts.len(), sizes.join(" + "))
        };
        self.log.event(
            &self.name,
            &format!("(sent in {shape}, {} ms apart)", pause.as_millis()),
        );
        for (i, piece) in parts.iter().enumerate() {
            if i > 0 && !pause.is_zero() {
                // Pacing, not synchronisation: the point is to let each slice leave on its own.
                std::thread::sleep(pause);
            }
            self.write_all(piece)?;
        }
        Ok(())
    }

    pub fn broken(&self, doing: &str, e: io::Error) -> Failure {
        self.log.event(&self.name, &format!("error: {e}"));
        let reset = matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        );
        if self.peer_closed && reset {
            return Failure::fail(format!(
                "{}: the program had closed the connection after its last reply, so what was sent \
                 next was refused ({e}): it serves one message per connection",
                self.name
            ));
        }
        Failure::fail(format!(
            "{}: the connection broke while {doing}: {e}",
            self.name
        ))
    }

    /// Half-closes: the program reads EOF.
    pub fn finish(&mut self) {
        self.log.event(&self.name, "closed its sending side (FIN)");
        let _ = wire::finish_sending(&self.stream);
    }

    /// Closes in order (FIN) and forgets the connection.
    pub fn close(mut self) {
        self.log.event(&self.name, "closed (FIN)");
        self.closed = true;
    }

    /// Closes with a reset (RST).
    pub fn reset(mut self) {
        self.log.event(&self.name, "reset (RST)");
        self.closed = true;
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }

    /// Reads more into `pending`; logs what came.
    fn fill(&mut self, deadline: Deadline, done: impl FnMut(&[u8]) -> bool) -> io::Result<ReadEnd> {
        let before = self.pending.len();
        let end = wire::read_until(&mut self.stream, &mut self.pending, deadline, done);
        if self.pending.len() > before {
            let fresh = self.pending[before..].to_vec();
            self.log.record(&self.name, Direction::Received, &fresh);
        }
        match &end {
            Ok(ReadEnd::Eof) => {
                self.peer_closed = true;
                self.log.event(&self.name, "peer closed (EOF)");
            }
            Err(e) => self.log.event(&self.name, &format!("error: {e}")),
            _ => {}
        }
        end
    }

    /// Waits for one reply equal to `expected` (see [`Compare`]) and consumes it. A reply that starts to
    /// differ fails at once, with the whole wrong reply shown; silence until the deadline is a timeout.
    /// With [`Then::End`], bytes already waiting after the reply (other than its line ending) fail it:
    /// a reply is the expected bytes, not the expected bytes and something more.
    pub fn expect_reply(
        &mut self,
        expected: &[u8],
        compare: Compare,
        awaited: Awaited,
        then: Then,
    ) -> CheckResult {
        let strict = compare == Compare::Strict;
        let wanted = if strict {
            [expected, b"\n"].concat()
        } else {
            expected.to_vec()
        };
        let judge = |buf: &[u8]| -> Judgement {
            let buf = if strict { buf } else { skip_line_ends(buf) };
            if buf.len() >= wanted.len() {
                if buf.starts_with(&wanted) {
                    Judgement::Match
                } else {
                    Judgement::Differs
                }
            } else if wanted.starts_with(buf) {
                Judgement::SoFarSoGood
            } else {
                Judgement::Differs
            }
        };
        let noun = awaited.noun();
        let closed_before = self.peer_closed;
        let (end, settled) = self
            .fill_watching(|buf| judge(buf) != Judgement::SoFarSoGood)
            .map_err(|e| self.broken(&format!("waiting for {noun}"), e))?;
        match judge(&self.pending) {
            Judgement::Match => {
                let skipped = if strict {
                    0
                } else {
                    self.pending.len() - skip_line_ends(&self.pending).len()
                };
                let reply_end = skipped + wanted.len();
                if then == Then::End {
                    self.take_available();
                }
                let rest = &self.pending[reply_end..];
                let line_end = rest.len() - skip_line_ends(rest).len();
                let line_end = if strict { 0 } else { line_end.min(2) };
                if then == Then::End && rest.len() > line_end {
                    let extra = &rest[line_end..];
                    let what = if extra.iter().all(|&b| b == 0) {
                        format!("{} NUL bytes (\\0)", extra.len())
                    } else {
                        format!("{} more bytes", extra.len())
                    };
                    let actual = std::mem::take(&mut self.pending);
                    return Err(Failure::fail(format!(
                        "{}: {noun} came, followed by {what}: a message ends where its text ends",
                        self.name
                    ))
                    .with_expected(wanted)
                    .with_actual(actual));
                }
                self.pending.drain(..reply_end + line_end);
                Ok(())
            }
            Judgement::Differs => {
                // Read the rest of the wrong reply (up to its newline or a short quiet gap) to show it.
                let rest = Deadline::after(REST_OF_WRONG_REPLY);
                let cap = wanted.len() + REST_CAP;
                let _ = self.fill(rest, |b| b.len() >= cap || b.ends_with(b"\n"));
                let actual = std::mem::take(&mut self.pending);
                let shown = if strict {
                    &actual[..]
                } else {
                    skip_line_ends(&actual)
                };
                let what = match awaited {
                    Awaited::Reply => "the reply differs".to_string(),
                    Awaited::TypedLine => {
                        "what the program sent differs from the line typed".to_string()
                    }
                };
                Err(Failure::fail(format!(
                    "{}: {what}{}{}",
                    self.name,
                    before_it(&wanted, shown),
                    locate(&wanted, shown)
                ))
                .with_expected(wanted)
                .with_actual(actual))
            }
            Judgement::SoFarSoGood => {
                let actual = std::mem::take(&mut self.pending);
                let within = self.limits.within();
                let name = &self.name;
                let failure = match (end, awaited, actual.is_empty()) {
                    _ if settled == Some(Stopped::Traceback) => Failure::fail(format!(
                        "{name}: the program stopped {} this client: a traceback appeared on its \
                         stderr (a thread died), and nothing of it runs",
                        if actual.is_empty() {
                            "without replying to"
                        } else {
                            "in the middle of its reply to"
                        }
                    )),
                    _ if settled.is_some() && actual.is_empty() => Failure::fail(format!(
                        "{name}: the program read the message and went back to waiting without \
                         replying"
                    )),
                    _ if settled.is_some() => Failure::fail(format!(
                        "{name}: {noun} stopped short, and the program went back to waiting"
                    )),
                    (ReadEnd::Eof, Awaited::Reply, true) if closed_before => {
                        Failure::fail(format!(
                        "{name}: the program closed the connection after its previous reply: it \
                         serves one message per connection"
                    ))
                    }
                    (ReadEnd::Eof, Awaited::Reply, true) => Failure::fail(format!(
                        "{name}: the program closed the connection without replying"
                    )),
                    (ReadEnd::Eof, Awaited::TypedLine, true) => Failure::fail(format!(
                        "{name}: the program closed the connection without sending the line typed"
                    )),
                    (ReadEnd::Eof, _, false) => Failure::fail(format!(
                        "{name}: the program closed the connection in the middle of {noun}"
                    )),
                    (_, Awaited::Reply, true) => {
                        Failure::timeout(format!("{name}: no reply {within}"))
                    }
                    (_, Awaited::TypedLine, true) => Failure::timeout(format!(
                        "{name}: the program did not send the line typed {within}"
                    )),
                    (_, _, false) => Failure::timeout(format!(
                        "{name}: {noun} stopped short: nothing more {within}"
                    )),
                };
                Err(failure.with_expected(wanted).with_actual(actual))
            }
        }
    }

    /// Reads until `done` holds, the program closes, or the answer deadline passes; or, for a server
    /// being watched, until it has read everything and waits with nothing more sent for the quiet gap
    /// (then `true`: what was asked for will not come).
    fn fill_watching(
        &mut self,
        mut done: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<(ReadEnd, Option<Stopped>)> {
        let deadline = self.limits.deadline();
        let Some(probe) = self.probe.clone() else {
            return Ok((self.fill(deadline, done)?, None));
        };
        let mut quiet_since = Instant::now();
        loop {
            let left = deadline.remaining().unwrap_or_default();
            let slice = Deadline::after(left.min(SETTLE_LOOK));
            let before = self.pending.len();
            let end = self.fill(slice, &mut done)?;
            if end != ReadEnd::Deadline || deadline.passed() {
                return Ok((end, None));
            }
            if self.pending.len() != before {
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= self.limits.quiet {
                if let Some(stopped) = probe.stopped(self.stderr_mark) {
                    let what = match stopped {
                        Stopped::Waiting => "the program has read everything and waits",
                        Stopped::Traceback => "a traceback appeared on stderr; the program waits",
                    };
                    self.log.event(&self.name, what);
                    return Ok((ReadEnd::Quiet, Some(stopped)));
                }
            }
        }
    }

    /// Adds to `pending` what has already arrived, without waiting.
    fn take_available(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        if self.stream.set_nonblocking(true).is_err() {
            return;
        }
        let before = self.pending.len();
        // Bounded: what one reply can carry after it, at most.
        while self.pending.len() - before < REST_CAP * 16 {
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.log.event(&self.name, "peer closed (EOF)");
                    break;
                }
                Err(_) => break,
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = self.stream.set_nonblocking(false);
        if self.pending.len() > before {
            let fresh = self.pending[before..].to_vec();
            self.log.record(&self.name, Direction::Received, &fresh);
        }
    }

    /// Reads one message from the program: up to a newline, or what came before a quiet gap.
    /// Returns the message without its line ending, or `None` at EOF with nothing pending.
    pub fn read_message(&mut self, quiet: Duration) -> CheckResult<Option<Vec<u8>>> {
        let before = self.pending.len();
        let deadline = self.limits.deadline();
        let result = wire::read_message(&mut self.stream, &mut self.pending, deadline, quiet);
        if self.pending.len() > before {
            let fresh = self.pending[before..].to_vec();
            self.log.record(&self.name, Direction::Received, &fresh);
        }
        let (end, len) = result.map_err(|e| self.broken("waiting for a message", e))?;
        if len == 0 {
            return match end {
                ReadEnd::Eof => {
                    self.log.event(&self.name, "peer closed (EOF)");
                    Ok(None)
                }
                _ => Err(Failure::timeout(format!(
                    "{}: nothing arrived {}",
                    self.name,
                    self.limits.within()
                ))),
            };
        }
        let mut message: Vec<u8> = self.pending.drain(..len).collect();
        while matches!(message.last(), Some(b'\n' | b'\r')) {
            message.pop();
        }
        Ok(Some(message))
    }

    /// Reads until the program closes; fails on timeout or when more than `limit` bytes come.
    pub fn read_to_eof(&mut self, limit: usize) -> CheckResult<Vec<u8>> {
        let mut data = std::mem::take(&mut self.pending);
        let deadline = self.limits.deadline();
        let end = wire::read_until(&mut self.stream, &mut data, deadline, |b| b.len() > limit)
            .map_err(|e| self.broken("receiving", e))?;
        // Files can be large: the transcript keeps one event for the whole transfer.
        self.log.record(&self.name, Direction::Received, &data);
        match end {
            ReadEnd::Eof => {
                self.log.event(&self.name, "peer closed (EOF)");
                Ok(data)
            }
            ReadEnd::Done => Err(Failure::fail(format!(
                "{}: the program sent more than {limit} bytes without closing",
                self.name
            ))),
            _ => Err(Failure::timeout(format!(
                "{}: the program did not close the connection {} ({} bytes arrived)",
                self.name,
                self.limits.within(),
                data.len()
            ))
            .with_actual(data)),
        }
    }

    /// Waits (up to the answer deadline) for EOF from the program, throwing away what it sends; true if
    /// it closed (or reset) in time.
    pub fn wait_closed(&mut self) -> bool {
        let deadline = self.limits.deadline();
        self.wait_closed_by(deadline)
    }

    /// As [`Conn::wait_closed`], up to `deadline`.
    pub fn wait_closed_by(&mut self, deadline: Deadline) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let Some(left) = deadline.remaining() else {
                return false;
            };
            if self.stream.set_read_timeout(Some(left)).is_err() {
                return false;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.log.event(&self.name, "peer closed (EOF)");
                    return true;
                }
                Ok(n) => self
                    .log
                    .record(&self.name, Direction::Received, &chunk[..n]),
                Err(e) if wire::is_timeout(&e) => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.log.event(&self.name, &format!("error: {e}"));
                    return true;
                }
            }
        }
    }

    /// Bytes received but not part of any reply so far.
    pub fn leftover(&self) -> &[u8] {
        &self.pending
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgement {
    Match,
    SoFarSoGood,
    Differs,
}

/// When the expected reply shows up later in what came, what came before it.
fn before_it(wanted: &[u8], actual: &[u8]) -> String {
    let Some(at) = (1..actual.len().saturating_sub(wanted.len()) + 1)
        .find(|&i| actual[i..].starts_with(wanted))
    else {
        return String::new();
    };
    let junk = &actual[..at];
    if junk.iter().all(|&b| b == 0) {
        format!(": {at} NUL bytes (\\0) came before it")
    } else {
        format!(": {at} other bytes came before it")
    }
}

/// For long replies, where the first difference is, with a few bytes of context on each side.
fn locate(wanted: &[u8], actual: &[u8]) -> String {
    const LONG: usize = 80;
    if wanted.len() <= LONG {
        return String::new();
    }
    let at = wanted
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(wanted.len().min(actual.len()));
    let around =
        |b: &[u8]| wire::escape_bytes(&b[at.saturating_sub(12).min(b.len())..b.len().min(at + 24)]);
    format!(
        " from byte {at} on: expected …{}…, got …{}…",
        around(wanted),
        around(actual)
    )
}

fn skip_line_ends(buf: &[u8]) -> &[u8] {
    let n = buf
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    &buf[n..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn limits(wait: Duration) -> Limits {
        Limits {
            wait,
            end: Instant::now() + Duration::from_secs(60),
            quiet: Duration::from_millis(200),
        }
    }

    fn pair_with(wait: Duration) -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Transcript::new();
        let conn =
            Conn::connect(addr, "client 1", &log, &Parking::default(), limits(wait)).unwrap();
        let (server, _) = listener.accept().unwrap();
        (conn, server)
    }

    fn pair() -> (Conn, TcpStream) {
        pair_with(Duration::from_secs(2))
    }

    fn expect(conn: &mut Conn, expected: &str, compare: Compare) -> CheckResult {
        conn.expect_reply(expected.as_bytes(), compare, Awaited::Reply, Then::More)
    }

    #[test]
    fn lenient_replies_take_or_leave_the_newline() {
        let (mut conn, mut server) = pair();
        server.write_all("ECHO：a\nECHO：b".as_bytes()).unwrap();
        expect(&mut conn, "ECHO：a", Compare::Lenient).unwrap();
        expect(&mut conn, "ECHO：b", Compare::Lenient).unwrap();
        server.write_all(b"\r\nECHO\xef\xbc\x9ac\n").unwrap();
        expect(&mut conn, "ECHO：c", Compare::Lenient).unwrap();
        assert!(conn.leftover().is_empty());
    }

    #[test]
    fn a_reply_that_differs_fails_at_once_with_the_whole_reply() {
        let (mut conn, mut server) = pair();
        server.write_all(b"ECHO:hello\n").unwrap();
        let failure = expect(&mut conn, "ECHO：hello", Compare::Lenient).unwrap_err();
        assert_eq!(failure.outcome(), super::super::verdict::Outcome::Fail);
        assert_eq!(failure.actual.as_deref(), Some(&b"ECHO:hello\n"[..]));
    }

    #[test]
    fn bytes_after_a_reply_fail_it() {
        let (mut conn, mut server) = pair();
        let mut padded = "ECHO：a\n".as_bytes().to_vec();
        padded.resize(1100, 0);
        server.write_all(&padded).unwrap();
        let failure = conn
            .expect_reply(
                "ECHO：a".as_bytes(),
                Compare::Lenient,
                Awaited::Reply,
                Then::End,
            )
            .unwrap_err();
        assert!(
            failure.message.contains("followed by 1091 NUL bytes"),
            "{}",
            failure.message
        );
        server.write_all("ECHO：b [junk]\n".as_bytes()).unwrap();
        let failure = conn
            .expect_reply(
                "ECHO：b".as_bytes(),
                Compare::Lenient,
                Awaited::Reply,
                Then::End,
            )
            .unwrap_err();
        assert!(
            failure.message.contains("followed by 8 more bytes"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn a_write_the_program_does_not_take_times_out() {
        let (mut conn, _server) = pair_with(Duration::from_millis(300));
        let failure = conn.send(&vec![7u8; 64 << 20]).unwrap_err();
        assert_eq!(failure.outcome(), super::super::verdict::Outcome::Timeout);
        assert!(
            failure.message.contains("stopped reading"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn silence_is_a_timeout_and_a_close_is_a_fail() {
        let (mut conn, server) = pair_with(Duration::from_millis(100));
        let failure = conn
            .expect_reply(b"x", Compare::Lenient, Awaited::Reply, Then::More)
            .unwrap_err();
        assert_eq!(failure.outcome(), super::super::verdict::Outcome::Timeout);
        drop(server);
        let failure = expect(&mut conn, "x", Compare::Lenient).unwrap_err();
        assert!(
            failure.message.contains("without replying"),
            "{}",
            failure.message
        );
        assert_eq!(failure.outcome(), super::super::verdict::Outcome::Fail);
    }

    #[test]
    fn strict_replies_need_their_newline() {
        let (mut conn, mut server) = pair();
        server.write_all(b"P:a\nP:b\r\n").unwrap();
        expect(&mut conn, "P:a", Compare::Strict).unwrap();
        assert!(expect(&mut conn, "P:b", Compare::Strict).is_err());
    }
}
