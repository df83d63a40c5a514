//! Judging a reply: the expected bytes and nothing more, told apart from silence, a close, a reset, and
//! a program that has plainly stopped answering.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::Conn;
use crate::grade::verdict::Outcome;
use crate::grade::verdict::{CheckResult, Direction, Failure};
use crate::grade::watch::Stopped;
use crate::grade::words::party;
use crate::i18n::{key, Arg, Message};
use crate::wire::{self, Deadline, ReadEnd};

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

    /// [`Awaited::noun`] as a message, to say in any language.
    fn noun_said(self) -> Message {
        Message::new(match self {
            Awaited::Reply => key::AWAITED_REPLY,
            Awaited::TypedLine => key::AWAITED_TYPED_LINE,
        })
    }
}

/// Whether more replies are expected on the connection right after this one (then bytes already waiting
/// belong to them), or this reply must be all the program sent for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// This reply is all the program should have sent for now.
    End,
    /// More replies follow on the connection.
    More,
}

/// After a wrong reply starts arriving, how long to keep reading (up to its newline) so the report shows
/// all of it.
const REST_OF_WRONG_REPLY: Duration = Duration::from_millis(200);
/// ...and at most this many bytes of it, so a program that floods cannot fill memory.
const REST_CAP: usize = 4096;

/// How often a silent server is looked at, to tell a reply that is late from one that will not come.
pub(super) const SETTLE_LOOK: Duration = Duration::from_millis(50);

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

impl Conn {
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
        let noun = awaited.noun();
        let closed_before = self.peer_closed;
        let (end, settled) = match self.fill_watching(|buf| judge(buf) != Judgement::SoFarSoGood) {
            Ok(found) => found,
            // A reset is how a program closes a connection it has not read to the end: said as the
            // close it is, with what came before it.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                self.log
                    .event(&self.name, "peer reset the connection (RST)");
                self.peer_closed = true;
                (ReadEnd::Eof, None)
            }
            Err(e) => return Err(self.broken(&format!("waiting for {noun}"), e)),
        };
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
                        Message::new(key::EXTRA_NUL_BYTES).arg("count", extra.len())
                    } else {
                        Message::new(key::EXTRA_BYTES).arg("count", extra.len())
                    };
                    let actual = std::mem::take(&mut self.pending);
                    return Err(Failure::said(
                        Outcome::Fail,
                        Message::new(key::REPLY_FOLLOWED_BY)
                            .arg("client", party(&self.name))
                            .arg("what", awaited.noun_said())
                            .arg("extra", what),
                    )
                    .with_expected(wanted)
                    .with_actual(actual));
                }
                self.pending.drain(..reply_end + line_end);
                self.replies += 1;
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
                    Awaited::Reply => key::REPLY_DIFFERS,
                    Awaited::TypedLine => key::TYPED_LINE_DIFFERS,
                };
                Err(Failure::said(
                    Outcome::Fail,
                    Message::new(what)
                        .arg("client", party(&self.name))
                        .arg("before", before_it(&wanted, shown))
                        .arg("where", locate(&wanted, shown)),
                )
                .with_expected(wanted)
                .with_actual(actual))
            }
            Judgement::SoFarSoGood => {
                let actual = std::mem::take(&mut self.pending);
                let said = |outcome: Outcome, id: &str| {
                    let message = Message::new(id)
                        .arg("client", party(&self.name))
                        .arg("what", awaited.noun_said())
                        .arg("within", self.limits.within_said());
                    Failure::said(outcome, message)
                };
                let (fail, timeout) = (Outcome::Fail, Outcome::Timeout);
                let failure = match (end, awaited, actual.is_empty()) {
                    _ if settled == Some(Stopped::Traceback) => said(
                        fail,
                        if actual.is_empty() {
                            key::TRACEBACK_BEFORE_REPLY
                        } else {
                            key::TRACEBACK_MID_REPLY
                        },
                    ),
                    _ if settled.is_some() && actual.is_empty() => {
                        said(fail, key::READ_AND_WAITED_NO_REPLY)
                    }
                    _ if settled.is_some() => said(fail, key::STOPPED_SHORT_WAITING),
                    (ReadEnd::Eof, Awaited::Reply, true) if closed_before || self.replies > 0 => {
                        let n = self.replies;
                        let id = if n == 1 {
                            key::CLOSED_AFTER_ONE_REPLY
                        } else {
                            key::CLOSED_AFTER_REPLIES
                        };
                        let message = Message::new(id)
                            .arg("client", party(&self.name))
                            .arg("n", n)
                            .arg("next", n + 1);
                        Failure::said(fail, message)
                    }
                    (ReadEnd::Eof, Awaited::Reply, true) => said(fail, key::CLOSED_WITHOUT_REPLY),
                    (ReadEnd::Eof, Awaited::TypedLine, true) => {
                        said(fail, key::CLOSED_WITHOUT_TYPED_LINE)
                    }
                    (ReadEnd::Eof, _, false) => said(fail, key::CLOSED_MID_REPLY),
                    (_, Awaited::Reply, true) => said(timeout, key::NO_REPLY),
                    (_, Awaited::TypedLine, true) => said(timeout, key::TYPED_LINE_NOT_SENT),
                    (_, _, false) => said(timeout, key::STOPPED_SHORT_SILENT),
                };
                let failure = match (end, settled) {
                    (ReadEnd::Eof, _) => failure.after_close(),
                    (_, Some(Stopped::Waiting)) => failure.while_waiting(),
                    _ => failure,
                };
                Err(failure.with_expected(wanted).with_actual(actual))
            }
        }
    }

    /// Reads until `done` holds, the program closes, or the answer deadline passes; or, for a server
    /// being watched, until it has read everything and waits with nothing more sent for the quiet gap
    /// (then `true`: what was asked for will not come).
    pub(super) fn fill_watching(
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judgement {
    Match,
    SoFarSoGood,
    Differs,
}

/// When the expected reply shows up later in what came, what came before it (nothing: an empty text).
fn before_it(wanted: &[u8], actual: &[u8]) -> Arg {
    let Some(at) = (1..actual.len().saturating_sub(wanted.len()) + 1)
        .find(|&i| actual[i..].starts_with(wanted))
    else {
        return "".into();
    };
    let junk = &actual[..at];
    let id = if junk.iter().all(|&b| b == 0) {
        key::NUL_BYTES_BEFORE
    } else {
        key::OTHER_BYTES_BEFORE
    };
    Message::new(id).arg("count", at).into()
}

/// For long replies, where the first difference is, with a few bytes of context on each side (for
/// short ones, an empty text).
fn locate(wanted: &[u8], actual: &[u8]) -> Arg {
    const LONG: usize = 80;
    if wanted.len() <= LONG {
        return "".into();
    }
    let at = wanted
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(wanted.len().min(actual.len()));
    let around =
        |b: &[u8]| wire::escape_bytes(&b[at.saturating_sub(12).min(b.len())..b.len().min(at + 24)]);
    Message::new(key::DIFFERS_FROM_BYTE)
        .arg("at", at)
        .arg("expected", around(wanted))
        .arg("actual", around(actual))
        .into()
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
    use crate::grade::conn::{Limits, Parking};
    use crate::grade::verdict::Transcript;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

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
        assert_eq!(failure.outcome(), crate::grade::verdict::Outcome::Fail);
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
        assert_eq!(failure.outcome(), crate::grade::verdict::Outcome::Timeout);
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
        assert_eq!(failure.outcome(), crate::grade::verdict::Outcome::Timeout);
        drop(server);
        let failure = expect(&mut conn, "x", Compare::Lenient).unwrap_err();
        assert!(
            failure.message.contains("without replying"),
            "{}",
            failure.message
        );
        assert_eq!(failure.outcome(), crate::grade::verdict::Outcome::Fail);
    }

    #[test]
    fn strict_replies_need_their_newline() {
        let (mut conn, mut server) = pair();
        server.write_all(b"P:a\nP:b\r\n").unwrap();
        expect(&mut conn, "P:a", Compare::Strict).unwrap();
        assert!(expect(&mut conn, "P:b", Compare::Strict).is_err());
    }
}
