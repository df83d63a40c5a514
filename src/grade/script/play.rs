//! Playing a script against a fresh copy of a TCP server: each step in order, each wait bounded by the
//! step's deadline, every byte in the check's transcript. A failure names its step and shows expected
//! vs actual, and as input the last bytes sent on that client.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::{Action, CloseHow, Describe, Step, MAX_REPLY};
use crate::grade::conn::{Awaited, Compare, Conn, Then};
use crate::grade::ctx::Ctx;
use crate::grade::procfs::Proto;
use crate::grade::verdict::{CheckResult, Failure, Outcome};
use crate::grade::words::{party, within};
use crate::i18n::{key, Message};
use crate::wire::{Deadline, ReadEnd};

/// After unexpected bytes start arriving (during a silence or before a close), how long to keep reading
/// so the report shows the whole of them.
const REST_OF_UNEXPECTED: Duration = Duration::from_millis(200);

/// A client of the script, still connected.
struct Client {
    name: String,
    conn: Conn,
    /// What the script last sent on it: the input a failure on this client shows.
    sent: Option<Vec<u8>>,
}

/// Plays `steps` (checked by [`super::validate`] when the suite was loaded) against a fresh copy of the
/// program.
pub(crate) fn play(ctx: &mut Ctx, steps: &[Step]) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    // Open clients in the order they connected: a step without `client` acts on the last one.
    let mut clients: Vec<Client> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let wait = step
            .deadline
            .map(|d| d.mul_f64(ctx.opts.timeout_scale))
            .unwrap_or_else(|| ctx.wait());
        let mut input = None;
        let result = perform(ctx, addr, &mut clients, step, wait, &mut input);
        if let Err(mut failure) = result {
            settle_if_dying(ctx, &failure);
            let why = failure.said_message();
            failure.reword(
                Message::new(key::STEP_FAILED)
                    .arg("i", i + 1)
                    .arg("n", steps.len())
                    .arg("what", Describe(&step.action).to_string())
                    .arg("why", why),
            );
            if failure.input.is_none() {
                failure.input = input;
            }
            return Err(failure);
        }
    }
    Ok(())
}

/// How long a program whose connection ended without an answer may take to exit, so that a crash (a
/// traceback on a bad request) is reported as one: a Python program closes its sockets while it unwinds,
/// and on a loaded machine exits well after the 300 ms the other checks allow. Multiplied by
/// `--timeout-scale`; waited only on such a failure, and only until the program exits.
const CRASH_SETTLE: Duration = Duration::from_secs(2);

/// After a failure without an answer (a closed or broken connection), gives a dying program the time to
/// exit, so that [`Ctx::classify`] sees its status. A wrong answer comes from a live program, and a
/// timeout has already waited.
fn settle_if_dying(ctx: &mut Ctx, failure: &Failure) {
    let answered = failure.actual.as_ref().is_some_and(|a| !a.is_empty());
    if failure.outcome() == Outcome::Fail && !answered && !failure.harness {
        let _ = ctx.wait_exit(CRASH_SETTLE.mul_f64(ctx.opts.timeout_scale));
    }
}

/// Performs one step; `input` gets the last bytes sent on the client it acted on.
fn perform(
    ctx: &mut Ctx,
    addr: SocketAddr,
    clients: &mut Vec<Client>,
    step: &Step,
    wait: Duration,
    input: &mut Option<Vec<u8>>,
) -> CheckResult {
    match &step.action {
        Action::Connect(name) => {
            let conn = ctx.connect_within(addr, name, wait)?;
            clients.push(Client {
                name: name.clone(),
                conn,
                sent: None,
            });
            return Ok(());
        }
        Action::Pause(pause) => {
            ctx.log
                .event("script", &format!("pause {} ms", pause.as_millis()));
            // Pacing the teacher asked for, bounded by MAX_PAUSE_MS; answers are waited for by the
            // expectations, never by a pause.
            std::thread::sleep(*pause);
            return Ok(());
        }
        _ => {}
    }
    let at = match &step.client {
        Some(name) => clients.iter().rposition(|c| &c.name == name),
        None => clients.len().checked_sub(1),
    }
    .ok_or_else(|| {
        Failure::harness(
            "the script acts on a client that is not connected (the suite check missed it)",
        )
    })?;
    let client = &mut clients[at];
    input.clone_from(&client.sent);
    let conn = &mut client.conn;
    let deadline = Deadline::after(wait);
    match &step.action {
        Action::Send(bytes) => {
            client.sent = Some(bytes.clone());
            *input = Some(bytes.clone());
            conn.send(bytes)
        }
        Action::Expect(bytes) => {
            conn.set_wait(wait);
            conn.expect_reply(bytes, Compare::Exact, Awaited::Reply, Then::More)
        }
        Action::ExpectRegex(re) => expect_line(conn, re, deadline, wait),
        Action::ExpectLen(len) => expect_len(conn, *len, deadline, wait),
        Action::ExpectClose => expect_close(conn, deadline, wait),
        Action::ExpectSilence(silence) => expect_silence(conn, *silence),
        Action::Close(how) => {
            let client = clients.remove(at);
            match how {
                CloseHow::Fin => client.conn.close(),
                CloseHow::Reset => client.conn.reset(),
            }
            Ok(())
        }
        Action::Connect(_) | Action::Pause(_) => Ok(()),
    }
}

/// The failure of a read that broke.
fn broke(conn: &Conn, e: io::Error) -> Failure {
    conn.broken("waiting for a reply", e)
}

/// One line (up to its newline) whose text, without the line ending, matches `re`.
fn expect_line(
    conn: &mut Conn,
    re: &regex_lite::Regex,
    deadline: Deadline,
    wait: Duration,
) -> CheckResult {
    let expected = format!("a line matching /{}/", re.as_str());
    let end = conn
        .receive_until(deadline, |b| b.contains(&b'\n') || b.len() >= MAX_REPLY)
        .map_err(|e| broke(conn, e))?;
    let client = party(conn.name());
    let said = |id: &str| Message::new(id).arg("client", client.clone());
    if let Some(at) = conn.leftover().iter().position(|&b| b == b'\n') {
        let line = conn.take(at + 1);
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        return match std::str::from_utf8(text) {
            Ok(text) if re.is_match(text) => Ok(()),
            // The step's description, which the message starts with, shows the regex.
            Ok(_) => Err(
                Failure::said(Outcome::Fail, said(key::SCRIPT_LINE_NO_MATCH))
                    .with_expected(expected)
                    .with_actual(line),
            ),
            Err(_) => Err(
                Failure::said(Outcome::Fail, said(key::SCRIPT_LINE_NOT_UTF8))
                    .with_expected(expected)
                    .with_actual(line),
            ),
        };
    }
    let actual = conn.take(MAX_REPLY);
    let within = within(wait, false);
    let failure = match end {
        ReadEnd::Eof if actual.is_empty() => {
            Failure::said(Outcome::Fail, said(key::CLOSED_WITHOUT_REPLY))
        }
        ReadEnd::Eof => Failure::said(Outcome::Fail, said(key::SCRIPT_CLOSED_BEFORE_NEWLINE)),
        ReadEnd::Done => Failure::said(
            Outcome::Fail,
            said(key::SCRIPT_TOO_LONG).arg("limit", MAX_REPLY),
        ),
        _ if actual.is_empty() => {
            Failure::said(Outcome::Timeout, said(key::NO_REPLY).arg("within", within))
        }
        _ => Failure::said(
            Outcome::Timeout,
            said(key::SCRIPT_LINE_SHORT).arg("within", within),
        ),
    };
    Err(failure.with_expected(expected).with_actual(actual))
}

/// `len` bytes, whatever they are.
fn expect_len(conn: &mut Conn, len: usize, deadline: Deadline, wait: Duration) -> CheckResult {
    let end = conn
        .receive_until(deadline, |b| b.len() >= len)
        .map_err(|e| broke(conn, e))?;
    let client = party(conn.name());
    if conn.leftover().len() >= len {
        conn.take(len);
        return Ok(());
    }
    let actual = conn.take(len);
    let said = |id: &str| {
        Message::new(id)
            .arg("client", client.clone())
            .arg("got", actual.len())
            .arg("len", len)
    };
    let failure = match end {
        ReadEnd::Eof => Failure::said(Outcome::Fail, said(key::SCRIPT_CLOSED_AFTER_PART)),
        _ => Failure::said(
            Outcome::Timeout,
            said(key::SCRIPT_PART_WITHIN).arg("within", within(wait, false)),
        ),
    };
    Err(failure
        .with_expected(format!("{len} bytes"))
        .with_actual(actual))
}

/// The program closes the connection (an orderly close or a reset) with nothing more sent first.
fn expect_close(conn: &mut Conn, deadline: Deadline, wait: Duration) -> CheckResult {
    let client = party(conn.name());
    let end = match conn.receive_until(deadline, |b| !b.is_empty()) {
        Ok(end) => end,
        // A reset closes too: a program that closes with unread data sends one.
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => ReadEnd::Eof,
        Err(e) => return Err(broke(conn, e)),
    };
    if !conn.leftover().is_empty() {
        return Err(unexpected(
            conn,
            Message::new(key::SCRIPT_SENT_INSTEAD_OF_CLOSING),
        ));
    }
    match end {
        ReadEnd::Eof => Ok(()),
        _ => Err(Failure::said(
            Outcome::Timeout,
            Message::new(key::SCRIPT_DID_NOT_CLOSE)
                .arg("client", client)
                .arg("within", within(wait, false)),
        )),
    }
}

/// Nothing from the program for `silence`; the connection stays open.
fn expect_silence(conn: &mut Conn, silence: Duration) -> CheckResult {
    let ms = silence.as_millis() as u64;
    let in_silence = || Message::new(key::SCRIPT_SENT_IN_SILENCE).arg("ms", ms);
    if !conn.leftover().is_empty() {
        return Err(unexpected(conn, in_silence()));
    }
    match conn.receive_until(Deadline::after(silence), |b| !b.is_empty()) {
        Err(e) => Err(broke(conn, e)),
        Ok(ReadEnd::Eof) => Err(Failure::said(
            Outcome::Fail,
            Message::new(key::SCRIPT_CLOSED_IN_SILENCE)
                .arg("client", party(conn.name()))
                .arg("ms", ms),
        )),
        Ok(_) if !conn.leftover().is_empty() => Err(unexpected(conn, in_silence())),
        Ok(_) => Ok(()),
    }
}

/// A failure for bytes that came when none should have, with all of them that come promptly: `message`
/// says when, and gets the client and the count.
fn unexpected(conn: &mut Conn, message: Message) -> Failure {
    let _ = conn.receive_until(Deadline::after(REST_OF_UNEXPECTED), |b| {
        b.len() >= MAX_REPLY || b.ends_with(b"\n")
    });
    let actual = conn.take(MAX_REPLY);
    let message = message
        .arg("client", party(conn.name()))
        .arg("count", actual.len());
    Failure::said(Outcome::Fail, message).with_actual(actual)
}
