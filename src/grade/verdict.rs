//! What a check found: its outcome, the evidence (expected vs actual, minimal input), and the wire transcript.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::cause::Cause;
use super::suite::Level;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    /// A wrong answer or behaviour.
    Fail,
    /// No answer by the deadline.
    Timeout,
    /// The program died (non-zero status or a signal) when it should not have.
    Crash,
    /// An earlier step made the check impossible; never the program's fault alone.
    NotRun,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Timeout => "timeout",
            Outcome::Crash => "crash",
            Outcome::NotRun => "not-run",
        }
    }
}

/// Why a check did not pass, with the evidence a person needs to see it.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub outcome: Option<Outcome>,
    pub message: String,
    /// The input that showed the failure (for property checks: shrunk to a minimal one).
    pub input: Option<Vec<u8>>,
    pub expected: Option<Vec<u8>>,
    pub actual: Option<Vec<u8>>,
    /// True when the grader itself broke (could not bind, could not write a temp file).
    pub harness: bool,
    /// True when the check already weighed the program's exit: [`crate::grade::ctx::Ctx::classify`]
    /// must not turn it into a crash.
    pub settled: bool,
    /// True when the failure could only be seen once a deadline had passed (silence, then evidence):
    /// like a timeout, it is not shrunk, since every shrinking step would wait out a deadline again.
    pub waited: bool,
    /// The root cause, when the check could tell it (a printed bytes object, NUL padding); others are
    /// found from the evidence once the check is over ([`super::cause::diagnose`]).
    pub cause: Option<Cause>,
    /// Set when the program never became ready (did not listen, did not connect): how, in words that
    /// are the same for the same behaviour, so that two checks in a row can be seen to fail alike.
    pub not_ready: Option<String>,
    /// What the check learnt about how a server serves its clients (for the server mode).
    pub serving: Option<Serving>,
    /// For a property check: how the shrinking of the failing input went.
    pub shrinking: Option<Shrinking>,
}

/// What a check learnt about how a server serves several clients; [`crate::grade::ServerMode`] is
/// judged from these, never from a check that failed for another reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Serving {
    /// Clients were served while another stayed connected.
    AtOnce,
    /// A client was not served while another stayed connected.
    NotAtOnce,
    /// Clients were served one after another.
    InTurn,
    /// A client was served only once the one before it had left: one after another, never at once.
    OnlyInTurn,
    /// The program served one client, then exited.
    SingleClient,
}

/// How the shrinking of a property check's failing input went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shrinking {
    /// Runs of the program made to find a smaller failing input.
    pub runs: u32,
    /// Why shrinking stopped before the input was minimal, when it did; `None`: the input shown is the
    /// smallest failing one found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Failure {
    pub fn fail(message: impl Into<String>) -> Self {
        Failure {
            outcome: Some(Outcome::Fail),
            message: message.into(),
            ..Default::default()
        }
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Failure {
            outcome: Some(Outcome::Timeout),
            message: message.into(),
            ..Default::default()
        }
    }

    pub fn crash(message: impl Into<String>) -> Self {
        Failure {
            outcome: Some(Outcome::Crash),
            message: message.into(),
            ..Default::default()
        }
    }

    pub fn not_run(message: impl Into<String>) -> Self {
        Failure {
            outcome: Some(Outcome::NotRun),
            message: message.into(),
            ..Default::default()
        }
    }

    /// A fault of the grader, not of the program: reported as not-run and makes `grade` exit 2.
    pub fn harness(message: impl Into<String>) -> Self {
        Failure {
            harness: true,
            ..Failure::not_run(message)
        }
    }

    /// Marks the verdict as final, the program's exit already taken into account.
    pub fn settled(mut self) -> Self {
        self.settled = true;
        self
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome.unwrap_or(Outcome::Fail)
    }

    pub fn with_input(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = Some(input.into());
        self
    }

    pub fn with_expected(mut self, expected: impl Into<Vec<u8>>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    pub fn with_actual(mut self, actual: impl Into<Vec<u8>>) -> Self {
        self.actual = Some(actual.into());
        self
    }

    /// Marks a failure seen only after a deadline passed (see [`Failure::waited`]).
    pub fn after_waiting(mut self) -> Self {
        self.waited = true;
        self
    }

    pub fn with_cause(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self
    }

    pub fn with_serving(mut self, serving: Serving) -> Self {
        self.serving = Some(serving);
        self
    }

    /// Marks a failure to become ready; `how` is the same words for the same behaviour.
    pub fn not_ready(mut self, how: impl Into<String>) -> Self {
        self.not_ready = Some(how.into());
        self
    }
}

pub type CheckResult<T = ()> = std::result::Result<T, Failure>;

/// Which way bytes went, seen from the program under test's peer (the grader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Grader to program (over a socket, or typed on its stdin).
    Sent,
    /// Program to grader.
    Received,
    /// An event without bytes: connect, close, reset, exit.
    Event,
}

#[derive(Debug, Clone, Serialize)]
pub struct WireEvent {
    /// Seconds since the check started.
    pub at: f64,
    /// Where: `client 1`, `stdin`, `udp 127.0.0.1:PORT`, ...
    pub channel: String,
    pub direction: Direction,
    /// The bytes (cut to [`Transcript::BYTES_PER_EVENT`]) or the event's description.
    #[serde(serialize_with = "serialize_bytes_as_text")]
    pub bytes: Vec<u8>,
    /// How many bytes there really were.
    pub len: usize,
}

fn serialize_bytes_as_text<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::wire::escape_bytes(bytes))
}

/// A bounded record of what crossed the wire during one check, shared by every connection of the check.
#[derive(Debug, Clone)]
pub struct Transcript {
    inner: Arc<Mutex<TranscriptInner>>,
}

#[derive(Debug)]
struct TranscriptInner {
    start: Instant,
    events: Vec<WireEvent>,
    dropped: usize,
}

impl Transcript {
    /// Events kept per check; later ones are counted, not stored.
    pub const MAX_EVENTS: usize = 400;
    /// Bytes kept per event.
    pub const BYTES_PER_EVENT: usize = 256;

    pub fn new() -> Self {
        Transcript {
            inner: Arc::new(Mutex::new(TranscriptInner {
                start: Instant::now(),
                events: Vec::new(),
                dropped: 0,
            })),
        }
    }

    pub fn record(&self, channel: &str, direction: Direction, bytes: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.events.len() >= Self::MAX_EVENTS {
            inner.dropped += 1;
            return;
        }
        let at = inner.start.elapsed().as_secs_f64();
        inner.events.push(WireEvent {
            at,
            channel: channel.to_string(),
            direction,
            bytes: bytes[..bytes.len().min(Self::BYTES_PER_EVENT)].to_vec(),
            len: bytes.len(),
        });
    }

    pub fn event(&self, channel: &str, what: &str) {
        self.record(channel, Direction::Event, what.as_bytes());
    }

    /// Records bytes that continue the last event when it is of the same channel and direction (a
    /// program's output, which arrives in pieces): a program that prints without end takes one event,
    /// not the whole transcript.
    pub fn record_merged(&self, channel: &str, direction: Direction, bytes: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(last) = inner.events.last_mut() {
            if last.channel == channel && last.direction == direction {
                let room = Self::BYTES_PER_EVENT.saturating_sub(last.bytes.len());
                last.bytes
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
                last.len += bytes.len();
                return;
            }
        }
        drop(inner);
        self.record(channel, direction, bytes);
    }

    pub fn elapsed(&self) -> Duration {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .start
            .elapsed()
    }

    /// The events so far and how many were dropped past the cap.
    pub fn take(&self) -> (Vec<WireEvent>, usize) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (inner.events.clone(), inner.dropped)
    }

    /// A copy of the events so far, to put back with [`Transcript::restore`].
    pub fn snapshot(&self) -> TranscriptSnapshot {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        TranscriptSnapshot {
            events: inner.events.clone(),
            dropped: inner.dropped,
        }
    }

    pub fn restore(&self, snapshot: TranscriptSnapshot) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.events = snapshot.events;
        inner.dropped = snapshot.dropped;
    }

    /// Forgets everything so far (a property check keeps only the replay of its minimal case).
    pub fn clear(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.events.clear();
        inner.dropped = 0;
        inner.start = Instant::now();
    }
}

/// The events of a transcript at one moment.
#[derive(Debug, Clone)]
pub struct TranscriptSnapshot {
    events: Vec<WireEvent>,
    dropped: usize,
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript::new()
    }
}

/// Everything known about one check after it ran: what the reports print.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub id: String,
    pub level: Level,
    pub required: bool,
    pub requirement: String,
    pub concept: String,
    pub points: f64,
    pub points_earned: f64,
    pub outcome: Outcome,
    pub message: String,
    /// The deadline that applied to each answer, in seconds (timeouts name it).
    pub deadline_secs: f64,
    pub duration_secs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<Evidence>,
    /// The offset of the first byte where actual differs from expected, when both are shown around it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differs_at: Option<usize>,
    /// For a property check: the run's seed, which with `--only ID` gives the same cases and the same
    /// shrunk input (the check's own generator seed is derived from it and the id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// For a check that did not pass: the command line that runs it alone with the same inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    pub transcript: Vec<WireEvent>,
    pub transcript_dropped: usize,
    /// The program's exit status as text (`exit status 1`, `killed by signal 9`), when it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// True when the grader, not the program, failed.
    pub harness_fault: bool,
    /// Set when the server did not listen on the `{port}` it was given (found through /proc all the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_ignored: Option<PortIgnored>,
    /// The id of the report's cause (`C1`, ...) that explains this check, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// What this check learnt about how the server serves its clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serving: Option<Serving>,
    /// For a failed property check: how the shrinking went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shrinking: Option<Shrinking>,
    /// How the program failed to become ready, when it did (not serialized: the message says it).
    #[serde(skip)]
    pub not_ready: Option<String>,
}

/// A server that listened elsewhere than on the `{port}` it was given.
#[derive(Debug, Clone, Serialize)]
pub struct PortIgnored {
    /// The `{port}` given on its command line.
    pub given: u16,
    /// Where it listened instead.
    pub listened_on: String,
}

/// Bytes shown two ways: escaped text, and hex when they are not valid UTF-8. Large values are shown in
/// part: their first bytes, or the bytes around the first difference from the value they are compared to.
#[derive(Debug, Clone, Serialize)]
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
