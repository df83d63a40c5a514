//! How a program's printed output is judged: did it print the text, print it wrongly (the bytes object
//! Python's `print(data)` shows), or print only a part of it.

use crate::i18n::{key, Message};

/// True when `text` shows in `out` the way the comparison asks, and not only inside a printed bytes
/// object (`b'hello'` holds `hello`, but a person reading it sees a bytes object, not the text).
///
/// Lenient: anywhere in the output, around the text's own edge whitespace (a printed line's trailing
/// spaces cannot be seen). Strict: exactly a line of its own.
pub fn printed(out: &[u8], text: &[u8], strict: bool) -> bool {
    let shown = |out: &[u8]| {
        if strict {
            out.split(|&b| b == b'\n')
                .any(|line| line.strip_suffix(b"\r").unwrap_or(line) == text)
        } else {
            contains(out, text) || contains(out, text.trim_ascii())
        }
    };
    shown(&without_repr(out, text))
}

/// True when a start of `text` (a third of it, from 4 to 64 bytes) shows on a line of `out` without the
/// rest of the text: a message printed only in part (cut by a single `recv()`, or a small buffer).
pub fn partly_printed(out: &[u8], text: &[u8]) -> bool {
    printed_part(out, text).is_some()
}

/// How many of the first bytes of `text` show in `out` when only a part of it does (see
/// [`partly_printed`]).
pub fn printed_part(out: &[u8], text: &[u8]) -> Option<usize> {
    let start = (text.len() / 3).clamp(4, 64);
    if text.len() <= start || contains(out, text) || !contains(out, &text[..start]) {
        return None;
    }
    // Showing a start of the text shows every shorter start: search the longest.
    let (mut shown, mut missing) = (start, text.len());
    while missing - shown > 1 {
        let mid = shown + (missing - shown) / 2;
        if contains(out, &text[..mid]) {
            shown = mid;
        } else {
            missing = mid;
        }
    }
    Some(shown)
}

/// Says how `out` shows `text` in a wrong form, if it does: Python printing the bytes object that
/// `recv()` returned (`b'\xe4\xbd\xa0'`, or `b'hello'` for ASCII) instead of the decoded text.
pub fn misprinted(out: &[u8], text: &[u8]) -> Option<Message> {
    let literal = bytes_literal(text);
    if !contains(out, literal.as_bytes()) {
        return None;
    }
    let rest = without_repr(out, text);
    if contains(&rest, text) {
        return None;
    }
    let mut shown: String = literal.chars().take(48).collect();
    if shown.len() < literal.len() {
        shown.push('…');
    } else {
        shown.push(python_quote(text));
    }
    Some(Message::new(key::SHOWS_BYTES_OBJECT).arg("shown", shown))
}

/// `out` with every printed bytes object holding `text` taken out.
fn without_repr(out: &[u8], text: &[u8]) -> Vec<u8> {
    let literal = bytes_literal(text);
    let literal = literal.as_bytes();
    let mut rest = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        if out[i..].starts_with(literal) && !literal.is_empty() {
            i += literal.len();
        } else {
            rest.push(out[i]);
            i += 1;
        }
    }
    rest
}

/// The start of Python's `repr()` of a bytes object holding `text` (`b'...`), without its closing
/// quote: what `recv()` returned often holds the line ending too (`b'hi\n'`).
fn bytes_literal(text: &[u8]) -> String {
    let quote = python_quote(text);
    format!("b{quote}{}", python_bytes_repr(text))
}

/// The quote Python's `repr()` puts around bytes: `'`, unless they hold a `'` and no `"`.
fn python_quote(text: &[u8]) -> char {
    if text.contains(&b'\'') && !text.contains(&b'"') {
        '"'
    } else {
        '\''
    }
}

/// The body (between the quotes) of Python's `repr()` of a bytes object holding `text`.
fn python_bytes_repr(text: &[u8]) -> String {
    let quote = python_quote(text);
    let mut repr = String::with_capacity(text.len() * 4);
    for &b in text {
        match b {
            b'\\' => repr.push_str("\\\\"),
            b'\'' if quote == '\'' => repr.push_str("\\'"),
            b'\t' => repr.push_str("\\t"),
            b'\n' => repr.push_str("\\n"),
            b'\r' => repr.push_str("\\r"),
            0x20..=0x7e => repr.push(b as char),
            _ => repr.push_str(&format!("\\x{b:02x}")),
        }
    }
    repr
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_printed_bytes_object_is_told_apart_from_the_text() {
        let out = "from ('127.0.0.1', 5) : b'\\xe4\\xbd\\xa0\\xe5\\xa5\\xbd'\n".as_bytes();
        let why = misprinted(out, "你好".as_bytes())
            .expect("the repr is recognised")
            .english();
        assert!(why.contains("decode()"), "{why}");
        assert!(!printed(out, "你好".as_bytes(), false));
        // The text itself is not a misprint.
        assert_eq!(
            misprinted("收到：你好\n".as_bytes(), "你好".as_bytes()),
            None
        );
        assert_eq!(misprinted(b"something else\n", "你好".as_bytes()), None);
    }

    #[test]
    fn a_printed_bytes_object_of_ascii_text_is_a_misprint_too() {
        let out = b"client: b'hello'\n";
        assert!(misprinted(out, b"hello").is_some());
        assert!(!printed(out, b"hello", false));
        // recv() returned the line with its newline.
        let out = b"client: b'hello\\n'\n";
        let why = misprinted(out, b"hello").expect("a misprint").english();
        assert!(why.contains("b'hello'"), "{why}");
        assert!(!printed(out, b"hello", false));
        // The text printed as text as well: not a misprint.
        assert!(printed(b"b'hello'\nhello\n", b"hello", false));
    }

    #[test]
    fn lenient_printing_does_not_see_edge_whitespace() {
        assert!(printed(b"got: hi there\n", b"  hi there\t", false));
        assert!(!printed(b"got: hi there\n", b"  hi there\t", true));
    }

    #[test]
    fn a_part_is_a_start_of_the_text_without_its_end() {
        let text = b"abcdefghijklmnopqrstuvwxyz";
        assert!(partly_printed(b"got abcdefghijkl ('127.0.0.1', 5)\n", text));
        assert_eq!(
            printed_part(b"got abcdefghijkl ('127.0.0.1', 5)\n", text),
            Some(12)
        );
        assert!(!partly_printed(b"abcdefg\n", text), "less than a third");
        assert!(!partly_printed(b"abcdefghijklmnopqrstuvwxyz\n", text));
        assert!(!partly_printed(b"", text));
    }

    #[test]
    fn the_repr_escapes_as_python_does() {
        assert_eq!(
            python_bytes_repr(b"a'b\"\\c\t\r\n\x00\x7f"),
            "a\\'b\"\\\\c\\t\\r\\n\\x00\\x7f"
        );
        // With a ' and no ", Python quotes with " and leaves the ' alone.
        assert_eq!(
            python_bytes_repr("it's 你".as_bytes()),
            "it's \\xe4\\xbd\\xa0"
        );
    }
}
