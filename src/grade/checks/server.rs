//! Checks of TCP servers (ECHO and chat): the grader plays the clients.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use super::generate::messages;
use super::{property_on_one_connection, Mix};
use crate::grade::cause;
use crate::grade::conn::{Awaited, Conn, Then};
use crate::grade::ctx::{describe_status, Ctx};
use crate::grade::launch::NotReady;
use crate::grade::procfs::{self, Proto};
use crate::grade::suite::{Leave, Peer, WriteStyle};
use crate::grade::verdict::{CheckResult, Failure, Outcome, Serving};
use crate::grade::words::{self, party};
use crate::i18n::{key, Message};

/// Pause between the slices of a message sent byte by byte: long enough that each slice is read on its
/// own, as over a slow network.
const SLICE_PAUSE: Duration = Duration::from_millis(2);

/// Pause between the two parts of a message cut inside a character: long enough that a server reads
/// the first part alone, whatever its load.
const SPLIT_PAUSE: Duration = Duration::from_millis(100);

/// How long a server is watched after its client leaves, to see whether it exits, crashes or spins
/// (and before, to know how busy it is anyway).
const AFTER_CLOSE_WINDOW: Duration = Duration::from_millis(250);
const BEFORE_CLOSE_WINDOW: Duration = Duration::from_millis(100);
/// How long a program that seems to spin after the close is watched again before it is said to.
const SPIN_CONFIRM_WINDOW: Duration = Duration::from_millis(1000);

/// How often the program's threads are looked at while watching for spinning.
const SAMPLE: Duration = Duration::from_millis(10);

/// A server whose threads were runnable in more than this share of the samples is spinning. Runnable,
/// not running: a spinning loop shows as runnable even on a machine too busy to run it.
const SPIN_SHARE: f64 = 0.6;

fn line(message: &[u8]) -> Vec<u8> {
    [message, b"\n"].concat()
}

/// Sends one message as `write` says.
fn send_styled(conn: &mut Conn, bytes: &[u8], write: WriteStyle) -> CheckResult {
    match write {
        WriteStyle::ByteSlices => conn.send_slices(bytes, 1, SLICE_PAUSE),
        WriteStyle::SplitInCharacter => {
            // Inside the first character of more than one byte (or in the middle, for ASCII).
            let cut = bytes
                .iter()
                .position(|&b| b >= 0xc0)
                .map_or(bytes.len() / 2, |i| i + 1);
            conn.send_parts(&[&bytes[..cut], &bytes[cut..]], SPLIT_PAUSE)
        }
        _ => conn.send(bytes),
    }
}

/// Sends `messages` on `conn` as `write` says and expects PREFIX + each, in order, and nothing more.
fn talk(ctx: &Ctx, conn: &mut Conn, messages: &[Vec<u8>], write: WriteStyle) -> CheckResult {
    let compare = ctx.compare();
    if write == WriteStyle::AllAtOnce {
        let all: Vec<u8> = messages.iter().flat_map(|m| line(m)).collect();
        conn.send(&all).map_err(|f| f.with_input(all.clone()))?;
        let name = conn.name().to_string();
        for (i, message) in messages.iter().enumerate() {
            let then = if i + 1 == messages.len() {
                Then::End
            } else {
                Then::More
            };
            conn.expect_reply(&ctx.prefixed(message), compare, Awaited::Reply, then)
                .map_err(|f| together(f, &name, i, message).with_input(all.clone()))?;
        }
        return Ok(());
    }
    for message in messages {
        let bytes = line(message);
        send_styled(conn, &bytes, write)
            .and_then(|_| {
                conn.expect_reply(&ctx.prefixed(message), compare, Awaited::Reply, Then::End)
            })
            .map_err(|f| f.with_input(bytes.clone()))?;
    }
    Ok(())
}

/// A reply to message `i` (after the first) that is the bare message: the reply before it went on
/// with this message's text, all in one.
fn together(failure: Failure, name: &str, i: usize, message: &[u8]) -> Failure {
    let bare = failure
        .actual
        .as_deref()
        .is_some_and(|a| i > 0 && a.trim_ascii_start().starts_with(message));
    if !bare {
        return failure;
    }
    let mut failure = failure.with_cause(cause::answered_together());
    failure.reword(
        Message::new(key::ANSWERED_TOGETHER)
            .arg("client", party(name))
            .arg("n", i)
            .arg("next", i + 1),
    );
    failure
}

pub fn exchange(ctx: &mut Ctx, messages: &[Vec<u8>], write: WriteStyle) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "client 1")?;
    talk(ctx, &mut conn, messages, write)
}

/// Generated message series on one connection. A failed case leaves the connection in an unknown state,
/// so the next case starts a fresh program.
pub fn property_exchange(ctx: &mut Ctx, cases: u32, max_messages: usize) -> CheckResult {
    property_on_one_connection(
        ctx,
        cases,
        messages(max_messages),
        |series| series.iter().flat_map(|m| line(m.as_bytes())).collect(),
        |ctx| {
            let addr = ctx.launch_server(Proto::Tcp)?;
            ctx.connect(addr, "client 1")
        },
        |ctx, conn, series| {
            let series: Vec<Vec<u8>> = series.iter().map(|m| m.as_bytes().to_vec()).collect();
            talk(ctx, conn, &series, WriteStyle::OnePerMessage)
        },
    )
}

/// The share of samples over `window` in which some thread of the program was runnable; with
/// `until_exit`, cut short by the program's exit, whose status comes back too.
fn busy_share(
    ctx: &mut Ctx,
    window: Duration,
    until_exit: bool,
) -> CheckResult<(f64, Option<ExitStatus>)> {
    let pids = ctx.pids();
    let (mut busy, mut samples) = (0u32, 0u32);
    let end = Instant::now() + window;
    let mut exited = None;
    while Instant::now() < end {
        if until_exit {
            exited = ctx.exited()?;
            if exited.is_some() {
                break;
            }
        }
        let seen = procfs::activity(&pids);
        if seen.threads == 0 {
            break;
        }
        samples += 1;
        busy += u32::from(seen.busy > 0);
        // A sampling interval, not synchronisation: how busy a program is is defined over time.
        std::thread::sleep(SAMPLE);
    }
    let share = if samples == 0 {
        0.0
    } else {
        f64::from(busy) / f64::from(samples)
    };
    Ok((share, exited))
}

/// One exchange before the client leaves, so that the server is inside its receive loop. What comes
/// back is not judged here (other checks do), but it is read, so that closing does not become a reset
/// (unread data makes close() send RST).
fn first_exchange(ctx: &mut Ctx, conn: &mut Conn, first: Peer) {
    match first {
        Peer::Echo => {
            let _ = conn.send(b"hello\n");
            let _ = conn.read_message();
        }
        Peer::Chat => {
            let _ = chat_turn(ctx, conn, b"hi", b"hello");
        }
    }
}

/// A client exchanges one message, then leaves (close or reset). The server must not crash, must not
/// start spinning on `recv()` returning `b''`, and when it stays it must go on being a server: still
/// listening after a close; answering the next client after a reset. The replies are not judged here.
pub fn survive_close(ctx: &mut Ctx, how: Leave, first: Peer) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "client 1")?;
    first_exchange(ctx, &mut conn, first);
    // A process that ended before the client left (a parent that forked the real server and exited)
    // says nothing about what the close did: then only a server still listening is evidence.
    let ended_before = ctx.exited()?;
    let (baseline, _) = busy_share(
        ctx,
        BEFORE_CLOSE_WINDOW.mul_f64(ctx.opts.timeout_scale),
        false,
    )?;
    let left = match how {
        Leave::Reset => {
            conn.reset();
            Message::new(key::LEFT_RESET)
        }
        _ => {
            conn.close();
            Message::new(key::LEFT_CLOSED)
        }
    };
    // Watched for a while: it exits (how?), or stays (spinning?).
    let window = AFTER_CLOSE_WINDOW.mul_f64(ctx.opts.timeout_scale);
    let (mut busy, mut exited) = busy_share(ctx, window, ended_before.is_none())?;
    // On a loaded machine a program that is ending is runnable (waiting for a CPU) for a while, which
    // looks like spinning: what looks so is watched again, longer, and a program slow to exit ends.
    if exited.is_none() && busy > SPIN_SHARE && baseline < SPIN_SHARE / 2.0 {
        let confirm = SPIN_CONFIRM_WINDOW.mul_f64(ctx.opts.timeout_scale);
        (busy, exited) = busy_share(ctx, confirm, ended_before.is_none())?;
    }
    match exited {
        Some(status) if status.success() => {
            ctx.log
                .event("program", &format!("exited ({})", describe_status(status)));
            return Ok(());
        }
        Some(status) => {
            return Err(Failure::said(
                Outcome::Crash,
                Message::new(key::EXITED_AFTER_CLIENT_LEFT)
                    .arg("status", describe_status(status))
                    .arg("left", left),
            ))
        }
        None => {}
    }
    if busy > SPIN_SHARE && baseline < SPIN_SHARE / 2.0 {
        return Err(Failure::said(
            Outcome::Fail,
            Message::new(key::SPINS_AFTER_CLIENT_LEFT)
                .arg("left", left)
                .arg("busy", format!("{:.0}", busy.min(1.0) * 100.0))
                .arg("before", format!("{:.0}", baseline.min(1.0) * 100.0)),
        ));
    }
    let wait = ctx.wait();
    if how != Leave::Reset {
        let deadline = ctx.deadline();
        return match ctx.program()?.wait_listening(Proto::Tcp, deadline) {
            Ok(_) => Ok(()),
            Err(NotReady::Exited { .. }) if ended_before.is_some() => Err(Failure::said(
                Outcome::Fail,
                Message::new(key::EXITED_BEFORE_CLIENT_LEFT)
                    .arg(
                        "status",
                        ended_before.map(describe_status).unwrap_or_default(),
                    )
                    .arg("left", left),
            )),
            Err(NotReady::Exited { status }) if status.success() => Ok(()),
            Err(NotReady::Exited { status }) => Err(Failure::said(
                Outcome::Crash,
                Message::new(key::EXITED_AFTER_CLIENT_LEFT)
                    .arg("status", describe_status(status))
                    .arg("left", left),
            )),
            Err(NotReady::Timeout { .. }) => Err(Failure::said(
                Outcome::Fail,
                Message::new(key::NEITHER_EXITED_NOR_LISTENING)
                    .arg("left", left)
                    .arg("secs", words::secs(wait)),
            )),
        };
    }
    // After a reset, the next client must get an answer (any answer: replies are judged elsewhere).
    let mut next = ctx.connect(addr, "client 2")?;
    next.send(b"are you still there?\n")?;
    match next.read_message() {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Failure::said(
            Outcome::Fail,
            Message::new(key::SECOND_CLOSED_UNANSWERED).arg("left", left),
        )),
        Err(mut f) => {
            let why = f.said_message();
            f.reword(
                Message::new(key::SECOND_NOT_SERVED)
                    .arg("left", left)
                    .arg("why", why),
            );
            Err(f)
        }
    }
}

/// Explains why client `i` (after the first) was not served, when the program simply stopped after
/// its first client.
fn not_served_after_first(ctx: &mut Ctx, i: usize, failure: Failure) -> Failure {
    match ctx.wait_exit(Duration::from_millis(300)) {
        Ok(Some(status)) if status.success() => Failure::said(
            Outcome::Fail,
            Message::new(key::SINGLE_CLIENT_EXITED)
                .arg("i", i)
                .arg("prev", i - 1)
                .arg("status", describe_status(status)),
        )
        .with_serving(Serving::SingleClient),
        Ok(Some(_)) => failure.with_serving(Serving::SingleClient),
        _ => failure,
    }
}

pub fn clients_in_turn(ctx: &mut Ctx, clients: usize) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    for i in 1..=clients {
        let name = format!("client {i}");
        let message = format!("message from client {i}").into_bytes();
        let served = ctx.connect(addr, &name).and_then(|mut conn| {
            talk(ctx, &mut conn, &[message], WriteStyle::OnePerMessage)?;
            conn.close();
            Ok(())
        });
        if let Err(failure) = served {
            return Err(if i > 1 {
                not_served_after_first(ctx, i, failure)
            } else {
                failure
            });
        }
    }
    ctx.serving = Some(Serving::InTurn);
    Ok(())
}

/// The first client connects and stays idle (sends nothing); a second client must be served meanwhile.
pub fn idle_first_client(ctx: &mut Ctx) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let first = ctx.connect(addr, "client 1")?;
    let mut second = ctx.connect(addr, "client 2")?;
    let message = b"I am the second client".to_vec();
    let compare = ctx.compare();
    let input = line(&message);
    second
        .send(&input)
        .map_err(|f| f.with_input(input.clone()))?;
    let expected = ctx.prefixed(&message);
    match second.expect_reply(&expected, compare, Awaited::Reply, Then::End) {
        Ok(()) => {
            ctx.serving = Some(Serving::AtOnce);
            Ok(())
        }
        Err(failure) if failure.outcome() == Outcome::Timeout => {
            let secs = ctx.wait().as_secs_f64();
            // Does an answer come once the first client leaves? Then the server serves in turn.
            first.close();
            let late = second.expect_reply(&expected, compare, Awaited::Reply, Then::End);
            let answered = match &late {
                Ok(()) => true,
                Err(f) => {
                    f.outcome() == Outcome::Fail && f.actual.as_ref().is_some_and(|a| !a.is_empty())
                }
            };
            if answered {
                let id = if late.is_err() {
                    key::ONLY_IN_TURN_WRONG
                } else {
                    key::ONLY_IN_TURN
                };
                let secs = format!("{secs:.1}");
                let mut failure = Failure::said(Outcome::Fail, Message::new(id).arg("secs", secs));
                // A wrong reply is evidence too: it shows what else is wrong.
                if let Err(wrong) = late {
                    failure.expected = wrong.expected;
                    failure.actual = wrong.actual;
                }
                return Err(failure.with_input(input).with_serving(Serving::OnlyInTurn));
            }
            match ctx.wait_exit(Duration::from_millis(300))? {
                Some(status) => Err(Failure::said(
                    Outcome::Fail,
                    Message::new(key::SINGLE_CLIENT_IDLE)
                        .arg("secs", format!("{secs:.1}"))
                        .arg("status", describe_status(status)),
                )
                .with_input(input)
                .with_serving(Serving::SingleClient)
                .settled()),
                None => Err(failure.with_input(input)),
            }
        }
        Err(failure) => Err(failure.with_input(input)),
    }
}

/// Many clients connected at once, opened in waves the lesson's `listen(5)` backlog can take, each
/// wave served before the next, then messages interleaved across all of them.
pub fn many_clients(ctx: &mut Ctx, clients: usize, wave: usize, messages: usize) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let compare = ctx.compare();
    let wave = wave.max(1);
    let mut conns: Vec<Conn> = Vec::with_capacity(clients);
    let mut wave_start = 0;
    for i in 1..=clients {
        let mut conn = ctx.connect(addr, &format!("client {i}"))?;
        conn.send(&line(&hello(i)))?;
        conns.push(conn);
        if conns.len() - wave_start < wave && i < clients {
            continue;
        }
        // The wave is complete: every client in it must have been served before the next wave comes.
        for (j, conn) in conns.iter_mut().enumerate().skip(wave_start) {
            let reply = ctx.prefixed(&hello(j + 1));
            if let Err(f) = conn.expect_reply(&reply, compare, Awaited::Reply, Then::End) {
                let f = if f.outcome() == Outcome::Timeout && j > 0 {
                    Failure::said(
                        Outcome::Fail,
                        Message::new(key::NOT_AT_ONCE)
                            .arg("i", j + 1)
                            .arg("others", j)
                            .arg("secs", words::secs(ctx.wait())),
                    )
                    .with_serving(Serving::NotAtOnce)
                } else {
                    f
                };
                return Err(f.with_input(line(&hello(j + 1))));
            }
        }
        wave_start = conns.len();
    }
    // A fixed check: the order does not depend on the run's seed either.
    let mut mix = Mix::new(ctx.fixed_seed());
    for round in 1..=messages {
        // A seeded shuffle: clients speak in a different order each round.
        let mut order: Vec<usize> = (0..conns.len()).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, mix.below(k + 1));
        }
        for &k in &order {
            let text = format!("client {} message {round}", k + 1).into_bytes();
            conns[k].send(&line(&text))?;
        }
        for &k in &order {
            let text = format!("client {} message {round}", k + 1).into_bytes();
            conns[k]
                .expect_reply(&ctx.prefixed(&text), compare, Awaited::Reply, Then::End)
                .map_err(|f| f.with_input(line(&text)))?;
        }
    }
    ctx.serving = Some(Serving::AtOnce);
    Ok(())
}

fn hello(client: usize) -> Vec<u8> {
    format!("hello from client {client}").into_bytes()
}

/// One chat turn seen from the client: send a line, see it printed, type the answer, receive it.
fn chat_turn(
    ctx: &mut Ctx,
    conn: &mut Conn,
    from_client: &[u8],
    from_server: &[u8],
) -> CheckResult {
    let mark = ctx.stdout_mark()?;
    conn.send(&line(from_client))?;
    ctx.wait_printed(mark, from_client, "the client's line", None)?;
    ctx.type_line(from_server)?;
    super::client::receive_typed(ctx, conn, from_server)
}

pub fn chat_turns(ctx: &mut Ctx, turns: &[(Vec<u8>, Vec<u8>)]) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "client")?;
    chat_on(ctx, &mut conn, turns)
}

/// Turns on an open conversation.
fn chat_on(ctx: &mut Ctx, conn: &mut Conn, turns: &[(Vec<u8>, Vec<u8>)]) -> CheckResult {
    for (from_client, from_server) in turns {
        chat_turn(ctx, conn, from_client, from_server)
            .map_err(|f| f.with_input(line(from_client)))?;
    }
    Ok(())
}

/// Generated conversations with one server; after a failed case the next starts a fresh program.
pub fn property_chat_turns(
    ctx: &mut Ctx,
    cases: u32,
    strategy: impl proptest::strategy::Strategy<Value = Vec<(String, String)>>,
) -> CheckResult {
    property_on_one_connection(
        ctx,
        cases,
        strategy,
        |t| super::show_turns(t),
        |ctx| {
            let addr = ctx.launch_server(Proto::Tcp)?;
            ctx.connect(addr, "client")
        },
        |ctx, conn, turns| chat_on(ctx, conn, &super::as_bytes(turns)),
    )
}

/// After one turn the client closes: the server must exit with status 0 (going back to listening is
/// fine at the basic level, `survive-close`; this check asks for the lesson's exit).
pub fn exit_on_client_close(ctx: &mut Ctx) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "client")?;
    chat_turn(ctx, &mut conn, b"hi", b"hello").map_err(|f| {
        Failure::said(
            Outcome::NotRun,
            Message::new(key::FIRST_TURN_FAILED).arg("why", f.said_message()),
        )
    })?;
    conn.close();
    ctx.expect_clean_exit("the client closed the connection")
        .map_err(|mut f| {
            if f.message.contains("accept()") {
                let why = f.said_message();
                f.reword(Message::new(key::FINE_AT_BASIC_CHAT).arg("why", why));
            }
            f
        })
}
