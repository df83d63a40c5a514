//! The grader's side of a TCP connection: every byte recorded in the check's transcript, every wait bounded.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::verdict::{CheckResult, Direction, Failure, Transcript};
use crate::wire::{self, Deadline, ReadEnd};

/// After a wrong reply starts arriving, how long to keep reading (up to its newline) so the report shows
/// all of it.
const REST_OF_WRONG_REPLY: Duration = Duration::from_millis(200);
/// ...and at most this many bytes of it, so a program that floods cannot fill memory.
const REST_CAP: usize = 4096;

/// How replies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The expected bytes, optionally followed by `\n` or `\r\n`; stray line endings before a reply are
    /// ignored (a server that adds or keeps a newline is not wrong for it).
    Lenient,
    /// Exactly the expected bytes followed by `\n`.
    Strict,
    /// Exactly the expected bytes, nothing added (a script's `expect`, which writes its own newline).
    Exact,
}

pub struct Conn {
    stream: TcpStream,
    name: String,
    log: Transcript,
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
        deadline: Deadline,
    ) -> CheckResult<Conn> {
        let stream = wire::connect(addr, deadline).map_err(|e| match e {
            crate::Error::ConnectTimeout { .. } => {
                Failure::timeout(format!("{name}: could not connect to {addr}: {e}"))
            }
            e => Failure::fail(format!("{name}: could not connect to {addr}: {e}")),
        })?;
        Ok(Conn::accepted(stream, name, log, parking))
    }

    /// Wraps a connection the grader accepted (the program under test is the client).
    pub fn accepted(stream: TcpStream, name: &str, log: &Transcript, parking: &Parking) -> Conn {
        let _ = stream.set_nodelay(true);
        log.event(name, "connected");
        Conn {
            stream,
            name: name.to_string(),
            log: log.clone(),
            pending: Vec::new(),
            parking: parking.clone(),
            closed: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Sends bytes in one write.
    pub fn send(&mut self, bytes: &[u8]) -> CheckResult {
        self.log.record(&self.name, Direction::Sent, bytes);
        self.stream
            .write_all(bytes)
            .map_err(|e| self.broken("sending", e))
    }

    /// Sends bytes in slices of `slice` bytes, each its own write, pausing `pause` between them.
    pub fn send_slices(&mut self, bytes: &[u8], slice: usize, pause: Duration) -> CheckResult {
        for (i, piece) in bytes.chunks(slice.max(1)).enumerate() {
            if i > 0 && !pause.is_zero() {
                // Pacing, not synchronisation: the point is to let each slice leave on its own.
                std::thread::sleep(pause);
            }
            self.send(piece)?;
        }
        Ok(())
    }

    /// The failure of a connection that broke (reset, or another error) while the grader was `doing`
    /// something, noted in the transcript.
    pub fn broken(&self, doing: &str, e: io::Error) -> Failure {
        self.log.event(&self.name, &format!("error: {e}"));
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
            Ok(ReadEnd::Eof) => self.log.event(&self.name, "peer closed (EOF)"),
            Err(e) => self.log.event(&self.name, &format!("error: {e}")),
            _ => {}
        }
        end
    }

    /// Waits for one reply equal to `expected` (see [`Compare`]) and consumes it. A reply that starts to
    /// differ fails at once, with the whole wrong reply shown; silence until the deadline is a timeout.
    pub fn expect_reply(
        &mut self,
        expected: &[u8],
        compare: Compare,
        deadline: Deadline,
        wait: Duration,
    ) -> CheckResult {
        let strict = compare != Compare::Lenient;
        let wanted = if compare == Compare::Strict {
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
        let end = self
            .fill(deadline, |buf| judge(buf) != Judgement::SoFarSoGood)
            .map_err(|e| self.broken("waiting for a reply", e))?;
        match judge(&self.pending) {
            Judgement::Match => {
                let skipped = if strict {
                    0
                } else {
                    self.pending.len() - skip_line_ends(&self.pending).len()
                };
                self.pending.drain(..skipped + wanted.len());
                if !strict {
                    // Take the reply's own line ending when it is already here.
                    let ends = self.pending.len() - skip_line_ends(&self.pending).len();
                    self.pending.drain(..ends.min(2));
                }
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
                Err(Failure::fail(format!(
                    "{}: the reply differs{}",
                    self.name,
                    locate(&wanted, shown)
                ))
                .with_expected(wanted)
                .with_actual(actual))
            }
            Judgement::SoFarSoGood => {
                let actual = std::mem::take(&mut self.pending);
                let secs = wait.as_secs_f64();
                let failure = match end {
                    ReadEnd::Eof if actual.is_empty() => Failure::fail(format!(
                        "{}: the program closed the connection without replying",
                        self.name
                    )),
                    ReadEnd::Eof => Failure::fail(format!(
                        "{}: the program closed the connection in the middle of the reply",
                        self.name
                    )),
                    _ if actual.is_empty() => {
                        Failure::timeout(format!("{}: no reply within {secs:.1} s", self.name))
                    }
                    _ => Failure::timeout(format!(
                        "{}: the reply stopped short: nothing more within {secs:.1} s",
                        self.name
                    )),
                };
                Err(failure.with_expected(wanted).with_actual(actual))
            }
        }
    }

    /// Reads until `done(pending bytes)` holds, the program closes or the deadline passes; what came stays
    /// pending (see [`Conn::leftover`], [`Conn::take`]). For checks that judge replies their own way.
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

    /// Reads one message from the program: up to a newline, or what came before a quiet gap.
    /// Returns the message without its line ending, or `None` at EOF with nothing pending.
    pub fn read_message(
        &mut self,
        deadline: Deadline,
        quiet: Duration,
        wait: Duration,
    ) -> CheckResult<Option<Vec<u8>>> {
        let before = self.pending.len();
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
                    "{}: nothing arrived within {:.1} s",
                    self.name,
                    wait.as_secs_f64()
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
    pub fn read_to_eof(
        &mut self,
        deadline: Deadline,
        wait: Duration,
        limit: usize,
    ) -> CheckResult<Vec<u8>> {
        let mut data = std::mem::take(&mut self.pending);
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
                "{}: the program did not close the connection within {:.1} s ({} bytes arrived)",
                self.name,
                wait.as_secs_f64(),
                data.len()
            ))
            .with_actual(data)),
        }
    }

    /// Waits for EOF from the program, throwing away what it sends; true if it closed (or reset) in time.
    pub fn wait_closed(&mut self, deadline: Deadline) -> bool {
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

    fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Transcript::new();
        let conn = Conn::connect(
            addr,
            "client 1",
            &log,
            &Parking::default(),
            Deadline::after(Duration::from_secs(5)),
        )
        .unwrap();
        let (server, _) = listener.accept().unwrap();
        (conn, server)
    }

    fn expect(conn: &mut Conn, expected: &str, compare: Compare) -> CheckResult {
        let wait = Duration::from_secs(2);
        conn.expect_reply(expected.as_bytes(), compare, Deadline::after(wait), wait)
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
    fn silence_is_a_timeout_and_a_close_is_a_fail() {
        let (mut conn, server) = pair();
        let wait = Duration::from_millis(100);
        let failure = conn
            .expect_reply(b"x", Compare::Lenient, Deadline::after(wait), wait)
            .unwrap_err();
        assert_eq!(failure.outcome(), super::super::verdict::Outcome::Timeout);
        drop(server);
        let failure = expect(&mut conn, "x", Compare::Lenient).unwrap_err();
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
