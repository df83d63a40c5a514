//! What a check found: its outcome, the evidence (expected vs actual, minimal input), and the wire transcript.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::localize::LocalizedCheck;
use super::suite::{Level, Visibility};
use crate::i18n::Message;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The program ran into one of its resource limits (processes, CPU time, memory, open files, file
    /// size), shown by evidence: what the check saw follows from that.
    Limit,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Timeout => "timeout",
            Outcome::Crash => "crash",
            Outcome::NotRun => "not-run",
            Outcome::Limit => "limit",
        }
    }
}

/// Why a check did not pass, with the evidence a person needs to see it.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub outcome: Option<Outcome>,
    pub message: String,
    /// `message` by its id and arguments, when it has one: so a report can show it in Chinese too.
    /// Boxed: a check's `Err` stays small.
    pub key: Option<Box<Message>>,
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

    /// A failure whose message has an id ([`crate::i18n::key`]): its English text is `message`.
    pub fn said(outcome: Outcome, message: Message) -> Self {
        Failure {
            outcome: Some(outcome),
            message: message.english(),
            key: Some(Box::new(message)),
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
}

pub type CheckResult<T = ()> = std::result::Result<T, Failure>;

/// Which way bytes went, seen from the program under test's peer (the grader).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Grader to program (over a socket, or typed on its stdin).
    Sent,
    /// Program to grader.
    Received,
    /// An event without bytes: connect, close, reset, exit.
    Event,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireEvent {
    /// Seconds since the check started.
    pub at: f64,
    /// Where: `client 1`, `stdin`, `udp 127.0.0.1:PORT`, ...
    pub channel: String,
    pub direction: Direction,
    /// The bytes (cut to [`Transcript::BYTES_PER_EVENT`]) or the event's description.
    #[serde(
        serialize_with = "serialize_bytes_as_text",
        deserialize_with = "deserialize_bytes_from_text"
    )]
    pub bytes: Vec<u8>,
    /// How many bytes there really were.
    pub len: usize,
}

fn serialize_bytes_as_text<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::wire::escape_bytes(bytes))
}

/// The inverse of [`serialize_bytes_as_text`], so a stored report gives back the bytes it was made from.
fn deserialize_bytes_from_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    Ok(crate::wire::unescape_bytes(&text))
}

/// A bounded record of what crossed the wire during one check, shared by every connection of the check.
#[derive(Debug, Clone)]
pub struct Transcript {
    inner: Arc<Mutex<TranscriptInner>>,
}

struct TranscriptInner {
    start: Instant,
    events: Vec<WireEvent>,
    dropped: usize,
    /// What writes events after they happened (the packet capture of `--packets`), asked to write
    /// out what it holds before the events are read. Held weakly: it lives with its launch.
    late: Vec<Weak<LateWriter>>,
}

/// See [`Transcript::late_writer`].
pub type LateWriter = dyn Fn() + Send + Sync;

impl std::fmt::Debug for TranscriptInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranscriptInner")
            .field("start", &self.start)
            .field("events", &self.events)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl Transcript {
    /// Events kept per check; later ones are counted, not stored.
    pub const MAX_EVENTS: usize = 400;
    /// Bytes kept per event.
    pub const BYTES_PER_EVENT: usize = 256;
    /// Events kept per channel of [`Transcript::event_at`] (captured segments): half the cap.
    pub const MAX_LATE_EVENTS: usize = Self::MAX_EVENTS / 2;

    pub fn new() -> Self {
        Transcript {
            inner: Arc::new(Mutex::new(TranscriptInner {
                start: Instant::now(),
                events: Vec::new(),
                dropped: 0,
                late: Vec::new(),
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

    /// An event that happened at `at` and is written only now (a captured segment): placed among the
    /// others by its time. One from before the transcript was last cleared is left out. One channel of
    /// such events keeps at most [`Self::MAX_LATE_EVENTS`], so that the grader's own events still fit
    /// when a check makes many connections.
    pub fn event_at(&self, at: Instant, channel: &str, what: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(since) = at.checked_duration_since(inner.start) else {
            return;
        };
        let on_channel = inner.events.iter().filter(|e| e.channel == channel).count();
        if inner.events.len() >= Self::MAX_EVENTS || on_channel >= Self::MAX_LATE_EVENTS {
            inner.dropped += 1;
            return;
        }
        let at = since.as_secs_f64();
        let place = inner.events.partition_point(|e| e.at <= at);
        inner.events.insert(
            place,
            WireEvent {
                at,
                channel: channel.to_string(),
                direction: Direction::Event,
                bytes: what.as_bytes()[..what.len().min(Self::BYTES_PER_EVENT)].to_vec(),
                len: what.len(),
            },
        );
    }

    /// Registers `writer`, called before the events are read ([`Transcript::take`],
    /// [`Transcript::snapshot`]) so that events it holds back are in. Held weakly: dropping the last
    /// `Arc` unregisters it.
    pub fn late_writer(&self, writer: &Arc<LateWriter>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.late.retain(|w| w.strong_count() > 0);
        inner.late.push(Arc::downgrade(writer));
    }

    /// Lets every late writer write out what it holds (without the lock: they record into this).
    fn catch_up(&self) {
        let writers: Vec<Arc<LateWriter>> = {
            let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            inner.late.iter().filter_map(Weak::upgrade).collect()
        };
        for write_out in writers {
            write_out();
        }
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
        self.catch_up();
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (inner.events.clone(), inner.dropped)
    }

    /// A copy of the events so far, to put back with [`Transcript::restore`].
    pub fn snapshot(&self) -> TranscriptSnapshot {
        self.catch_up();
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckReport {
    pub id: String,
    pub level: Level,
    pub required: bool,
    pub requirement: String,
    pub concept: String,
    pub points: f64,
    pub points_earned: f64,
    /// False for a check the suite says does not count toward the score (its points are shown, not summed).
    #[serde(default = "counts_by_default")]
    pub counts: bool,
    /// Who may see the check in an autograder's results (Gradescope's visibility), from the suite.
    #[serde(default)]
    pub visibility: Visibility,
    pub outcome: Outcome,
    pub message: String,
    /// `message` by its id and arguments, when the grader gave it one ([`crate::i18n::Message`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_key: Option<Message>,
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
    /// Set when the program used another address than the one it was given: a server listening
    /// elsewhere than on `{port}` (found through /proc all the same), a client or sender that connected
    /// or sent elsewhere than to `{host} {port}` (caught in its private network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_ignored: Option<AddressIgnored>,
    /// Requirement, concept and message in the report's language (`GradeReport::lang`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localized: Option<LocalizedCheck>,
}

/// What a program did at an address of its own choosing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressAction {
    /// A server listened (or bound its UDP socket) there.
    Listened,
    /// A client connected there.
    Connected,
    /// A sender sent datagrams there.
    Sent,
}

/// A program that listened, connected or sent elsewhere than at the address it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressIgnored {
    pub action: AddressAction,
    /// The `{host}` it was given (clients and senders; a server is given only a port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_host: Option<String>,
    /// The `{port}` it was given.
    pub given_port: u16,
    /// Where it listened, connected or sent instead (`192.168.1.100:54321`).
    pub used: String,
}

fn counts_by_default() -> bool {
    true
}

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
    pub const AFTER_DIFFERENCE: usize = 32;

    /// The value from its start.
    pub fn of(bytes: &[u8]) -> Self {
        Self::window(bytes, 0, Self::SHOWN_BYTES)
    }

    /// Expected and actual values, and the offset of their first difference when they are shown around
    /// it: small text values are shown whole; anything else (a file, binary data) from
    /// [`Self::BEFORE_DIFFERENCE`] bytes before the first difference.
    pub fn compared(expected: &[u8], actual: &[u8]) -> (Evidence, Evidence, Option<usize>) {
        let (head_expected, head_actual) = (Self::of(expected), Self::of(actual));
        let whole = |e: &Evidence| e.shown_len == e.len && e.hex.is_none();
        let Some(at) = first_difference(expected, actual) else {
            return (head_expected, head_actual, None);
        };
        if whole(&head_expected) && whole(&head_actual) {
            return (head_expected, head_actual, None);
        }
        let from = at.saturating_sub(Self::BEFORE_DIFFERENCE);
        let len = Self::BEFORE_DIFFERENCE + Self::AFTER_DIFFERENCE;
        (
            Self::window(expected, from, len),
            Self::window(actual, from, len),
            Some(at),
        )
    }

    /// At most `len` bytes from `from`; text is cut at character boundaries, binary data where asked.
    fn window(bytes: &[u8], from: usize, len: usize) -> Self {
        let from = from.min(bytes.len());
        let end = from.saturating_add(len).min(bytes.len());
        let (start, stop, binary) = match text_span(bytes, from, end) {
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
        let mut actual = expected.clone().into_bytes();
        actual[301] = b'!';
        let (e, a, at) = Evidence::compared(expected.as_bytes(), &actual);
        assert_eq!(at, Some(301));
        assert!(e.hex.is_none(), "{e:?}");
        assert_eq!(
            e.shown_from, 270,
            "the first whole character after byte 269"
        );
        assert_eq!(e.shown_len, 63);
        assert!(e.text.chars().all(|c| c == '你' || c == '好'), "{}", e.text);
        assert!(
            a.hex.is_some(),
            "the broken character makes the actual bytes binary"
        );
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
    fn late_events_take_their_place_by_time_and_half_the_cap_at_most() {
        let log = Transcript::new();
        let before = Instant::now();
        log.event("client 1", "connected");
        log.event_at(before, "tcp", "SYN");
        let (events, _) = log.take();
        let order: Vec<&str> = events.iter().map(|e| e.channel.as_str()).collect();
        assert_eq!(order, ["tcp", "client 1"]);
        for _ in 0..Transcript::MAX_EVENTS {
            log.event_at(Instant::now(), "tcp", "data");
        }
        log.event("client 1", "closed");
        let (events, dropped) = log.take();
        let tcp = events.iter().filter(|e| e.channel == "tcp").count();
        assert_eq!(tcp, Transcript::MAX_LATE_EVENTS);
        assert_eq!(
            dropped,
            Transcript::MAX_EVENTS + 1 - Transcript::MAX_LATE_EVENTS
        );
        assert_eq!(events.last().map(|e| e.channel.as_str()), Some("client 1"));
        log.clear();
        log.event_at(before, "tcp", "from before the clear");
        assert!(log.take().0.is_empty());
    }

    #[test]
    fn first_difference_of_equal_and_prefixed_values() {
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert_eq!(first_difference(b"abc", b"ab"), Some(2));
        assert_eq!(first_difference(b"abc", b"axc"), Some(1));
    }
}
