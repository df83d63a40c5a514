//! Checks of TCP clients (ECHO and chat): the grader plays the server and types on the program's stdin.

use std::time::Duration;

use super::generate::typed_lines;
use super::property_on_one_connection;
use crate::grade::conn::{Awaited, Closing, Compare, Conn, Then};
use crate::grade::ctx::Ctx;
use crate::grade::suite::{Leave, Peer};
use crate::grade::verdict::{CheckResult, Failure, Outcome};
use crate::grade::words::{party, phrase};
use crate::i18n::{key, Message};

/// Pause between the pieces of a reply sent in slices: long enough for a client's `recv()` to return
/// with only the first piece.
const REPLY_SLICE_PAUSE: Duration = Duration::from_millis(150);

fn line(text: &[u8]) -> Vec<u8> {
    [text, b"\n"].concat()
}

/// Waits for the program to send the line typed at it: the line, a newline optional, and nothing
/// more. What the program sends is compared leniently even with `--strict`: the lesson sends a line
/// without its newline. A program that closed this connection and opened another is told so.
pub fn receive_typed(ctx: &Ctx, conn: &mut Conn, typed: &[u8]) -> CheckResult {
    conn.expect_reply(typed, Compare::Lenient, Awaited::TypedLine, Then::End)
        .map_err(|mut f| {
            let closed = f.message.contains("closed the connection");
            if closed && ctx.reconnected() {
                f.reword(Message::new(key::RECONNECTED).arg("client", party(conn.name())));
            }
            f
        })
}

/// The grader as ECHO server: each typed line must arrive as one message, and PREFIX + it be printed.
pub fn echo_lines(ctx: &mut Ctx, lines: &[Vec<u8>], reply_slices: Option<usize>) -> CheckResult {
    let mut conn = ctx.launch_client(None)?;
    echo_on(ctx, &mut conn, lines, reply_slices)
}

fn echo_on(
    ctx: &mut Ctx,
    conn: &mut Conn,
    lines: &[Vec<u8>],
    reply_slices: Option<usize>,
) -> CheckResult {
    for typed in lines {
        echo_line(ctx, conn, typed, reply_slices).map_err(|f| f.with_input(line(typed)))?;
    }
    Ok(())
}

/// One line typed, received, answered with PREFIX + line (in `reply_slices` pieces), printed.
fn echo_line(
    ctx: &mut Ctx,
    conn: &mut Conn,
    typed: &[u8],
    reply_slices: Option<usize>,
) -> CheckResult {
    ctx.type_line(typed)?;
    receive_typed(ctx, conn, typed)?;
    let reply = ctx.prefixed(typed);
    let mark = ctx.stdout_mark()?;
    send_reply(conn, &reply, reply_slices)?;
    ctx.wait_printed(mark, &reply, "the server's reply", Some(typed))
}

/// Sends PREFIX + line as the ECHO server does (in `reply_slices` pieces).
fn send_reply(conn: &mut Conn, reply: &[u8], reply_slices: Option<usize>) -> CheckResult {
    // The reply ends with a newline so that a client reading whole lines is served as well.
    match reply_slices {
        Some(pieces) => {
            for (i, piece) in char_pieces(&line(reply), pieces).iter().enumerate() {
                if i > 0 {
                    // Pacing: each piece must reach the client's recv() on its own.
                    std::thread::sleep(REPLY_SLICE_PAUSE);
                }
                conn.send(piece)?;
            }
        }
        None => conn.send(&line(reply))?,
    }
    Ok(())
}

/// `bytes` cut into about `pieces` parts, never inside a UTF-8 character: a client that decodes each
/// `recv()` must fail for printing a part, not crash on half a character.
fn char_pieces(bytes: &[u8], pieces: usize) -> Vec<&[u8]> {
    let size = bytes.len().div_ceil(pieces.max(1)).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let mut end = (start + size).min(bytes.len());
        // UTF-8 continuation bytes are 0b10xxxxxx: move the cut back to a character's first byte.
        while end < bytes.len() && end > start + 1 && bytes[end] & 0xc0 == 0x80 {
            end -= 1;
        }
        out.push(&bytes[start..end]);
        start = end;
    }
    out
}

/// Generated lines typed at one client; after a failed case the next starts a fresh program.
pub fn property_echo_lines(ctx: &mut Ctx, cases: u32, max_lines: usize) -> CheckResult {
    property_on_one_connection(
        ctx,
        cases,
        typed_lines(max_lines),
        |lines| lines.iter().flat_map(|l| line(l.as_bytes())).collect(),
        |ctx| ctx.launch_client(None),
        |ctx, conn, lines| {
            let lines: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
            echo_on(ctx, conn, &lines, None)
        },
    )
}

/// One chat turn seen from the server: a typed line arrives; the grader answers; the answer is printed.
fn chat_line(
    ctx: &mut Ctx,
    conn: &mut Conn,
    from_client: &[u8],
    from_server: &[u8],
) -> CheckResult {
    ctx.type_line(from_client)?;
    receive_typed(ctx, conn, from_client)?;
    let mark = ctx.stdout_mark()?;
    conn.send(&line(from_server))?;
    ctx.wait_printed(mark, from_server, "the server's line", Some(from_client))
}

/// The grader as chat server: each typed line arrives, is answered, and the answer printed.
pub fn chat_turns(ctx: &mut Ctx, turns: &[(Vec<u8>, Vec<u8>)]) -> CheckResult {
    let mut conn = ctx.launch_client(None)?;
    chat_on(ctx, &mut conn, turns)
}

fn chat_on(ctx: &mut Ctx, conn: &mut Conn, turns: &[(Vec<u8>, Vec<u8>)]) -> CheckResult {
    for (from_client, from_server) in turns {
        chat_line(ctx, conn, from_client, from_server)
            .map_err(|f| f.with_input(line(from_client)))?;
    }
    Ok(())
}

/// Generated conversations with one client; after a failed case the next starts a fresh program.
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
        |ctx| ctx.launch_client(None),
        |ctx, conn, turns| chat_on(ctx, conn, &super::as_bytes(turns)),
    )
}

/// After `lines` are typed and answered (as `peer` would), stdin ends (EOF or an empty line): the
/// client must close its connection and exit 0.
pub fn exit(ctx: &mut Ctx, how: Leave, lines: &[Vec<u8>], peer: Peer) -> CheckResult {
    let mut conn = ctx.launch_client(None)?;
    // The lines are answered, but what the program prints is not judged here (other checks do).
    for typed in lines {
        let answer = match peer {
            Peer::Echo => ctx.prefixed(typed),
            Peer::Chat => [b"ok: ".as_slice(), typed].concat(),
        };
        let answered = ctx
            .type_line(typed)
            .and_then(|_| receive_typed(ctx, &mut conn, typed))
            .and_then(|_| send_reply(&mut conn, &answer, None));
        answered.map_err(|f| {
            Failure::said(
                Outcome::NotRun,
                Message::new(key::LINE_BEFORE_END_NOT_HANDLED).arg("why", f.said_message()),
            )
        })?;
    }
    let why = end_input(ctx, how)?;
    match conn.wait_closed() {
        Closing::Closed => {}
        Closing::Waiting => {
            let id = match how {
                Leave::EmptyLine => key::OPEN_AFTER_EMPTY_LINE,
                _ => key::OPEN_AFTER_EOF,
            };
            return Err(Failure::said(
                Outcome::Fail,
                Message::new(id).arg("after", phrase(why)),
            ));
        }
        Closing::Deadline => {
            return Err(Failure::said(
                Outcome::Timeout,
                Message::new(key::NOT_CLOSED_AFTER)
                    .arg("within", conn.limits().within_said())
                    .arg("after", phrase(why)),
            ))
        }
    }
    // The server side of the four-way close: a client may wait for it before it exits.
    conn.close();
    // A crash here (most often input()'s EOFError) is explained by its traceback, as a cause.
    ctx.expect_clean_exit(why)
}

/// Ends the program's input the way `how` says; returns the words for messages.
pub fn end_input(ctx: &mut Ctx, how: Leave) -> CheckResult<&'static str> {
    match how {
        Leave::EmptyLine => {
            ctx.type_line(b"")?;
            Ok("an empty line")
        }
        _ => {
            ctx.close_stdin()?;
            Ok("stdin ended (EOF)")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pieces_never_split_a_character() {
        let text = "ECHO：你好，世界\n".as_bytes();
        for n in 1..=8 {
            let pieces = super::char_pieces(text, n);
            assert_eq!(pieces.concat(), text);
            assert!(
                pieces.iter().all(|p| std::str::from_utf8(p).is_ok()),
                "{n}: {pieces:?}"
            );
        }
    }
}
