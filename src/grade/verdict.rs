//! What a check found: its outcome, the evidence (expected vs actual, minimal input), and the wire transcript.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::cause::Cause;
use super::localize::LocalizedCheck;
use super::suite::{Level, Visibility};
use crate::i18n::Message;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The check held.
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
    /// The outcome's name in reports and JSON (`pass`, `not-run`, ...).
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
    /// What kind of failure; `None` reads as [`Outcome::Fail`] (see [`Failure::outcome`]).
    pub outcome: Option<Outcome>,
    /// What went wrong, in English, for a person.
    pub message: String,
    /// `message` by its id and arguments, when it has one: so a report can show it in Chinese too.
    /// Boxed: a check's `Err` stays small.
    pub key: Option<Box<Message>>,
    /// The input that showed the failure (for property checks: shrunk to a minimal one).
    pub input: Option<Vec<u8>>,
    /// What the grader expected to see, when one exact answer was expected.
    pub expected: Option<Vec<u8>>,
    /// What the program actually sent or printed.
    pub actual: Option<Vec<u8>>,
    /// True when the grader itself broke (could not bind, could not write a temp file).
    pub harness: bool,
    /// True when the check already weighed the program's exit: the grader's classification
    /// (`Ctx::classify`) must not turn it into a crash.
    pub settled: bool,
    /// True when the failure could only be seen once a deadline had passed (silence, then evidence):
    /// like a timeout, it is not shrunk, since every shrinking step would wait out a deadline again.
    pub waited: bool,
    /// What the failure says beyond its outcome, when it says more (kept apart: most failures don't,
    /// and a failure travels by value through every check).
    pub about: Option<Box<About>>,
}

/// What a failure may say beyond its outcome and evidence.
#[derive(Debug, Clone, Default)]
pub struct About {
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
    /// The program closed (or reset) the connection: it may be ending, so its exit is worth waiting
    /// for before the verdict is given.
    pub closed: bool,
    /// The program was seen alive and waiting (every thread blocked, all it was sent read) when the
    /// failure was judged: it is not ending, so there is no exit to wait for.
    pub waiting: bool,
}

/// What a check learnt about how a server serves several clients; [`crate::grade::ServerMode`] is
/// judged from these, never from a check that failed for another reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shrinking {
    /// Runs of the program made to find a smaller failing input.
    pub runs: u32,
    /// Why shrinking stopped before the input was minimal, when it did; `None`: the input shown is the
    /// smallest failing one found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Failure {
    /// A wrong answer or behaviour.
    pub fn fail(message: impl Into<String>) -> Self {
        Failure {
            outcome: Some(Outcome::Fail),
            message: message.into(),
            ..Default::default()
        }
    }

    /// No answer by the deadline.
    pub fn timeout(message: impl Into<String>) -> Self {
        Failure {
            outcome: Some(Outcome::Timeout),
            message: message.into(),
            ..Default::default()
        }
    }

    /// The program died when it should not have.
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

    /// The message by its id and arguments; an English text without an id as it is (the `verbatim` id).
    pub fn said_message(&self) -> Message {
        match &self.key {
            Some(message) => (**message).clone(),
            None => super::verbatim(&self.message),
        }
    }

    /// Says `message` instead (its English text and its id together), the outcome and evidence kept:
    /// a message that wraps the one before takes it as an argument ([`Failure::said_message`]).
    pub fn reword(&mut self, message: Message) {
        self.message = message.english();
        self.key = Some(Box::new(message));
    }

    /// An earlier step made the check impossible (see [`Outcome::NotRun`]).
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

    /// The outcome, [`Outcome::Fail`] when none was set.
    pub fn outcome(&self) -> Outcome {
        self.outcome.unwrap_or(Outcome::Fail)
    }

    /// Attaches the input that showed the failure.
    pub fn with_input(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = Some(input.into());
        self
    }

    /// Attaches the expected bytes.
    pub fn with_expected(mut self, expected: impl Into<Vec<u8>>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Attaches the bytes the program actually produced.
    pub fn with_actual(mut self, actual: impl Into<Vec<u8>>) -> Self {
        self.actual = Some(actual.into());
        self
    }

    /// Marks a failure seen only after a deadline passed (see [`Failure::waited`]).
    pub fn after_waiting(mut self) -> Self {
        self.waited = true;
        self
    }

    /// What the failure says beyond its outcome (nothing, by default).
    pub fn about(&self) -> &About {
        static NOTHING: std::sync::OnceLock<About> = std::sync::OnceLock::new();
        self.about
            .as_deref()
            .unwrap_or_else(|| NOTHING.get_or_init(About::default))
    }

    /// What the failure says beyond its outcome, created empty on first use.
    pub fn about_mut(&mut self) -> &mut About {
        self.about.get_or_insert_with(Box::default)
    }

    /// Attaches the cause a report names once for the failures it explains.
    pub fn with_cause(mut self, cause: Cause) -> Self {
        self.about_mut().cause = Some(cause);
        self
    }

    /// Attaches how the server was serving its clients when the check failed.
    pub fn with_serving(mut self, serving: Serving) -> Self {
        self.about_mut().serving = Some(serving);
        self
    }

    /// Marks a failure seen when the program closed the connection (see [`About::closed`]).
    pub fn after_close(mut self) -> Self {
        self.about_mut().closed = true;
        self
    }

    /// Marks a failure seen while the program waited, alive (see [`About::waiting`]).
    pub fn while_waiting(mut self) -> Self {
        self.about_mut().waiting = true;
        self
    }

    /// Marks a failure to become ready; `how` is the same words for the same behaviour.
    pub fn not_ready(mut self, how: impl Into<String>) -> Self {
        self.about_mut().not_ready = Some(how.into());
        self
    }
}

/// What a check returns: `Err` holds why it did not pass.
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
/// One entry of a check's wire transcript: bytes sent or received, or an event.
pub struct WireEvent {
    /// Seconds since the check started.
    pub at: f64,
    /// Where: `client 1`, `stdin`, `udp 127.0.0.1:PORT`, ...
    pub channel: String,
    /// Which way the bytes went.
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

    /// An empty transcript whose clock starts now.
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

    /// Records bytes on `channel`; keeps the first [`Transcript::BYTES_PER_EVENT`] of them and
    /// counts, without storing, events past [`Transcript::MAX_EVENTS`].
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

    /// Records an event without bytes (`connected`, `closed`, `exit status 1`).
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

    /// Time since the transcript started (the check's clock).
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

    /// Puts back the events of an earlier [`Transcript::snapshot`], dropping those recorded since.
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
    /// The check's id in its suite.
    pub id: String,
    /// The lesson level the check belongs to.
    pub level: Level,
    /// Whether the suite marks the check as required.
    pub required: bool,
    /// What the check asks of the program, in the report's language.
    pub requirement: String,
    /// The socket concept the check exercises.
    pub concept: String,
    /// Points the check is worth.
    pub points: f64,
    /// Points earned: `points` when it passed, 0 otherwise.
    pub points_earned: f64,
    /// False for a check the suite says does not count toward the score (its points are shown, not summed).
    #[serde(default = "counts_by_default")]
    pub counts: bool,
    /// Who may see the check in an autograder's results (Gradescope's visibility), from the suite.
    #[serde(default)]
    pub visibility: Visibility,
    /// How the check ended.
    pub outcome: Outcome,
    /// What the grader saw, in English, for a person.
    pub message: String,
    /// `message` by its id and arguments, when the grader gave it one ([`crate::i18n::Message`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_key: Option<Message>,
    /// The deadline that applied to each answer, in seconds (timeouts name it).
    pub deadline_secs: f64,
    /// How long the check ran, in seconds.
    pub duration_secs: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The input that showed the failure (shrunk for property checks).
    pub input: Option<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// What the grader expected.
    pub expected: Option<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// What the program sent or printed.
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
    /// The bytes on the wire and the events, in order (at most [`Transcript::MAX_EVENTS`]).
    pub transcript: Vec<WireEvent>,
    /// Events left out of `transcript` once it was full.
    pub transcript_dropped: usize,
    /// The program's exit status as text (`exit status 1`, `killed by signal 9`), when it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// The last bytes (at most 2 KiB) the program wrote to stdout, as lossy UTF-8.
    pub stdout_tail: String,
    /// The last bytes (at most 2 KiB) the program wrote to stderr, as lossy UTF-8.
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
    /// The limit the program went over, on the kernel's evidence ("the process limit of 128"), when it
    /// did (not serialized: the message says it).
    #[serde(skip)]
    pub over_limit: Option<String>,
    /// What explains this check's failure, before the grade groups the causes (not serialized: the
    /// report's `causes` and `cause` say it).
    #[serde(skip)]
    pub diagnosis: Option<Cause>,
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
    /// What the program did at the wrong address.
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

pub use super::evidence::{first_difference, Evidence};
