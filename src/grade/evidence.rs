//! Evidence shown in reports: bytes as text (or hex when they are not), cut to a readable window.

use serde::{Deserialize, Serialize};

/// Bytes shown two ways: escaped text, and hex when they are not valid UTF-8. Large values are shown in
/// part: their first bytes, or the bytes around the first difference from the value they are compared to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    /// The shown bytes, escaped ([`crate::wire::escape_bytes`]).
    pub text: String,
    /// How many bytes the whole value has.
    pub len: usize,
    /// Offset in the whole value of the first shown byte.
    pub shown_from: usize,
    /// How many bytes `text` shows.
    pub shown_len: usize,
    /// A hex dump (offsets of the whole value) when the bytes are not text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    /// The digest of the whole value, when it is not shown whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Evidence {
    /// Large evidence (a file) is shown by its length, digest and first bytes; small evidence whole.
    pub const SHOWN_BYTES: usize = 240;
    /// Bytes in a hex dump.
    pub const HEX_BYTES: usize = 64;
    /// Bytes shown before and after the first difference of two values that are not shown whole.
    pub const BEFORE_DIFFERENCE: usize = 32;
    /// Bytes shown after the first difference.
    pub const AFTER_DIFFERENCE: usize = 32;

    /// The value from its start.
    pub fn of(bytes: &[u8]) -> Self {
        Self::window(bytes, 0, Self::SHOWN_BYTES, false)
    }

    /// Expected and actual values, and the offset of their first difference when they are shown around
    /// it: small text values are shown whole; anything else (a file, binary data) from
    /// [`Self::BEFORE_DIFFERENCE`] bytes before the first difference. When either needs a hex dump,
    /// both get one, so that the two can be read side by side.
    pub fn compared(expected: &[u8], actual: &[u8]) -> (Evidence, Evidence, Option<usize>) {
        let (mut head_expected, mut head_actual) = (Self::of(expected), Self::of(actual));
        let hex = head_expected.hex.is_some() || head_actual.hex.is_some();
        let whole = |e: &Evidence| e.shown_len == e.len;
        let at = first_difference(expected, actual);
        if at.is_none() || whole(&head_expected) && whole(&head_actual) {
            if hex {
                head_expected = Self::window(expected, 0, Self::SHOWN_BYTES, true);
                head_actual = Self::window(actual, 0, Self::SHOWN_BYTES, true);
            }
            return (head_expected, head_actual, None);
        }
        let at = at.unwrap_or_default();
        let from = at.saturating_sub(Self::BEFORE_DIFFERENCE);
        let len = Self::BEFORE_DIFFERENCE + Self::AFTER_DIFFERENCE;
        let shown = |hex| {
            (
                Self::window(expected, from, len, hex),
                Self::window(actual, from, len, hex),
            )
        };
        let (e, a) = shown(false);
        let (e, a) = if e.hex.is_some() != a.hex.is_some() {
            shown(true)
        } else {
            (e, a)
        };
        (e, a, Some(at))
    }

    /// At most `len` bytes from `from`; text is cut at character boundaries, binary data where asked.
    /// `hex`: a hex dump even of text.
    fn window(bytes: &[u8], from: usize, len: usize, hex: bool) -> Self {
        let from = from.min(bytes.len());
        let end = from.saturating_add(len).min(bytes.len());
        // A hex view asked for shows exactly the window, so that two values line up byte for byte.
        let (start, stop, binary) = match text_span(bytes, from, end).filter(|_| !hex) {
            Some((start, stop)) => (start, stop, false),
            None => (from, end, true),
        };
        Evidence {
            text: crate::wire::escape_bytes(&bytes[start..stop]),
            len: bytes.len(),
            shown_from: start,
            shown_len: stop - start,
            hex: binary.then(|| crate::wire::hex_dump_at(bytes, start, Self::HEX_BYTES)),
            sha256: (start > 0 || stop < bytes.len()).then(|| crate::wire::sha256_hex(bytes)),
        }
    }
}

/// The offset of the first byte where `a` and `b` differ (the shorter length when one is a prefix of the
/// other); `None` when they are equal.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (same < a.len() || same < b.len()).then_some(same)
}

/// The span of `bytes[from..end]` to show as text, moved to character boundaries (a character cut by
/// the window is left out, not taken for binary data); `None` when the bytes are not text.
fn text_span(bytes: &[u8], from: usize, end: usize) -> Option<(usize, usize)> {
    let is_continuation = |b: u8| b & 0xc0 == 0x80;
    let mut start = from;
    // A window that starts inside a character skips its continuation bytes (at most 3).
    if from > 0 {
        while start < end && start - from < 3 && is_continuation(bytes[start]) {
            start += 1;
        }
    }
    let stop = match std::str::from_utf8(&bytes[start..end]) {
        Ok(_) => end,
        // A character cut by the end of the window, not by the end of the value.
        Err(e) if e.error_len().is_none() && end < bytes.len() => start + e.valid_up_to(),
        Err(_) => return None,
    };
    let control = bytes[start..stop]
        .iter()
        .any(|&b| b.is_ascii_control() && !matches!(b, b'\n' | b'\r' | b'\t'));
    (!control).then_some((start, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_inside_a_character_keeps_the_text_as_text() {
        // 81 three-byte characters: 243 bytes, so 240 ends exactly on a boundary; one more ASCII byte
        // first puts the cut inside the 80th character.
        let text = format!("a{}", "你".repeat(81));
        let e = Evidence::of(text.as_bytes());
        assert!(e.hex.is_none(), "taken for binary: {e:?}");
        assert_eq!(e.text, format!("a{}", "你".repeat(79)));
        assert_eq!((e.shown_from, e.shown_len, e.len), (0, 238, 244));
        assert!(e.sha256.is_some(), "a value not shown whole has its digest");
    }

    #[test]
    fn a_value_that_ends_inside_a_character_is_binary() {
        let e = Evidence::of(&"你好".as_bytes()[..4]);
        assert!(e.hex.is_some(), "{e:?}");
        assert_eq!(e.text, "你\\xe5");
    }

    #[test]
    fn a_hex_dump_counts_the_bytes_left_in_the_whole_value() {
        let bytes: Vec<u8> = (0..1023u32).map(|i| (i * 7 % 256) as u8).collect();
        let e = Evidence::of(&bytes);
        let hex = e.hex.expect("binary data has a hex dump");
        assert!(
            hex.ends_with(&format!("... {} more bytes\n", 1023 - Evidence::HEX_BYTES)),
            "{hex}"
        );
    }

    #[test]
    fn files_are_shown_around_their_first_difference() {
        let expected: Vec<u8> = (0..1023u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut actual = expected.clone();
        actual[700] = b'\n';
        let (e, a, at) = Evidence::compared(&expected, &actual);
        assert_eq!(at, Some(700));
        for shown in [&e, &a] {
            assert_eq!((shown.shown_from, shown.shown_len), (668, 64));
            let hex = shown.hex.as_deref().expect("binary");
            assert!(
                hex.starts_with("0000029c  "),
                "offsets of the whole file: {hex}"
            );
            assert!(hex.ends_with("... 291 more bytes\n"), "{hex}");
        }
        assert!(a.hex.unwrap().contains(" 0a "));
    }

    #[test]
    fn a_cut_file_is_shown_at_its_end() {
        let expected = vec![b'x'; 1000];
        let (e, a, at) = Evidence::compared(&expected, &expected[..900]);
        assert_eq!(at, Some(900));
        assert_eq!((e.shown_from, e.shown_len), (868, 64));
        assert_eq!((a.shown_from, a.shown_len), (868, 32));
    }

    #[test]
    fn a_window_inside_chinese_text_starts_and_ends_on_characters() {
        let expected = "你好".repeat(100);
        let mut changed = expected.clone();
        changed.replace_range(300..303, "好");
        let (e, a, _) = Evidence::compared(expected.as_bytes(), changed.as_bytes());
        assert_eq!(
            (e.shown_from, e.shown_len),
            (270, 60),
            "whole characters from byte 268 to 332"
        );
        assert!(e.hex.is_none() && a.hex.is_none(), "both are text");
        assert!(e.text.chars().all(|c| c == '你' || c == '好'), "{}", e.text);
    }

    #[test]
    fn text_against_binary_lines_up_in_hex() {
        let expected = "你好".repeat(100);
        let mut actual = expected.clone().into_bytes();
        actual[301] = b'!';
        let (e, a, at) = Evidence::compared(expected.as_bytes(), &actual);
        assert_eq!(at, Some(301));
        // The broken character makes the actual bytes binary: both get the same hex view, the same
        // bytes from the same offset, so that they line up.
        assert_eq!((e.shown_from, e.shown_len), (269, 64));
        assert_eq!((a.shown_from, a.shown_len), (269, 64));
        assert!(e.text.contains("你好你好"), "{}", e.text);
        assert!(a.hex.is_some() && e.hex.is_some(), "{e:?} {a:?}");
        assert_eq!(
            e.hex.as_deref().unwrap().lines().next().map(|l| &l[..8]),
            a.hex.as_deref().unwrap().lines().next().map(|l| &l[..8]),
            "the same offsets"
        );
    }

    #[test]
    fn short_values_get_the_same_hex_view_when_one_needs_it() {
        let (e, a, at) = Evidence::compared("ECHO：hi".as_bytes(), "ECHO：hi\n\0\0\0".as_bytes());
        assert_eq!(at, None, "short values are shown whole");
        assert!(e.hex.is_some() && a.hex.is_some(), "{e:?} {a:?}");
    }

    #[test]
    fn short_replies_are_shown_whole() {
        let (e, a, at) = Evidence::compared("ECHO：你好".as_bytes(), b"ECHO:hi\n");
        assert_eq!(at, None);
        assert_eq!(
            (e.text.as_str(), a.text.as_str()),
            ("ECHO：你好", "ECHO:hi\\n")
        );
        assert!(e.sha256.is_none() && a.hex.is_none());
    }

    #[test]
    fn first_difference_of_equal_and_prefixed_values() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
        assert_eq!(first_difference(b"abc", b"axc"), Some(1));
    }
}
