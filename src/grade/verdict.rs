//! What a check found: its outcome, the evidence (expected vs actual, minimal input), and the wire transcript.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

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
    /// Where: `client 1`, `stdin`, `udp 127.0.0.1:40000`, ...
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
    /// The seed of a property check, to replay it with `--seed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub transcript: Vec<WireEvent>,
    pub transcript_dropped: usize,
    /// The program's exit status as text (`exit status 1`, `killed by signal 9`), when it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// True when the grader, not the program, failed.
    pub harness_fault: bool,
}

/// Bytes shown two ways: escaped text, and hex when they are not valid UTF-8.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub text: String,
    pub len: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Evidence {
    /// Large evidence (a file) is shown by its length, digest and first bytes; small evidence whole.
    pub const SHOWN_BYTES: usize = 240;

    pub fn of(bytes: &[u8]) -> Self {
        let shown = &bytes[..bytes.len().min(Self::SHOWN_BYTES)];
        let binary = std::str::from_utf8(shown).is_err()
            || shown
                .iter()
                .any(|&b| b.is_ascii_control() && !matches!(b, b'\n' | b'\r' | b'\t'));
        Evidence {
            text: crate::wire::escape_bytes(shown),
            len: bytes.len(),
            hex: binary.then(|| crate::wire::hex_dump(shown, 64)),
            sha256: (bytes.len() > Self::SHOWN_BYTES).then(|| crate::wire::sha256_hex(bytes)),
        }
    }
}
