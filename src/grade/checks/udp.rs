//! Checks of the UDP receiver and sender: one datagram is one message, whole, boundaries kept.

use std::net::SocketAddr;
use std::time::Duration;

use super::client::end_input;
use super::generate::{messages, typed_lines};
use super::property;
use crate::grade::cause;
use crate::grade::ctx::Ctx;
use crate::grade::datagram::UdpPeer;
use crate::grade::printed::{contains, misprinted, printed, printed_part};
use crate::grade::procfs::Proto;
use crate::grade::suite::Leave;
use crate::grade::verdict::{CheckResult, Direction, Failure, Outcome};
use crate::grade::watch::Watched;
use crate::i18n::{key, Message};
use crate::wire;

/// How many of `texts` show on successive, distinct lines of `out`, in order.
fn lines_matched(out: &[u8], texts: &[Vec<u8>], strict: bool) -> usize {
    let mut matched = 0;
    for line in out.split(|&b| b == b'\n') {
        if matched < texts.len() && printed(line, &texts[matched], strict) {
            matched += 1;
        }
    }
    matched
}

/// True when every one of `texts` shows in `out`, in order, but not each on a line of its own: the
/// program printed them without newlines between them.
fn run_together(out: &[u8], texts: &[Vec<u8>]) -> bool {
    let mut rest = out;
    for text in texts {
        match rest
            .windows(text.len().max(1))
            .position(|w| w == text.as_slice())
        {
            Some(at) => rest = &rest[at + text.len()..],
            None => return false,
        }
    }
    true
}

/// Sends `messages` to the receiver, round robin over `senders` sockets, and waits until each is printed
/// whole, in order, on a line of its own.
fn send_and_watch(
    ctx: &mut Ctx,
    addr: SocketAddr,
    messages: &[Vec<u8>],
    senders: &[UdpPeer],
) -> CheckResult {
    let mark = ctx.stdout_mark()?;
    for (i, message) in messages.iter().enumerate() {
        let socket = &senders[i % senders.len()];
        let channel = format!("udp sender {}", i % senders.len() + 1);
        ctx.log.record(&channel, Direction::Sent, message);
        socket
            .send_to(message, addr)
            .map_err(|e| Failure::harness(format!("cannot send a datagram to {addr}: {e}")))?;
    }
    let strict = ctx.opts.strict;
    let all = |out: &[u8]| lines_matched(out, messages, strict) == messages.len();
    // A datagram printed in a wrong form (the bytes object), or all of them run together on one line,
    // is an answer: stop waiting at it.
    let answered = |out: &[u8]| {
        let k = lines_matched(out, messages, strict);
        k == messages.len()
            || misprinted(out, &messages[k]).is_some()
            || messages.len() > 1 && run_together(out, messages)
    };
    let watched = ctx.watch_output(mark, answered)?;
    let out = ctx.program()?.stdout().since(mark);
    if all(&out) {
        return Ok(());
    }
    let k = lines_matched(&out, messages, strict);
    let missing = &messages[k];
    let nth = Message::new(key::DATAGRAM_NTH)
        .arg("k", k + 1)
        .arg("n", messages.len());
    let said = |id: &str| Message::new(id).arg("what", nth.clone());
    let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    let merged = k > 0
        && lines
            .iter()
            .any(|l| contains(l, &messages[k - 1]) && contains(l, missing))
        || messages.len() > 1 && run_together(&out, messages);
    let failure = if let Some(why) = misprinted(&out, missing) {
        Failure::said(Outcome::Fail, said(key::PRINTED_WRONGLY).arg("why", why))
            .with_cause(cause::printed_bytes())
    } else if merged {
        Failure::said(Outcome::Fail, said(key::DATAGRAM_SAME_LINE))
    } else if let Some(part) = printed_part(&out[lines_before(&out, messages, strict)..], missing) {
        let message = said(key::DATAGRAM_PRINTED_PART)
            .arg("len", missing.len())
            .arg("n", part);
        Failure::said(Outcome::Fail, message)
    } else if strict && contains(&out, missing) {
        Failure::said(Outcome::Fail, said(key::DATAGRAM_NOT_OWN_LINE))
    } else {
        ctx.not_printed(watched, nth.into(), &out, None)?
    };
    let failure = if watched == Watched::Deadline {
        failure.after_waiting()
    } else {
        failure
    };
    Err(failure
        .with_input(missing.clone())
        .with_expected(missing.clone())
        .with_actual(out))
}

/// Where in `out` the lines that matched messages end: a part of the next message counts only after.
fn lines_before(out: &[u8], texts: &[Vec<u8>], strict: bool) -> usize {
    let mut matched = 0;
    let mut offset = 0;
    for line in out.split(|&b| b == b'\n') {
        offset += line.len() + 1;
        if matched < texts.len() && printed(line, &texts[matched], strict) {
            matched += 1;
            if matched == lines_matched(out, texts, strict) {
                return offset.min(out.len());
            }
        }
    }
    0
}

pub fn datagrams(ctx: &mut Ctx, messages: &[Vec<u8>], senders: usize) -> CheckResult {
    let addr = ctx.launch_server(Proto::Udp)?;
    let sockets = (0..senders.max(1))
        .map(|_| ctx.udp_socket())
        .collect::<CheckResult<Vec<_>>>()?;
    send_and_watch(ctx, addr, messages, &sockets)
}

/// Generated datagrams to one receiver; after a failed case the next starts a fresh program (and a fresh
/// socket: a socket lives in the network of the launch it was made for).
pub fn property_datagrams(ctx: &mut Ctx, cases: u32, max_messages: usize) -> CheckResult {
    let mut live: Option<(SocketAddr, Vec<UdpPeer>)> = None;
    property(
        ctx,
        cases,
        messages(max_messages),
        |series| series.join("\n").into_bytes(),
        move |ctx, series| {
            let (addr, sockets) = match live.take() {
                Some(live) => live,
                None => {
                    let addr = ctx.launch_server(Proto::Udp)?;
                    (addr, vec![ctx.udp_socket()?])
                }
            };
            let series: Vec<Vec<u8>> = series.iter().map(|m| m.as_bytes().to_vec()).collect();
            send_and_watch(ctx, addr, &series, &sockets)?;
            live = Some((addr, sockets));
            Ok(())
        },
    )
}

/// How often a wait for a datagram looks whether the sender has exited meanwhile.
const EXIT_LOOK: Duration = Duration::from_millis(50);

/// Receives one datagram within `wait`; gives up early once the program has exited, since a datagram it
/// sent before exiting is already queued on loopback.
fn receive(ctx: &mut Ctx, socket: &UdpPeer, wait: Duration) -> CheckResult<Option<Vec<u8>>> {
    let deadline = wire::Deadline::after(wait);
    let mut buf = vec![0u8; 65_536];
    let mut gone = false;
    loop {
        // After the exit, one last look that does not wait.
        let slice = if gone {
            Duration::from_millis(1)
        } else {
            deadline.remaining().unwrap_or_default().min(EXIT_LOOK)
        };
        socket
            .set_read_timeout(Some(slice.max(Duration::from_millis(1))))
            .map_err(|e| Failure::harness(format!("cannot set a receive timeout: {e}")))?;
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                ctx.log
                    .record(&format!("udp from {from}"), Direction::Received, &buf[..n]);
                return Ok(Some(buf[..n].to_vec()));
            }
            Err(e) if wire::is_timeout(&e) => {
                if gone || deadline.passed() {
                    return Ok(None);
                }
                gone = ctx.exited()?.is_some();
            }
            Err(e) => return Err(Failure::harness(format!("cannot receive a datagram: {e}"))),
        }
    }
}

/// Types `line` and expects exactly one datagram holding it (a trailing newline tolerated unless strict).
fn typed_becomes_datagram(ctx: &mut Ctx, socket: &UdpPeer, line: &[u8]) -> CheckResult {
    ctx.type_line(line)?;
    let wait = ctx.deadline().remaining().unwrap_or_default();
    match receive(ctx, socket, wait)? {
        Some(got) => {
            let body = if ctx.opts.strict {
                &got[..]
            } else {
                got.strip_suffix(b"\n")
                    .map(|g| g.strip_suffix(b"\r").unwrap_or(g))
                    .unwrap_or(&got)
            };
            if body == line {
                Ok(())
            } else {
                let failure = match cause::nul_padding(line, &got) {
                    Some(cause) => {
                        Failure::said(Outcome::Fail, Message::new(key::DATAGRAM_NUL_PADDED))
                            .with_cause(cause)
                    }
                    None => Failure::said(
                        Outcome::Fail,
                        Message::new(key::DATAGRAM_DIFFERS_FROM_TYPED),
                    ),
                };
                Err(failure.with_expected(line).with_actual(got))
            }
        }
        None => {
            // Did it keep the lines to send them all at the end? Ending stdin tells.
            ctx.close_stdin()?;
            let wait = ctx.deadline().remaining().unwrap_or_default();
            let late = receive(ctx, socket, wait)?;
            match late {
                Some(got) if contains(&got, line) => Err(Failure::said(
                    Outcome::Fail,
                    Message::new(key::DATAGRAM_SENT_AT_END),
                )
                .with_expected(line)
                .with_actual(got)
                .after_waiting()),
                _ => match ctx.exited()? {
                    Some(status) if !status.success() => Err(Failure::said(
                        Outcome::Crash,
                        Message::new(key::CRASHED_BEFORE_SENDING_TYPED)
                            .arg("status", crate::grade::ctx::describe_status(status)),
                    )),
                    Some(_) => Err(Failure::said(
                        Outcome::Fail,
                        Message::new(key::EXITED_WITHOUT_SENDING_TYPED),
                    )),
                    None => Err(Failure::said(
                        Outcome::Timeout,
                        Message::new(key::NO_DATAGRAM_AFTER_TYPING)
                            .arg("within", ctx.limits().within_said()),
                    )),
                },
            }
        }
    }
}

pub fn sender_lines(ctx: &mut Ctx, lines: &[Vec<u8>]) -> CheckResult {
    let socket = ctx.launch_sender()?;
    for line in lines {
        typed_becomes_datagram(ctx, &socket, line)
            .map_err(|f| f.with_input([line.as_slice(), b"\n"].concat()))?;
    }
    Ok(())
}

/// Generated lines to one sender; after a failed case the next starts a fresh program with a fresh socket.
pub fn property_sender_lines(ctx: &mut Ctx, cases: u32, max_lines: usize) -> CheckResult {
    let mut live: Option<UdpPeer> = None;
    property(
        ctx,
        cases,
        typed_lines(max_lines),
        |lines| {
            lines
                .iter()
                .flat_map(|l| [l.as_bytes(), b"\n"].concat())
                .collect()
        },
        move |ctx, lines| {
            let socket = match live.take() {
                Some(socket) => socket,
                None => ctx.launch_sender()?,
            };
            for line in lines {
                typed_becomes_datagram(ctx, &socket, line.as_bytes())?;
            }
            live = Some(socket);
            Ok(())
        },
    )
}

/// After `lines` are typed and sent, stdin ends: the sender must exit 0, and an empty line must not
/// become an empty datagram.
pub fn sender_exit(ctx: &mut Ctx, how: Leave, lines: &[Vec<u8>]) -> CheckResult {
    let socket = ctx.launch_sender()?;
    for line in lines {
        typed_becomes_datagram(ctx, &socket, line).map_err(|f| {
            Failure::said(
                Outcome::NotRun,
                Message::new(key::LINE_BEFORE_END_NOT_SENT).arg("why", f.said_message()),
            )
        })?;
    }
    let why = end_input(ctx, how)?;
    ctx.expect_clean_exit(why)?;
    if how == Leave::EmptyLine {
        if let Some(got) = receive(ctx, &socket, Duration::from_millis(100))? {
            if got.is_empty() {
                return Err(Failure::said(
                    Outcome::Fail,
                    Message::new(key::EMPTY_LINE_EMPTY_DATAGRAM),
                ));
            }
        }
    }
    Ok(())
}
