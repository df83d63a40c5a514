//! Checks of the file transfer, either side: the same bytes must come out as went in.

use std::time::Duration;

use super::{property as run_property, Mix};
use crate::grade::ctx::Ctx;
use crate::grade::procfs::Proto;
use crate::grade::suite::{Pattern, Program};
use crate::grade::verdict::{CheckResult, Failure, Outcome};
use crate::wire::Deadline;

/// The bytes of a generated file.
pub fn generate(size: usize, pattern: Pattern, seed: u64) -> Vec<u8> {
    let mut mix = Mix::new(seed);
    match pattern {
        Pattern::Random => {
            let mut bytes = Vec::with_capacity(size + 8);
            while bytes.len() < size {
                bytes.extend_from_slice(&mix.next_u64().to_le_bytes());
            }
            bytes.truncate(size);
            bytes
        }
        Pattern::Text => {
            let mut text = super::generated_text(size, seed);
            // One line in 64 ends: a text file has lines.
            for (i, b) in text.iter_mut().enumerate() {
                if i % 64 == 63 {
                    *b = b'\n';
                }
            }
            text
        }
        Pattern::AllBytes => (0..size).map(|i| i as u8).collect(),
        Pattern::CrlfNul => cycle(
            &[
                b"line one\r\n".as_slice(),
                b"\r\n\r\n\r\n",
                b"\0\0\0\0\0\0\0\0",
                b"text\0after nul\r\n",
                b"\n\r\n\r",
                b"\0",
            ],
            size,
            &mut mix,
        ),
        Pattern::InvalidUtf8 => cycle(
            &[
                "valid 中文 text ".as_bytes(),
                b"\x80",             // a lone continuation byte
                b"\xc3",             // a two-byte sequence cut short
                b"\xe4\xbd",         // a three-byte sequence cut short
                b"\xff\xfe",         // bytes that never occur in UTF-8
                b"\xc0\xaf",         // an overlong '/'
                b"\xed\xa0\x80",     // a UTF-16 surrogate
                b"\xf4\x90\x80\x80", // beyond U+10FFFF
            ],
            size,
            &mut mix,
        ),
    }
}

/// `size` bytes made of the pieces in a seeded order.
fn cycle(pieces: &[&[u8]], size: usize, mix: &mut Mix) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size + 32);
    while bytes.len() < size {
        bytes.extend_from_slice(pieces[mix.below(pieces.len())]);
    }
    bytes.truncate(size);
    bytes
}

/// One file crosses: to a receiver (the grader connects and sends, optionally in paced slices), or from
/// a sender (the grader listens and reads to EOF). Then the program must exit 0.
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

/// The program sends `{file}`; the grader reads it to EOF.
fn send_side(ctx: &mut Ctx, content: &[u8]) -> CheckResult {
    let mut conn = ctx.launch_client(Some(content))?;
    let wait = ctx.wait();
    // More than the file and a margin is a runaway sender: stop reading there.
    let limit = content.len() + 1024 * 1024;
    let received = conn.read_to_eof(Deadline::after(wait), wait, limit)?;
    same_bytes(content, &received)?;
    // A receiver closes once it has read EOF; a sender may wait for that before it exits.
    conn.close();
    ctx.expect_clean_exit("sending the file")
}

/// The grader sends; the program writes `{out}` and exits.
fn receive_side(ctx: &mut Ctx, content: &[u8], pacing: Option<(usize, Duration)>) -> CheckResult {
    let addr = ctx.launch_server(Proto::Tcp)?;
    let mut conn = ctx.connect(addr, "sender")?;
    let sent = match pacing {
        Some((slice, pause)) => conn.send_slices(content, slice, pause),
        None => conn.send(content),
    };
    // A receiver that stops reading early breaks the send; what it wrote still tells the story.
    if sent.is_ok() {
        conn.finish();
    }
    let exited = ctx.expect_clean_exit("the sender closed the connection");
    if let Err(f) = &exited {
        if f.outcome() == Outcome::Crash {
            return exited;
        }
    }
    let out = ctx
        .out_path()
        .ok_or_else(|| Failure::harness("no {out} path"))?;
    match std::fs::read(&out) {
        Ok(written) => same_bytes(content, &written)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && exited.is_ok() => {
            return Err(Failure::fail(format!(
                "the program exited without writing the output file {}",
                out.display()
            )))
        }
        Err(_) => {}
    }
    sent?;
    exited
}

/// Compares a transfer byte for byte and says where it went wrong.
fn same_bytes(expected: &[u8], actual: &[u8]) -> CheckResult {
    if expected == actual {
        return Ok(());
    }
    let first_difference = expected.iter().zip(actual).position(|(a, b)| a != b);
    let message = match first_difference {
        None if actual.len() < expected.len() => format!(
            "the file was cut short: {} of {} bytes arrived",
            actual.len(),
            expected.len()
        ),
        None => format!(
            "the file grew: {} bytes arrived for {} sent",
            actual.len(),
            expected.len()
        ),
        Some(at) => format!(
            "the bytes differ from offset {at} on: expected {}, got {} ({} bytes sent, {} arrived)",
            window(expected, at),
            window(actual, at),
            expected.len(),
            actual.len()
        ),
    };
    Err(Failure::fail(message)
        .with_expected(expected)
        .with_actual(actual))
}

/// Up to 8 bytes from `at`, in hex.
fn window(bytes: &[u8], at: usize) -> String {
    bytes[at..bytes.len().min(at + 8)]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Generated binary files, each on a fresh program; a failure shrinks to a minimal file.
pub fn property(ctx: &mut Ctx, cases: u32, max_size: usize) -> CheckResult {
    let strategy = super::binary(max_size);
    run_property(
        ctx,
        cases,
        strategy,
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

    #[test]
    fn patterns_have_the_asked_size_and_their_character() {
        for pattern in [
            Pattern::Random,
            Pattern::AllBytes,
            Pattern::CrlfNul,
            Pattern::InvalidUtf8,
        ] {
            for size in [0, 1, 1023, 4096] {
                assert_eq!(generate(size, pattern, 1).len(), size);
            }
        }
        let all = generate(4096, Pattern::AllBytes, 1);
        assert!((0..=255u8).all(|b| all.contains(&b)));
        assert!(std::str::from_utf8(&generate(3000, Pattern::InvalidUtf8, 1)).is_err());
        let crlf = generate(4096, Pattern::CrlfNul, 1);
        assert!(crlf.windows(2).any(|w| w == b"\r\n") && crlf.contains(&0));
    }

    #[test]
    fn differences_are_located() {
        assert!(same_bytes(b"abc", b"abc").is_ok());
        let f = same_bytes(b"abcdef", b"abc").unwrap_err();
        assert!(f.message.contains("3 of 6 bytes"), "{}", f.message);
        let f = same_bytes(b"abcdef", b"abXdef").unwrap_err();
        assert!(f.message.contains("offset 2"), "{}", f.message);
    }
}
