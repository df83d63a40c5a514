//! Generated inputs: messages for property checks, long texts and files for fixed checks.
//!
//! The lesson is taught in Chinese, and its most common bug is decoding bytes in pieces: generated text
//! is mostly multi-byte. What `strip()` removes (spaces and tabs at the ends, line endings at the end
//! of a file) shows up often too, in fixed inputs as well as generated ones.

use proptest::strategy::{Just, Strategy};

use crate::grade::suite::Pattern;

/// Characters of generated words: printable ASCII, accented Latin, CJK ideographs and punctuation,
/// full-width forms, emoji (4 bytes in UTF-8). No control characters and no spaces: a word is a word.
const WORD_CHARS: &str =
    r"!-~\u{c0}-\u{ff}\u{3001}-\u{3011}\u{4e00}-\u{9fa5}\u{ff01}-\u{ff5e}\u{1f600}-\u{1f64f}";

/// The most bytes a generated message has: the lesson's programs read with recv(1024).
pub const MAX_MESSAGE_BYTES: usize = 1000;

fn word() -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[{WORD_CHARS}]{{1,24}}"))
        .expect("the word pattern is a valid regex")
}

/// Whitespace between words: mostly one space, often two, or a tab. Shrinks to one space.
fn gap() -> impl Strategy<Value = &'static str> {
    proptest::prop_oneof![4 => Just(" "), 1 => Just("  "), 1 => Just("\t"), 1 => Just(" \t ")]
}

/// Whitespace at an end of a message: half the time none, else spaces or a tab. Shrinks to none.
fn edge() -> impl Strategy<Value = &'static str> {
    proptest::prop_oneof![3 => Just(""), 1 => Just(" "), 1 => Just("  "), 1 => Just("\t")]
}

/// Messages sent over a socket: 1 to 12 words of 1 to 24 characters, spaces and tabs between them and
/// often at the ends (a program that strips what it echoes changes the message), up to 1,000 bytes.
/// Words, not characters, are the unit so that shrinking (one word, then one character at a time, each
/// step a real exchange) reaches a minimal message in few steps.
pub fn message() -> impl Strategy<Value = String> {
    (edge(), words(), edge())
        .prop_map(|(lead, body, trail)| format!("{lead}{body}{trail}"))
        .prop_filter("at most 1000 bytes", |m| m.len() <= MAX_MESSAGE_BYTES)
}

/// Lines typed at a program's keyboard: as [`message`], without whitespace at the ends (a client that
/// trims what its user typed is not wrong for it).
pub fn typed_line() -> impl Strategy<Value = String> {
    words().prop_filter("at most 1000 bytes", |m| m.len() <= MAX_MESSAGE_BYTES)
}

fn words() -> impl Strategy<Value = String> {
    proptest::collection::vec((word(), gap()), 1..=12).prop_map(|words| {
        let mut text = String::new();
        for (i, (word, gap)) in words.iter().enumerate() {
            if i > 0 {
                text.push_str(gap);
            }
            text.push_str(word);
        }
        text
    })
}

/// Series of 1 to `max` generated messages (text with Chinese and ASCII words).
pub fn messages(max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(message(), 1..=max.max(1))
}

/// Series of 1 to `max` generated lines to type on a program's stdin (never empty: the lesson
/// stops at an empty line).
pub fn typed_lines(max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(typed_line(), 1..=max.max(1))
}

/// Binary files up to `max` bytes, as a size and a seed: shrinking searches the size (a few steps, each a
/// fresh program) instead of removing one byte at a time. The seed does not shrink: the contents of a
/// size are a prefix of the contents of any larger one, so a smaller failing file keeps the failing bytes.
pub fn binary(max: usize) -> impl Strategy<Value = Vec<u8>> {
    (0..=max, proptest::num::u64::ANY.no_shrink())
        .prop_map(|(size, seed)| file(size, Pattern::Random, seed))
}

/// Seeded pseudo-random numbers for generated contents (splitmix64: small, fast, the same everywhere).
pub struct Mix(u64);

impl Mix {
    /// A generator started at `seed`: the same seed gives the same numbers.
    pub fn new(seed: u64) -> Self {
        Mix(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Words of generated text: three Chinese ones for one ASCII one, so that a long text cut in chunks of
/// 1,024 bytes is cut inside characters.
const TEXT_WORDS: &[&str] = &[
    "套接字",
    "回声",
    "字节流",
    "数据包",
    "端口",
    "服务器",
    "客户端",
    "连接",
    "socket",
    "消息",
    "缓冲区",
    "循环",
    "stream",
    "环回",
    "线程",
    "编码",
    "解码",
    "port",
];

/// Printable text of exactly `len` bytes with no newline, mostly Chinese (3 bytes a character), never a
/// character cut: the last bytes are ASCII where a character would not fit.
pub fn text(len: usize, seed: u64) -> Vec<u8> {
    let mut mix = Mix::new(seed);
    let mut text = Vec::with_capacity(len);
    loop {
        let word = format!(
            "{}{} ",
            TEXT_WORDS[mix.below(TEXT_WORDS.len())],
            mix.below(100)
        );
        if text.len() + word.len() > len {
            break;
        }
        text.extend_from_slice(word.as_bytes());
    }
    text.resize(len, b'.');
    text
}

/// The bytes of a generated file.
pub fn file(size: usize, pattern: Pattern, seed: u64) -> Vec<u8> {
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
        Pattern::Text => lines(size, &mut mix, false),
        Pattern::Whitespace => lines(size, &mut mix, true),
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

/// What the whitespace pattern ends with: the bytes `strip()` removes from the end of a text file.
pub const WHITESPACE_END: &[u8] = b" \t  \r\n\n";

/// Text lines of exactly `size` bytes (UTF-8, never a character cut). With `whitespace`, lines start or
/// end with spaces and tabs, end with `\r\n` or `\n`, and the file starts with spaces and ends with
/// [`WHITESPACE_END`].
fn lines(size: usize, mix: &mut Mix, whitespace: bool) -> Vec<u8> {
    let (lead, end): (&[u8], &[u8]) = if whitespace {
        (b"  ", WHITESPACE_END)
    } else {
        (b"", b"")
    };
    if size <= lead.len() + end.len() {
        return [lead, end].concat()[..size].to_vec();
    }
    let body_len = size - lead.len() - end.len();
    let mut body = Vec::with_capacity(size);
    while body.len() < body_len {
        let mut line = String::new();
        if whitespace && mix.below(3) == 0 {
            line.push_str(["  ", "\t", " \t"][mix.below(3)]);
        }
        for i in 0..1 + mix.below(8) {
            if i > 0 {
                line.push(' ');
            }
            line.push_str(TEXT_WORDS[mix.below(TEXT_WORDS.len())]);
        }
        if whitespace && mix.below(3) == 0 {
            line.push_str([" ", "\t", "   "][mix.below(3)]);
        }
        line.push_str(if whitespace && mix.below(2) == 0 {
            "\r\n"
        } else {
            "\n"
        });
        body.extend_from_slice(line.as_bytes());
    }
    // Cut at a character boundary, then fill with ASCII to the exact size.
    let mut cut = body_len.min(body.len());
    while cut > 0 && cut < body.len() && body[cut] & 0xc0 == 0x80 {
        cut -= 1;
    }
    body.truncate(cut);
    body.resize(body_len, b'.');
    [lead, &body, end].concat()
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};

    #[test]
    fn generated_text_is_mostly_multi_byte_and_of_the_asked_length() {
        for len in [1, 2, 100, 4000, 65536] {
            let text = text(len, 7);
            assert_eq!(text.len(), len);
            assert!(!text.contains(&b'\n'));
            assert!(
                std::str::from_utf8(&text).is_ok(),
                "{len}: a character was cut"
            );
            assert_eq!(text, super::text(len, 7), "same seed, same text");
        }
        let long = String::from_utf8(text(65536, 1)).unwrap();
        let wide = long.chars().filter(|c| c.len_utf8() > 1).count();
        assert!(
            wide * 3 > long.len() / 2,
            "mostly multi-byte: {wide} wide characters"
        );
    }

    #[test]
    fn generated_messages_fit_a_recv_of_1024_and_often_hold_whitespace_and_chinese() {
        let mut runner = TestRunner::new(Config::default());
        let (mut edges, mut tabs, mut wide) = (0, 0, 0);
        for _ in 0..200 {
            let m = message().new_tree(&mut runner).unwrap().current();
            assert!(!m.is_empty() && m.len() <= MAX_MESSAGE_BYTES, "{m:?}");
            assert!(!m.contains(['\n', '\r']), "{m:?}");
            edges += usize::from(m.trim() != m);
            tabs += usize::from(m.contains('\t'));
            wide += usize::from(!m.is_ascii());
            let typed = typed_line().new_tree(&mut runner).unwrap().current();
            assert_eq!(typed.trim(), typed);
        }
        assert!(
            edges > 50 && tabs > 30 && wide > 150,
            "{edges} {tabs} {wide}"
        );
    }

    #[test]
    fn patterns_have_the_asked_size_and_their_character() {
        for pattern in [
            Pattern::Random,
            Pattern::AllBytes,
            Pattern::CrlfNul,
            Pattern::InvalidUtf8,
            Pattern::Text,
            Pattern::Whitespace,
        ] {
            for size in [0, 1, 5, 1023, 4096] {
                assert_eq!(file(size, pattern, 1).len(), size, "{pattern:?}");
            }
        }
        let all = file(4096, Pattern::AllBytes, 1);
        assert!((0..=255u8).all(|b| all.contains(&b)));
        assert!(std::str::from_utf8(&file(3000, Pattern::InvalidUtf8, 1)).is_err());
        let crlf = file(4096, Pattern::CrlfNul, 1);
        assert!(crlf.windows(2).any(|w| w == b"\r\n") && crlf.contains(&0));
        let spaced = file(700, Pattern::Whitespace, 1);
        assert!(spaced.starts_with(b"  ") && spaced.ends_with(WHITESPACE_END));
        assert!(std::str::from_utf8(&spaced).is_ok());
        assert!(std::str::from_utf8(&file(700, Pattern::Text, 1)).is_ok());
    }
}
