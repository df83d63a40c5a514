//! Root causes: one explanation for what made checks fail, found in their evidence (a wrong prefix on
//! every reply, NUL padding, the same traceback), so that a report can say it once and let the checks
//! refer to it, and so that the explanation points at the fix.

use serde::Serialize;

use super::suite::Run;
use crate::i18n::{key, Arg, Message};

/// What a program does wrong, once, with the fix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    /// Groups failures with the same cause: the same words for the same behaviour
    /// (`prefix:4543484f3a`, `nul-padding`, `exception:UnicodeDecodeError@server.py:12`).
    #[serde(skip)]
    pub key: String,
    /// One or two sentences: what the program does, and what to do instead.
    pub summary: String,
    /// `summary` by its id and arguments, to say in the report's language.
    #[serde(skip)]
    pub said: Message,
    /// Evidence shown once with the cause (a traceback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Cause {
    /// A cause grouped by `key` (the same words for the same behaviour), said in `summary`.
    pub fn new(key: impl Into<String>, summary: Message) -> Self {
        Cause {
            key: key.into(),
            summary: summary.english(),
            said: summary,
            detail: None,
        }
    }
}

/// What the bytes of a check are, for hints that depend on it: text on a stream, a file, datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    /// Text or bytes on a TCP connection (or stdin and stdout).
    Stream,
    /// A file sent or received whole.
    File,
    /// UDP datagrams.
    Datagram,
}

impl Carried {
    /// What a check of this kind carries.
    pub fn of(run: &Run) -> Carried {
        match run {
            Run::File { .. } | Run::PropertyFile { .. } | Run::ReceiverExit { .. } => Carried::File,
            Run::Datagrams { .. }
            | Run::PropertyDatagrams { .. }
            | Run::SenderLines { .. }
            | Run::PropertySenderLines { .. } => Carried::Datagram,
            _ => Carried::Stream,
        }
    }
}

/// The cause of a failure, from what the check saw (`expected`, `actual`) and what the program wrote
/// on stderr. The evidence on the wire comes first (a wrong prefix shows in the bytes themselves);
/// a traceback explains the rest (a reply that never came because the thread that served it died).
pub fn diagnose(
    expected: Option<&[u8]>,
    actual: Option<&[u8]>,
    stderr: &[u8],
    prefix: &[u8],
    carried: Carried,
) -> Option<Cause> {
    if let (Some(expected), Some(actual)) = (expected, actual) {
        if carried != Carried::File {
            if let Some(cause) = nul_padding(expected, actual) {
                return Some(cause);
            }
            if let Some(cause) = wrong_prefix(expected, actual, prefix) {
                return Some(cause);
            }
            if let Some(cause) = answered_in_pieces(actual, prefix) {
                return Some(cause);
            }
            if let Some(cause) = stripped(expected, actual, prefix) {
                return Some(cause);
            }
        }
    }
    traceback(stderr, carried)
}

/// The cause for bytes that came after (or before) the expected ones and are NUL bytes.
pub fn nul_padding(expected: &[u8], actual: &[u8]) -> Option<Cause> {
    (actual.contains(&0) && !expected.contains(&0))
        .then(|| Cause::new("nul-padding", Message::new(key::CAUSE_NUL_PADDING)))
}

/// A reply that holds the expected message after another prefix than the expected one.
pub fn wrong_prefix(expected: &[u8], actual: &[u8], prefix: &[u8]) -> Option<Cause> {
    if prefix.is_empty() || !expected.starts_with(prefix) {
        return None;
    }
    let message = trim_line_end(&expected[prefix.len()..]);
    let actual = skip_line_ends(actual);
    // The reply's first line: what follows belongs to other replies.
    let line = &actual[..actual
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(actual.len())];
    let line = trim_line_end(line);
    // The message's start is enough to find it in a long reply (its end may be cut or broken).
    let start = &message[..message.len().min(LONG)];
    if start.is_empty() {
        return None;
    }
    let at = find(line, start)?;
    // A short message must end the line: found inside other text, it is not a reply with another prefix.
    if message.len() <= LONG && &line[at..] != message {
        return None;
    }
    let got = &line[..at];
    // A prefix is short; a message found far in is another story.
    if got == prefix || got.len() > prefix.len() + 16 {
        return None;
    }
    let shown = |b: &[u8]| crate::wire::escape_bytes(b).replace('"', "\\\"");
    let summary = if got.is_empty() {
        Message::new(key::CAUSE_NO_PREFIX).arg("prefix", shown(prefix))
    } else {
        let differs: Arg = match first_different_chars(got, prefix) {
            Some((g, w)) => Message::new(key::CHAR_IS_NOT)
                .arg("got", describe_char(g))
                .arg("want", describe_char(w))
                .into(),
            None => "".into(),
        };
        Message::new(key::CAUSE_WRONG_PREFIX)
            .arg("got", shown(got))
            .arg("prefix", shown(prefix))
            .arg("differs", differs)
    };
    Some(Cause::new(format!("prefix:{}", hex(got)), summary))
}

/// A reply line that holds the prefix more than once: the message was answered piece by piece, one
/// reply per `recv()`.
pub fn answered_in_pieces(actual: &[u8], prefix: &[u8]) -> Option<Cause> {
    let actual = skip_line_ends(actual);
    let line = &actual[..actual
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(actual.len())];
    let again = !prefix.is_empty()
        && line.starts_with(prefix)
        && find(&line[prefix.len()..], prefix).is_some();
    again.then(|| Cause::new("framing-pieces", Message::new(key::CAUSE_FRAMING_PIECES)))
}

/// A reply that is PREFIX + the message without the spaces and tabs at its ends.
pub fn stripped(expected: &[u8], actual: &[u8], prefix: &[u8]) -> Option<Cause> {
    let message = trim_line_end(expected.strip_prefix(prefix)?);
    let actual = skip_line_ends(actual);
    let line = &actual[..actual
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(actual.len())];
    let got = trim_line_end(line).strip_prefix(prefix)?;
    let lost_ends = message.trim_ascii() != message
        && (got == message.trim_ascii()
            || got == message.trim_ascii_end()
            || got == message.trim_ascii_start());
    lost_ends.then(|| Cause::new("stripped", Message::new(key::CAUSE_STRIPPED)))
}

/// Two messages that arrived together were answered as one.
pub fn answered_together() -> Cause {
    Cause::new(
        "framing-together",
        Message::new(key::CAUSE_FRAMING_TOGETHER),
    )
}

/// The cause when a program prints the bytes object `recv()` returned.
pub fn printed_bytes() -> Cause {
    Cause::new("prints-bytes", Message::new(key::CAUSE_PRINTS_BYTES))
}

/// The cause when the program never became ready, `how` saying in what way.
pub fn never_ready(how: &str, checks: usize) -> Cause {
    Cause::new(
        format!("not-ready:{how}"),
        Message::new(key::CAUSE_NEVER_READY)
            .arg("count", checks)
            .arg("how", super::words::phrase(how)),
    )
}

/// The last Python traceback on stderr: the exception and where it was raised, with a hint.
pub fn traceback(stderr: &[u8], carried: Carried) -> Option<Cause> {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("Traceback (most recent call last)"))?;
    let body = &lines[start..];
    let last = body
        .iter()
        .rev()
        .find(|l| !l.starts_with(' ') && !l.trim().is_empty())?;
    let name = exception_name(last)?;
    let text = last.split_once(':').map_or("", |(_, t)| t);
    let place = body
        .iter()
        .rev()
        .find_map(|l| frame_place(l))
        .unwrap_or_default();
    let at: Arg = match place.rsplit_once(" line ") {
        Some((file, line)) => Message::new(key::RAISED_AT)
            .arg("file", file)
            .arg("line", line)
            .into(),
        None => "".into(),
    };
    let summary = match exception_hint(name, text, carried) {
        Some(hint) => Message::new(key::CAUSE_RAISES_HINT).arg("hint", hint),
        None => Message::new(key::CAUSE_RAISES),
    }
    .arg("name", name)
    .arg("at", at);
    // The traceback as Python printed it, from its header ("Exception in thread ..." included).
    let from = if start > 0 && lines[start - 1].starts_with("Exception in thread") {
        start - 1
    } else {
        start
    };
    let shown: Vec<&str> = lines[from..]
        .iter()
        .copied()
        .take(TRACEBACK_LINES)
        .collect();
    Some(Cause {
        detail: Some(shown.join("\n")),
        ..Cause::new(format!("exception:{name}@{place}"), summary)
    })
}

/// Bytes of a message that are enough to find it in a reply.
const LONG: usize = 32;

/// Lines of a traceback kept with its cause.
const TRACEBACK_LINES: usize = 16;

/// `UnicodeDecodeError` from `UnicodeDecodeError: 'utf-8' codec can't decode ...`.
fn exception_name(line: &str) -> Option<&str> {
    let name = line.split(':').next()?.trim();
    let looks_like = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && name.chars().next().is_some_and(|c| c.is_ascii_uppercase());
    looks_like.then_some(name)
}

/// `server.py line 12` from `  File "/tmp/x/server.py", line 12, in handle`.
fn frame_place(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (path, rest) = rest.split_once('"')?;
    let number: String = rest
        .trim_start_matches(", line ")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let file = path.rsplit('/').next().unwrap_or(path);
    // Frames inside Python's own library are not where the student's code went wrong.
    (!path.contains("/lib/python") && !number.is_empty()).then(|| format!("{file} line {number}"))
}

/// What to do about an exception the lesson's programs commonly raise (`text`: what follows its name).
pub fn exception_hint(name: &str, text: &str, carried: Carried) -> Option<Message> {
    let ascii = text.contains("'ascii' codec");
    let id = match (name, carried) {
        ("UnicodeDecodeError" | "UnicodeEncodeError", Carried::Stream | Carried::Datagram)
            if ascii =>
        {
            key::HINT_ASCII_CODEC
        }
        ("UnicodeDecodeError", Carried::File) => key::HINT_FILE_DECODE,
        ("UnicodeDecodeError", Carried::Datagram) => key::HINT_DATAGRAM_DECODE,
        ("UnicodeDecodeError", Carried::Stream) if text.contains("unexpected end of data") => {
            key::HINT_CUT_CHARACTER
        }
        ("UnicodeDecodeError", Carried::Stream) => key::HINT_NOT_UTF8,
        ("EOFError", _) => key::HINT_EOF_ERROR,
        ("ConnectionResetError", _) => key::HINT_CONNECTION_RESET,
        ("BrokenPipeError", _) => key::HINT_BROKEN_PIPE,
        ("UnicodeEncodeError", _) => key::HINT_ENCODE_ASCII,
        _ => return None,
    };
    Some(Message::new(id))
}

/// The first characters where `a` and `b` differ.
fn first_different_chars(a: &[u8], b: &[u8]) -> Option<(String, String)> {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let mut pairs = a.chars().zip(b.chars());
    pairs
        .find(|(x, y)| x != y)
        .map(|(x, y)| (x.to_string(), y.to_string()))
}

/// `":" U+003A (ASCII colon, byte 3a)`, `"：" U+FF1A (full-width colon, bytes ef bc 9a)`.
fn describe_char(c: String) -> Message {
    let ch = c.chars().next().unwrap_or_default();
    let name = match ch {
        ':' => Some(key::CHAR_ASCII_COLON),
        '：' => Some(key::CHAR_FULL_WIDTH_COLON),
        ' ' => Some(key::CHAR_SPACE),
        '\u{3000}' => Some(key::CHAR_FULL_WIDTH_SPACE),
        ',' => Some(key::CHAR_ASCII_COMMA),
        '，' => Some(key::CHAR_FULL_WIDTH_COMMA),
        _ => None,
    };
    let bytes: Vec<String> = c.bytes().map(|b| format!("{b:02x}")).collect();
    let bytes = Message::new(if bytes.len() == 1 {
        key::CHAR_BYTE
    } else {
        key::CHAR_BYTES
    })
    .arg("hex", bytes.join(" "));
    let described = match name {
        Some(name) => Message::new(key::CHAR_NAMED).arg("name", Message::new(name)),
        None => Message::new(key::CHAR_UNNAMED),
    };
    described
        .arg("char", c.replace('"', "\\\""))
        .arg("code", format!("{:04X}", ch as u32))
        .arg("bytes", bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn skip_line_ends(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b'\n' || c == b'\r').count();
    &b[n..]
}

fn trim_line_end(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ascii_colon_for_the_full_width_one_is_named_with_its_bytes() {
        let cause = wrong_prefix(
            "ECHO：hello".as_bytes(),
            b"ECHO:hello\n",
            "ECHO：".as_bytes(),
        )
        .expect("a wrong prefix");
        assert_eq!(
            cause.summary,
            "the replies start with \"ECHO:\" where \"ECHO：\" was expected: \":\" U+003A (ASCII \
             colon, byte 3a) is not \"：\" U+FF1A (full-width colon, bytes ef bc 9a)"
        );
        let other = wrong_prefix(
            "ECHO：你好".as_bytes(),
            "ECHO:你好".as_bytes(),
            "ECHO：".as_bytes(),
        )
        .unwrap();
        assert_eq!(cause.key, other.key, "the same prefix, the same cause");
        assert!(wrong_prefix(
            "ECHO：hi".as_bytes(),
            "ECHO：hi".as_bytes(),
            "ECHO：".as_bytes()
        )
        .is_none());
        assert!(wrong_prefix(
            "ECHO：hi".as_bytes(),
            b"nothing like it",
            "ECHO：".as_bytes()
        )
        .is_none());
        assert!(wrong_prefix("ECHO：hi".as_bytes(), b"something", "ECHO：".as_bytes()).is_none());
        // Two replies run together, and a long reply cut short: the prefix still shows.
        assert!(wrong_prefix(
            "ECHO：first".as_bytes(),
            b"ECHO:first\nsecond\n",
            "ECHO：".as_bytes()
        )
        .is_some());
        let long = "长".repeat(100);
        let expected = format!("ECHO：{long}");
        let actual = format!("ECHO:{}", &long[..150]);
        assert!(
            wrong_prefix(expected.as_bytes(), actual.as_bytes(), "ECHO：".as_bytes()).is_some()
        );
    }

    #[test]
    fn a_reply_without_the_message_edges_is_strip() {
        let prefix = "ECHO：".as_bytes();
        let cause = stripped("ECHO：  hi\t".as_bytes(), "ECHO：hi".as_bytes(), prefix).unwrap();
        assert!(cause.summary.contains("strip()"), "{}", cause.summary);
        assert!(stripped("ECHO：hi".as_bytes(), "ECHO：hi".as_bytes(), prefix).is_none());
    }

    #[test]
    fn nul_bytes_after_a_reply_are_padding() {
        let mut actual = "ECHO：hi\n".as_bytes().to_vec();
        actual.resize(1100, 0);
        let cause = nul_padding("ECHO：hi".as_bytes(), &actual).unwrap();
        assert!(cause.summary.contains("sizeof buf"), "{}", cause.summary);
        assert!(nul_padding(b"a\0", b"a\0").is_none());
    }

    #[test]
    fn a_thread_traceback_names_the_exception_its_place_and_the_fix() {
        let stderr = "Exception in thread Thread-1 (handle):\nTraceback (most recent call last):\n  \
                      File \"/usr/lib/python3.11/threading.py\", line 1038, in _bootstrap_inner\n    \
                      self.run()\n  File \"/tmp/sockspec-run-x/server.py\", line 15, in handle\n    \
                      text += data.decode()\n           ^^^^^^^^^^^^^\nUnicodeDecodeError: 'utf-8' \
                      codec can't decode byte 0xe4 in position 0: unexpected end of data\n";
        let cause = traceback(stderr.as_bytes(), Carried::Stream).unwrap();
        assert_eq!(cause.key, "exception:UnicodeDecodeError@server.py line 15");
        assert!(
            cause.summary.starts_with(
                "the program raises UnicodeDecodeError (server.py line 15): a character was cut"
            ),
            "{}",
            cause.summary
        );
        let detail = cause.detail.unwrap();
        assert!(detail.starts_with("Exception in thread"), "{detail}");
        assert!(traceback(b"just a warning\n", Carried::Stream).is_none());
    }
}
