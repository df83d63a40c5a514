//! Checks of the file transfer, either side: the same bytes must come out as went in.
//!
//! For a receiver, the content is judged apart from the exit: once the sender has closed, the file is
//! compared as soon as the transfer is plainly over for the program (it exited, closed the connection,
//! went back to `accept()`, or stopped with nothing left to read or with bytes it will not read),
//! and the file has stopped growing. Whether it then exits is a check of its own.

use std::path::Path;
use std::time::{Duration, Instant};

use super::generate::{self, binary};
use super::property as run_property;
use crate::grade::conn::Conn;
use crate::grade::ctx::{describe_status, Ctx, REAP_SETTLE};
use crate::grade::procfs::{self, Proto};
use crate::grade::suite::{Pattern, Program};
use crate::grade::verdict::{CheckResult, Failure, Outcome};
use crate::i18n::{key, Message};
use crate::wire::Deadline;

/// How long the output file must keep its size before it is taken as written.
const STABLE: Duration = Duration::from_millis(200);

/// How often a receiver is looked at while its transfer ends.
const POLL: Duration = Duration::from_millis(20);

/// One file crosses: to a receiver (the grader connects and sends, optionally in paced slices), or from
/// a sender (the grader listens and reads to EOF).
pub fn transfer(ctx: &mut Ctx, content: &[u8], pacing: Option<(usize, Duration)>) -> CheckResult {
    let shown = |f: Failure| {
        f.with_input(format!(
            "a file of {} bytes (sha256 {})",
            content.len(),
            crate::wire::sha256_hex(content)
        ))
    };
    match ctx.suite.program {
        Program::TcpClient => send_side(ctx, content).map_err(shown),
        _ => receive_side(ctx, content, pacing).map_err(shown),
    }
}

/// The program sends `{file}`; the grader reads it to EOF. Then the program must exit 0.
fn send_side(ctx: &mut Ctx, content: &[u8]) -> CheckResult {
    let mut conn = ctx.launch_client(Some(content))?;
    // More than the file and a margin is a runaway sender: stop reading there.
    let limit = content.len() + 1024 * 1024;
    let received = conn.read_to_eof(limit)?;
    same_bytes(content, &received, Side::Sent)?;
    // A receiver closes once it has read EOF; a sender may wait for that before it exits.
    conn.close();
    ctx.expect_clean_exit("sending the file")
}

/// How a receiver's transfer ended, once the grader had sent everything and closed its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    Exited,
    /// The program closed its end of the connection.
    Closed,
    /// Back in `accept()`, waiting for the next sender.
    Accepting,
    /// Every thread waits, the file does not grow, and this many bytes it was sent wait unread.
    Idle {
        unread: u64,
    },
    /// None of these before the deadline.
    Deadline,
}

/// The grader sends; the program writes `{out}`.
fn receive_side(ctx: &mut Ctx, content: &[u8], pacing: Option<(usize, Duration)>) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "sender")?;
    let sent = match pacing {
        Some((slice, pause)) => conn.send_slices(content, slice, pause),
        None => conn.send(content),
    };
    let out = ctx
        .out_path()
        .ok_or_else(|| Failure::harness("no {out} path"))?;
    let file_len = || std::fs::metadata(&out).map(|m| m.len()).ok();
    if let Err(failure) = sent {
        // A program that stops reading blocks the write: the deadline is the verdict.
        if failure.outcome() == Outcome::Timeout {
            return Err(with_file_state(failure, file_len(), content.len()));
        }
        // A program that closed early breaks the send; what it wrote tells the story.
        let over = transfer_over(ctx, &mut conn, &out)?;
        let written = std::fs::read(&out).unwrap_or_default();
        let running = ctx.exited()?.is_none();
        same_bytes(content, &written, Side::Written)
            .map_err(|f| explain_stop(f, over, running && content.starts_with(&written)))?;
        return Err(failure);
    }
    conn.finish();
    let over = transfer_over(ctx, &mut conn, &out)?;
    if over == Over::Deadline {
        let failure = Failure::said(
            Outcome::Timeout,
            Message::new(key::FILE_TRANSFER_NOT_ENDED).arg("within", ctx.limits().within_said()),
        )
        .after_waiting();
        return Err(with_file_state(failure, file_len(), content.len()));
    }
    let written = match std::fs::read(&out) {
        Ok(written) => written,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let message = match ctx.exited()? {
                Some(status) => Message::new(key::FILE_EXITED_NOT_WRITTEN)
                    .arg("status", describe_status(status)),
                None => Message::new(key::FILE_DONE_NOT_WRITTEN),
            };
            let message = message.arg("path", out.display().to_string());
            return Err(Failure::said(Outcome::Fail, message));
        }
        Err(e) => {
            return Err(Failure::harness(format!(
                "cannot read the output file {}: {e}",
                out.display()
            )))
        }
    };
    let running = ctx.exited()?.is_none();
    same_bytes(content, &written, Side::Written)
        .map_err(|f| explain_stop(f, over, running && content.starts_with(&written)))
}

/// Waits, after the grader's last byte, until the transfer is over for the program (see [`Over`]).
fn transfer_over(ctx: &mut Ctx, conn: &mut Conn, out: &Path) -> CheckResult<Over> {
    let deadline = ctx.deadline();
    let stable = STABLE.mul_f64(ctx.opts.timeout_scale);
    let feed = conn.feed();
    let mut size = None;
    let mut same_since = Instant::now();
    let mut closed = false;
    loop {
        if ctx.exited()?.is_some() {
            return Ok(Over::Exited);
        }
        let now_size = std::fs::metadata(out).map(|m| m.len()).ok();
        if now_size != size {
            size = now_size;
            same_since = Instant::now();
        }
        let steady = same_since.elapsed() >= stable;
        closed = closed || conn.wait_closed_by(Deadline::after(Duration::from_millis(1)));
        if closed && steady {
            // A program that closed its connection is most likely ending: see it end, if it does.
            return Ok(match ctx.wait_exit(REAP_SETTLE)? {
                Some(_) => Over::Exited,
                None => Over::Closed,
            });
        }
        let pids = ctx.pids();
        let activity = procfs::activity(&pids);
        if activity.all_accepting() {
            return Ok(Over::Accepting);
        }
        if steady && activity.idle() {
            if let Some(feed) = feed {
                let unread = pids.iter().find_map(|&pid| {
                    procfs::unread_bytes(pid, feed.proto, feed.local, feed.remote)
                });
                if let Some(unread) = unread {
                    return Ok(Over::Idle { unread });
                }
            }
        }
        if deadline.passed() {
            return Ok(Over::Deadline);
        }
        // Polling the program's state: there is no event to wait on for "stopped writing a file".
        std::thread::sleep(POLL.min(deadline.remaining().unwrap_or_default()));
    }
}

/// Adds what the program did to a content failure, when it explains it: `cut_while_running` when the
/// file holds the start of what was sent and the program still runs.
fn explain_stop(mut failure: Failure, over: Over, cut_while_running: bool) -> Failure {
    if !cut_while_running {
        return failure;
    }
    match over {
        Over::Idle { unread } if unread > 0 => {
            let why = failure.said_message();
            failure.reword(
                Message::new(key::FILE_THEN_STOPPED_READING)
                    .arg("why", why)
                    .arg("unread", unread),
            );
        }
        Over::Idle { .. } | Over::Accepting | Over::Closed => {
            let why = failure.said_message();
            failure.reword(Message::new(key::FILE_STILL_RUNNING).arg("why", why));
        }
        _ => {}
    }
    failure
}

/// Adds how much of the file was written to a failure seen before the transfer was over.
fn with_file_state(mut failure: Failure, written: Option<u64>, sent: usize) -> Failure {
    let why = failure.said_message();
    failure.reword(match written {
        Some(n) => Message::new(key::FILE_STATE_WRITTEN)
            .arg("why", why)
            .arg("n", n)
            .arg("sent", sent),
        None => Message::new(key::FILE_STATE_NONE).arg("why", why),
    });
    failure
}

/// A small file crosses, then the receiver must exit 0: the lesson's receiver ends with its transfer.
pub fn receiver_exit(ctx: &mut Ctx, size: usize) -> CheckResult {
    let content = generate::file(size, Pattern::Text, ctx.fixed_seed());
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "sender")?;
    conn.send(&content)?;
    conn.finish();
    let exited = ctx.expect_clean_exit("the sender closed the connection");
    let Err(mut failure) = exited else {
        return Ok(());
    };
    if failure.message.contains("accept()") {
        let why = failure.said_message();
        failure.reword(Message::new(key::FILE_FINE_RECEIVER).arg("why", why));
    }
    Err(failure)
}

/// Which side produced the bytes compared, for the words of the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The receiver under test wrote them to its file.
    Written,
    /// The sender under test sent them.
    Sent,
}

/// Compares a transfer byte for byte and says how it went wrong, in words that point at the fix.
fn same_bytes(expected: &[u8], actual: &[u8], side: Side) -> CheckResult {
    if expected == actual {
        return Ok(());
    }
    let (got, whole) = match side {
        Side::Written => (key::FILE_GOT_WRITTEN, key::FILE_WHOLE_WRITTEN),
        Side::Sent => (key::FILE_GOT_SENT, key::FILE_WHOLE_SENT),
    };
    let (m, n) = (expected.len(), actual.len());
    let said = |id: &str| {
        Message::new(id)
            .arg("whole", Message::new(whole))
            .arg("got", Message::new(got))
            .arg("m", m)
            .arg("n", n)
    };
    let message = if let Some(how) = stripped(expected, actual) {
        said(key::FILE_STRIPPED).arg("how", how)
    } else if expected.starts_with(actual) {
        let verb = Message::new(verb(side));
        if n > 0 && n % 1024 == 0 {
            said(key::FILE_ONLY_FIRST_RECV_1024)
                .arg("verb", verb)
                .arg("k", n / 1024)
        } else {
            said(key::FILE_ONLY_FIRST).arg("verb", verb)
        }
    } else if actual.starts_with(expected) {
        let extra = &actual[m..];
        let id = if extra.iter().all(|&b| b == 0) {
            key::FILE_GREW_NUL
        } else {
            key::FILE_GREW_UNSENT
        };
        said(id).arg("extra", n - m)
    } else if replace(expected, b"\n", b"\r\n") == actual {
        said(key::FILE_TEXT_MODE)
    } else if contains(actual, "\u{fffd}".as_bytes()) && !contains(expected, "\u{fffd}".as_bytes())
    {
        said(key::FILE_REPLACED)
    } else {
        let at = expected
            .iter()
            .zip(actual)
            .position(|(a, b)| a != b)
            .unwrap_or(m.min(n));
        let change = if n < m {
            key::FILE_DROPPED_OR_CHANGED
        } else {
            key::FILE_CHANGED
        };
        said(key::FILE_DIFFERS)
            .arg("change", Message::new(change))
            .arg("at", at)
    };
    Err(Failure::said(Outcome::Fail, message)
        .with_expected(expected)
        .with_actual(actual))
}

fn verb(side: Side) -> &'static str {
    match side {
        Side::Written => key::FILE_VERB_WRITTEN,
        Side::Sent => key::FILE_VERB_SENT,
    }
}

/// The bytes Python's `bytes.strip()` removes: ASCII whitespace, vertical tab included.
fn is_strip_space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// Says what whitespace `actual` lost at the ends of `expected`, if that is the difference.
fn stripped(expected: &[u8], actual: &[u8]) -> Option<String> {
    let lead = expected.iter().take_while(|b| is_strip_space(b)).count();
    let trail = expected[lead..]
        .iter()
        .rev()
        .take_while(|b| is_strip_space(b))
        .count();
    let body = &expected[lead..expected.len() - trail];
    let shown = |b: &[u8]| crate::wire::escape_bytes(b);
    let lost_end = &expected[expected.len() - trail..];
    if lead + trail == 0 {
        return None;
    }
    if actual == body && lead > 0 && trail > 0 {
        return Some(format!(
            "its first {} and its last {} (whitespace)",
            bytes(lead),
            bytes(trail)
        ));
    }
    if trail > 0 && (actual == body || actual == &expected[..expected.len() - trail]) {
        return Some(format!(
            "its last {} (\"{}\")",
            bytes(trail),
            shown(lost_end)
        ));
    }
    (lead > 0 && (actual == body || actual == &expected[lead..]))
        .then(|| format!("its first {} (whitespace)", bytes(lead)))
}

/// `1 byte`, `7 bytes`.
fn bytes(n: usize) -> String {
    if n == 1 {
        "byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Generated binary files, each on a fresh program; a failure shrinks to a minimal file.
pub fn property(ctx: &mut Ctx, cases: u32, max_size: usize) -> CheckResult {
    run_property(
        ctx,
        cases,
        binary(max_size),
        |bytes| bytes.clone(),
        |ctx, bytes| match ctx.suite.program {
            Program::TcpClient => send_side(ctx, bytes),
            _ => receive_side(ctx, bytes, None),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(expected: &[u8], actual: &[u8]) -> String {
        same_bytes(expected, actual, Side::Written)
            .unwrap_err()
            .message
    }

    #[test]
    fn differences_are_explained_by_what_the_program_did() {
        assert!(same_bytes(b"abc", b"abc", Side::Written).is_ok());
        let cut = why(&[7u8; 4096], &[7u8; 1024]);
        assert!(
            cut.contains("only the first 1024 of 4096") && cut.contains("recv(1024)"),
            "{cut}"
        );
        let strip = why(b"  text  \r\n\n", b"text");
        assert!(strip.contains("strip()"), "{strip}");
        let strip_end = why(b"text \r\n", b"text");
        assert!(strip_end.contains("its last 3 bytes"), "{strip_end}");
        assert!(why(b"text ", b"text").contains("its last byte (\" \")"));
        // Python's strip() takes a vertical tab too.
        assert!(why(b"\x0bdata", b"data").contains("its first byte"));
        let crlf = why(b"a\nb\n", b"a\r\nb\r\n");
        assert!(crlf.contains("text mode"), "{crlf}");
        let lossy = why(b"a\xffb", "a\u{fffd}b".as_bytes());
        assert!(lossy.contains("never decode()"), "{lossy}");
        let dropped = why(b"a\xff\xfeb", b"ab");
        assert!(
            dropped.starts_with("bytes were dropped or changed"),
            "{dropped}"
        );
        assert!(!dropped.contains("recv(1024) returns at most"), "{dropped}");
        let padded = why(b"ab", b"ab\0\0");
        assert!(padded.contains("NUL bytes"), "{padded}");
    }
}
