//! Checks of TCP servers (ECHO and chat): the grader plays the clients.

use std::time::Duration;

use super::{messages, property, Mix};
use crate::grade::conn::Conn;
use crate::grade::ctx::{describe_status, Ctx};
use crate::grade::procfs::Proto;
use crate::grade::suite::{Leave, WriteStyle};
use crate::grade::verdict::{CheckResult, Failure, Outcome};
use crate::wire::Deadline;

/// Pause between the slices of a message sent byte by byte: long enough that each slice is read on its
/// own, as over a slow network.
const SLICE_PAUSE: Duration = Duration::from_millis(2);

/// How long a server is watched after its client leaves, to see whether it crashes or spins.
const AFTER_CLOSE_WINDOW: Duration = Duration::from_millis(500);

/// A server that used more than this share of one CPU while idle is spinning.
const SPIN_SHARE: f64 = 0.6;

fn line(message: &[u8]) -> Vec<u8> {
    [message, b"\n"].concat()
}

/// Sends `messages` on `conn` as `write` says and expects PREFIX + each, in order.
fn talk(ctx: &Ctx, conn: &mut Conn, messages: &[Vec<u8>], write: WriteStyle) -> CheckResult {
    let (compare, wait) = (ctx.compare(), ctx.wait());
    match write {
        WriteStyle::OnePerMessage | WriteStyle::ByteSlices => {
            for message in messages {
                let bytes = line(message);
                let sent = if write == WriteStyle::ByteSlices {
                    conn.send_slices(&bytes, 1, SLICE_PAUSE)
                } else {
                    conn.send(&bytes)
                };
                sent.and_then(|_| {
                    conn.expect_reply(&ctx.prefixed(message), compare, Deadline::after(wait), wait)
                })
                .map_err(|f| f.with_input(bytes.clone()))?;
            }
        }
        WriteStyle::AllAtOnce => {
            let all: Vec<u8> = messages.iter().flat_map(|m| line(m)).collect();
            conn.send(&all).map_err(|f| f.with_input(all.clone()))?;
            for message in messages {
                conn.expect_reply(&ctx.prefixed(message), compare, Deadline::after(wait), wait)
                    .map_err(|f| f.with_input(all.clone()))?;
            }
        }
    }
    Ok(())
}

pub fn exchange(ctx: &mut Ctx, messages: &[Vec<u8>], write: WriteStyle) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "client 1")?;
    talk(ctx, &mut conn, messages, write)
}

/// Generated message series on one connection. A failed case leaves the connection in an unknown state,
/// so the next case starts a fresh program.
pub fn property_exchange(ctx: &mut Ctx, cases: u32, max_messages: usize) -> CheckResult {
    let mut live: Option<Conn> = None;
    property(
        ctx,
        cases,
        messages(max_messages),
        |series| series.iter().flat_map(|m| line(m.as_bytes())).collect(),
        move |ctx, series| {
            let mut conn = match live.take() {
                Some(conn) => conn,
                None => {
                    let addr = ctx.launch_server(Proto::Tcp)?;
                    ctx.connect(addr, "client 1")?
                }
            };
            let series: Vec<Vec<u8>> = series.iter().map(|m| m.as_bytes().to_vec()).collect();
            talk(ctx, &mut conn, &series, WriteStyle::OnePerMessage)?;
            live = Some(conn);
            Ok(())
        },
    )
}

/// CPU time (user + system) the program's main process has used, from /proc/PID/stat.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_millis((utime + stime) * 1000 / ticks))
}

/// CPU share of one core the program used over `window`, measured now (None if /proc says nothing).
fn busy_share(pid: u32, window: Duration) -> Option<f64> {
    let before = cpu_time(pid)?;
    // A measuring interval, not synchronisation: CPU use is only defined over a span of time.
    std::thread::sleep(window);
    let after = cpu_time(pid)?;
    Some(after.saturating_sub(before).as_secs_f64() / window.as_secs_f64())
}

/// A client exchanges one message, then leaves (close or reset). The server must not crash, must not
/// start spinning on `recv()` returning `b''`, and when it stays it must go on being a server: still
/// listening after a close; answering the next client after a reset. The replies are not judged here.
pub fn survive_close(ctx: &mut Ctx, how: Leave) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "client 1")?;
    // Whatever the reply, the server is now inside its receive loop: that is the state under test. The
    // reply is read so that closing does not become a reset (unread data makes close() send RST).
    let wait = ctx.wait();
    let _ = conn.send(b"hello\n");
    let _ = conn.read_message(Deadline::after(wait), ctx.opts.quiet, wait);
    let pid = ctx.program()?.pid();
    let window = AFTER_CLOSE_WINDOW.mul_f64(ctx.opts.timeout_scale);
    // How busy the program is anyway (some print or poll all the time): only new spinning counts.
    let baseline = busy_share(pid, window / 2).unwrap_or(0.0);
    let left = match how {
        Leave::Reset => {
            conn.reset();
            "reset the connection"
        }
        _ => {
            conn.close();
            "closed the connection"
        }
    };
    let cpu_before = cpu_time(pid);
    match ctx.wait_exit(window)? {
        Some(status) if status.success() => return Ok(()),
        Some(status) => {
            return Err(Failure::crash(format!(
                "the program exited with {} after the client {left}",
                describe_status(status)
            )))
        }
        None => {}
    }
    if let (Some(before), Some(after)) = (cpu_before, cpu_time(pid)) {
        let busy = after.saturating_sub(before).as_secs_f64() / window.as_secs_f64();
        if busy > SPIN_SHARE && baseline < SPIN_SHARE / 2.0 {
            return Err(Failure::fail(format!(
                "after the client {left}, the program kept a CPU {:.0}% busy (it was {:.0}% \
                 before): a loop on recv() returning b'' that never ends",
                busy.min(1.0) * 100.0,
                baseline.min(1.0) * 100.0
            )));
        }
    }
    if how != Leave::Reset {
        return match ctx
            .program()?
            .wait_listening(Proto::Tcp, Deadline::after(wait))
        {
            Ok(_) => Ok(()),
            Err(_) => Err(Failure::fail(format!(
                "after the client {left}, the program neither exited nor went on listening"
            ))),
        };
    }
    // After a reset, the next client must get an answer (any answer: replies are judged elsewhere).
    let mut next = ctx.connect(addr, "client 2")?;
    next.send(b"are you still there?\n")?;
    match next.read_message(Deadline::after(wait), ctx.opts.quiet, wait) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Failure::fail(format!(
            "after client 1 {left}, client 2 was accepted but the program closed it without answering"
        ))),
        Err(mut f) => {
            f.message = format!("after client 1 {left}, the program stayed but did not serve client 2: {}", f.message);
            Err(f)
        }
    }
}

/// Explains why client `i` (after the first) was not served, when the program simply stopped after
/// its first client.
fn not_served_after_first(ctx: &mut Ctx, i: usize, failure: Failure) -> Failure {
    match ctx.wait_exit(Duration::from_millis(300)) {
        Ok(Some(status)) if status.success() => Failure::fail(format!(
            "client {i} was not served: the program exited ({}) after client {}; it serves a \
             single client",
            describe_status(status),
            i - 1
        )),
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
    Ok(())
}

pub fn idle_first_client(ctx: &mut Ctx) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut first = ctx.connect(addr, "client 1")?;
    talk(
        ctx,
        &mut first,
        &[b"I am the first client".to_vec()],
        WriteStyle::OnePerMessage,
    )?;
    let mut second = ctx.connect(addr, "client 2")?;
    let message = b"I am the second client".to_vec();
    let (compare, wait) = (ctx.compare(), ctx.wait());
    second.send(&line(&message))?;
    let expected = ctx.prefixed(&message);
    match second.expect_reply(&expected, compare, Deadline::after(wait), wait) {
        Err(failure) if failure.outcome() == Outcome::Timeout => {
            // Does the reply come once the first client leaves? Then the server is sequential.
            first.close();
            match second.expect_reply(&expected, compare, Deadline::after(wait), wait) {
                Ok(()) => Err(Failure::fail(format!(
                    "client 2 got no reply within {:.1} s while client 1 stayed connected and idle; \
                     the reply came only after client 1 closed: the server serves one client at a time",
                    wait.as_secs_f64()
                ))
                .with_input(line(&message))),
                Err(_) => match ctx.wait_exit(Duration::from_millis(300))? {
                    Some(status) => Err(Failure::fail(format!(
                        "client 2 got no reply within {:.1} s while client 1 stayed connected and \
                         idle; when client 1 closed, the program exited ({}): it serves a single client",
                        wait.as_secs_f64(),
                        describe_status(status)
                    ))
                    .with_input(line(&message))
                    .settled()),
                    None => Err(failure.with_input(line(&message))),
                },
            }
        }
        other => other.map_err(|f| f.with_input(line(&message))),
    }
}

/// Many clients connected at once, opened in waves the lesson's `listen(5)` backlog can take, each
/// wave served before the next, then messages interleaved across all of them.
pub fn many_clients(ctx: &mut Ctx, clients: usize, wave: usize, messages: usize) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let (compare, wait) = (ctx.compare(), ctx.wait());
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
            if let Err(f) = conn.expect_reply(&reply, compare, Deadline::after(wait), wait) {
                let f = if f.outcome() == Outcome::Timeout && j > 0 {
                    Failure::fail(format!(
                        "client {} got no reply within {:.1} s while {j} other client(s) stayed \
                         connected: the server does not serve its clients at once",
                        j + 1,
                        wait.as_secs_f64()
                    ))
                } else {
                    f
                };
                return Err(f.with_input(line(&hello(j + 1))));
            }
        }
        wave_start = conns.len();
    }
    let mut mix = Mix::new(ctx.seed);
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
                .expect_reply(&ctx.prefixed(&text), compare, Deadline::after(wait), wait)
                .map_err(|f| f.with_input(line(&text)))?;
        }
    }
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
    ctx.wait_printed(mark, from_client, "the client's line")?;
    ctx.type_line(from_server)?;
    super::client::receive_typed(ctx, conn, from_server)
}

pub fn chat_turns(ctx: &mut Ctx, turns: &[(Vec<u8>, Vec<u8>)]) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "client")?;
    for (from_client, from_server) in turns {
        chat_turn(ctx, &mut conn, from_client, from_server)
            .map_err(|f| f.with_input(line(from_client)))?;
    }
    Ok(())
}

pub fn exit_on_client_close(ctx: &mut Ctx) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "client")?;
    chat_turn(ctx, &mut conn, b"hi", b"hello").map_err(|f| {
        Failure::not_run(format!(
            "the first turn failed, so the close could not be tested: {}",
            f.message
        ))
    })?;
    conn.close();
    ctx.expect_clean_exit("the client closed the connection")
}
