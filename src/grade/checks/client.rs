//! Checks of TCP clients (ECHO and chat): the grader plays the server and types on the program's stdin.

use std::time::Duration;

use super::{messages, property};
use crate::grade::conn::{Compare, Conn};
use crate::grade::ctx::Ctx;
use crate::grade::suite::Leave;
use crate::grade::verdict::{CheckResult, Failure};
use crate::wire::Deadline;

/// Pause between the pieces of a reply sent in slices: long enough for a client's `recv()` to return
/// with only the first piece.
const REPLY_SLICE_PAUSE: Duration = Duration::from_millis(150);

fn line(text: &[u8]) -> Vec<u8> {
    [text, b"\n"].concat()
}

/// Waits for the program to send the line typed at it: the line, a newline optional. What the program
/// sends is compared leniently even with `--strict`: the lesson sends a line without its newline.
pub fn receive_typed(ctx: &Ctx, conn: &mut Conn, typed: &[u8]) -> CheckResult {
    let wait = ctx.wait();
    conn.expect_reply(typed, Compare::Lenient, Deadline::after(wait), wait)
        .map_err(|mut f| {
            f.message = f.message.replace("the reply", "what the program sent");
            f
        })
}

/// The grader as ECHO server: each typed line must arrive as one message, and PREFIX + it be printed.
pub fn echo_lines(ctx: &mut Ctx, lines: &[Vec<u8>], reply_slices: Option<usize>) -> CheckResult {
    let mut conn = ctx.launch_client(None)?;
    for typed in lines {
        let step = |ctx: &mut Ctx, conn: &mut Conn| -> CheckResult {
            ctx.type_line(typed)?;
            receive_typed(ctx, conn, typed)?;
            let reply = ctx.prefixed(typed);
            let mark = ctx.stdout_mark()?;
            // The reply ends with a newline so that a client reading whole lines is served as well.
            match reply_slices {
                Some(pieces) => {
                    for (i, piece) in char_pieces(&line(&reply), pieces).iter().enumerate() {
                        if i > 0 {
                            // Pacing: each piece must reach the client's recv() on its own.
                            std::thread::sleep(REPLY_SLICE_PAUSE);
                        }
                        conn.send(piece)?;
                    }
                }
                None => conn.send(&line(&reply))?,
            }
            ctx.wait_printed(mark, &reply, "the server's reply")
        };
        step(ctx, &mut conn).map_err(|f| f.with_input(line(typed)))?;
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

pub fn property_echo_lines(ctx: &mut Ctx, cases: u32, max_lines: usize) -> CheckResult {
    property(
        ctx,
        cases,
        messages(max_lines),
        |lines| lines.iter().flat_map(|l| line(l.as_bytes())).collect(),
        |ctx, lines| {
            let lines: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
            echo_lines(ctx, &lines, None)
        },
    )
}

/// The grader as chat server: a typed line arrives; the grader answers; the answer is printed.
pub fn chat_turns(ctx: &mut Ctx, turns: &[(Vec<u8>, Vec<u8>)]) -> CheckResult {
    let mut conn = ctx.launch_client(None)?;
    for (from_client, from_server) in turns {
        let step = |ctx: &mut Ctx, conn: &mut Conn| -> CheckResult {
            ctx.type_line(from_client)?;
            receive_typed(ctx, conn, from_client)?;
            let mark = ctx.stdout_mark()?;
            conn.send(&line(from_server))?;
            ctx.wait_printed(mark, from_server, "the server's line")
        };
        step(ctx, &mut conn).map_err(|f| f.with_input(line(from_client)))?;
    }
    Ok(())
}

/// Stdin ends (EOF or an empty line): the client must close its connection and exit 0.
pub fn exit(ctx: &mut Ctx, how: Leave) -> CheckResult {
    let mut conn = ctx.launch_client(None)?;
    let why = end_input(ctx, how)?;
    let wait = ctx.wait();
    if !conn.wait_closed(Deadline::after(wait)) {
        return Err(Failure::timeout(format!(
            "the program did not close the connection within {:.1} s after {why}",
            wait.as_secs_f64()
        )));
    }
    // The server side of the four-way close: a client may wait for it before it exits.
    conn.close();
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
            Ok("stdin ended")
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
