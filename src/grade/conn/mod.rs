//! The grader's side of a TCP connection: every byte recorded in the check's transcript, every wait bounded.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::verdict::{CheckResult, Direction, Failure, Outcome, Transcript};
use super::words::{self, party};
use crate::i18n::{key, Message};
use crate::wire::{self, Deadline, ReadEnd};

mod http;
mod reply;

/// The most bytes [`Conn::read_message`] takes as one message: a program that floods without a newline
/// has answered, and reading on would only cost time.
const MESSAGE_CAP: usize = 64 * 1024;

use reply::SETTLE_LOOK;
pub use reply::{Awaited, Compare, Then};

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
        self.within_said().english()
    }

    /// [`Limits::within`] as a message, to say in any language.
    pub fn within_said(&self) -> Message {
        words::within(self.wait, Instant::now() >= self.end)
    }
}

/// How a wait for the program to close a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// The program closed its end (FIN or reset).
    Closed,
    /// The program waits (every thread of it), the connection still open.
    Waiting,
    /// The deadline passed with the connection still open.
    Deadline,
}

/// A TCP connection between the grader and the program under test, named in the transcript
/// (`client 1`): every read and write is bounded by a deadline and recorded.
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
    /// Replies (or typed lines) received whole so far.
    replies: usize,
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
            crate::Error::ConnectTimeout { secs, .. } => Failure::said(
                Outcome::Timeout,
                Message::new(key::CONNECT_NOT_ACCEPTED)
                    .arg("client", party(name))
                    .arg("addr", addr.to_string())
                    .arg("secs", format!("{secs:.1}")),
            ),
            // The program is the one that should be listening: no advice to "start the server".
            crate::Error::Refused { .. } => Failure::said(
                Outcome::Fail,
                Message::new(key::CONNECT_REFUSED)
                    .arg("client", party(name))
                    .arg("addr", addr.to_string()),
            ),
            e => Failure::said(
                Outcome::Fail,
                Message::new(key::CONNECT_FAILED)
                    .arg("client", party(name))
                    .arg("addr", addr.to_string())
                    .arg("error", e.to_string()),
            ),
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
            replies: 0,
            pending: Vec::new(),
            parking: parking.clone(),
            closed: false,
        }
    }

    /// The deadlines this connection's waits use.
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

    /// The connection's name in the transcript.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The grader's end of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// The program's end of the connection.
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
        Err(Failure::said(
            Outcome::Timeout,
            Message::new(key::STOPPED_READING)
                .arg("client", party(&self.name))
                .arg("sent", sent)
                .arg("total", bytes.len())
                .arg("within", self.limits.within_said()),
        )
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

    /// Sets the answer deadline of the waits that follow (a scripted step's own deadline).
    pub fn set_wait(&mut self, wait: Duration) {
        self.limits.wait = wait;
    }

    /// Reads until `done(pending bytes)` holds, the program closes or the deadline passes; what came
    /// stays pending (see [`Conn::leftover`], [`Conn::take`]). For checks that judge replies their own
    /// way.
    pub fn receive_until(
        &mut self,
        deadline: Deadline,
        done: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<ReadEnd> {
        self.fill(deadline, done)
    }

    /// Takes the first `n` pending bytes (all of them when fewer are pending).
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        self.pending.drain(..n.min(self.pending.len())).collect()
    }

    /// Records an I/O error met while `doing` something and turns it into a failure that says so.
    pub fn broken(&self, doing: &str, e: io::Error) -> Failure {
        self.log.event(&self.name, &format!("error: {e}"));
        let reset = matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        );
        let said = |id: &str| {
            let message = Message::new(id)
                .arg("client", party(&self.name))
                .arg("error", e.to_string());
            Failure::said(Outcome::Fail, message)
        };
        if self.peer_closed && reset {
            return said(key::REFUSED_AFTER_CLOSE);
        }
        if reset && doing == "sending" {
            return said(key::CLOSED_WHILE_SENDING);
        }
        Failure::said(
            Outcome::Fail,
            Message::new(key::CONNECTION_BROKE)
                .arg("client", party(&self.name))
                .arg("doing", words::phrase(doing))
                .arg("error", e.to_string()),
        )
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
            // Bytes that arrive in several reads, with nothing sent between, are one event.
            let fresh = self.pending[before..].to_vec();
            self.log
                .record_merged(&self.name, Direction::Received, &fresh);
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

    /// Reads one message from the program: up to a newline, or what came before the program went back
    /// to waiting (a peer that sends without a newline). Returns it without its line ending, or `None`
    /// at EOF with nothing pending. A server that plainly will not answer fails at once.
    pub fn read_message(&mut self) -> CheckResult<Option<Vec<u8>>> {
        let whole = |b: &[u8]| b.contains(&b'\n') || b.len() >= MESSAGE_CAP;
        let (end, stopped) = match self.fill_watching(whole) {
            Ok(found) => found,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => (ReadEnd::Eof, None),
            Err(e) => return Err(self.broken("waiting for a message", e)),
        };
        let len = self
            .pending
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.pending.len(), |i| i + 1);
        if len == 0 {
            return match (end, stopped) {
                (ReadEnd::Eof, _) => Ok(None),
                (_, Some(_)) => Err(Failure::said(
                    Outcome::Fail,
                    Message::new(key::READ_AND_WAITED_NO_ANSWER).arg("client", party(&self.name)),
                )),
                _ => Err(Failure::said(
                    Outcome::Timeout,
                    Message::new(key::NOTHING_ARRIVED)
                        .arg("client", party(&self.name))
                        .arg("within", self.limits.within_said()),
                )),
            };
        }
        let mut message: Vec<u8> = self.pending.drain(..len).collect();
        while matches!(message.last(), Some(b'\n' | b'\r')) {
            message.pop();
        }
        Ok(Some(message))
    }

    /// Reads until the program closes; fails on timeout, when more than `limit` bytes come, or when the
    /// program plainly waits without closing.
    pub fn read_to_eof(&mut self, limit: usize) -> CheckResult<Vec<u8>> {
        let (end, stopped) = self
            .fill_watching(|b| b.len() > limit)
            .map_err(|e| self.broken("receiving", e))?;
        let data = std::mem::take(&mut self.pending);
        let name = &self.name;
        match (end, stopped) {
            (ReadEnd::Eof, _) => Ok(data),
            (ReadEnd::Done, _) => Err(Failure::said(
                Outcome::Fail,
                Message::new(key::SENT_TOO_MUCH)
                    .arg("client", party(name))
                    .arg("limit", limit),
            )),
            (_, Some(_)) => Err(Failure::said(
                Outcome::Fail,
                Message::new(key::SENT_THEN_WAITED_OPEN)
                    .arg("client", party(name))
                    .arg("count", data.len()),
            )
            .with_actual(data)),
            _ => Err(Failure::said(
                Outcome::Timeout,
                Message::new(key::DID_NOT_CLOSE)
                    .arg("client", party(name))
                    .arg("within", self.limits.within_said())
                    .arg("count", data.len()),
            )
            .with_actual(data)),
        }
    }

    /// Waits (up to the answer deadline) for EOF from the program, throwing away what it sends.
    pub fn wait_closed(&mut self) -> Closing {
        let deadline = self.limits.deadline();
        let mut quiet_since = Instant::now();
        loop {
            let left = deadline.remaining().unwrap_or_default();
            let (closed, bytes) = self.drain_until_closed(Deadline::after(left.min(SETTLE_LOOK)));
            if closed {
                return Closing::Closed;
            }
            if deadline.passed() {
                return Closing::Deadline;
            }
            if bytes > 0 {
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= self.limits.quiet
                && self
                    .probe
                    .as_ref()
                    .is_some_and(|p| p.stopped(self.stderr_mark).is_some())
            {
                return Closing::Waiting;
            }
        }
    }

    /// As [`Conn::wait_closed`], up to `deadline` and without looking at the program: true if it
    /// closed (or reset) in time.
    pub fn wait_closed_by(&mut self, deadline: Deadline) -> bool {
        self.drain_until_closed(deadline).0
    }

    /// Reads and throws away until EOF (or a reset) or the deadline; whether it closed, and how many
    /// bytes came.
    fn drain_until_closed(&mut self, deadline: Deadline) -> (bool, usize) {
        let mut chunk = [0u8; 16 * 1024];
        let mut bytes = 0;
        loop {
            let Some(left) = deadline.remaining() else {
                return (false, bytes);
            };
            if self.stream.set_read_timeout(Some(left)).is_err() {
                return (false, bytes);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.log.event(&self.name, "peer closed (EOF)");
                    return (true, bytes);
                }
                Ok(n) => {
                    bytes += n;
                    self.log
                        .record_merged(&self.name, Direction::Received, &chunk[..n]);
                }
                Err(e) if wire::is_timeout(&e) => return (false, bytes),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.log.event(&self.name, &format!("error: {e}"));
                    return (true, bytes);
                }
            }
        }
    }

    /// Bytes received but not part of any reply so far.
    pub fn leftover(&self) -> &[u8] {
        &self.pending
    }
}
