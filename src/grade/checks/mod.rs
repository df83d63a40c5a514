//! The kinds of check, one module per kind of program the grader plays against.

mod client;
mod file;
mod server;
mod udp;

use std::cell::RefCell;
use std::fmt::Debug;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use super::ctx::Ctx;
use super::suite::{Program, Run};
use super::verdict::{CheckResult, Failure};

/// Runs the check that `ctx` holds.
pub fn run(ctx: &mut Ctx) -> CheckResult {
    let run = ctx.check.run.clone();
    let program = ctx.suite.program;
    match (&run, program) {
        (
            Run::Exchange {
                messages,
                generate_bytes,
                write,
            },
            _,
        ) => {
            let messages = match generate_bytes {
                Some(n) => vec![generated_text(*n, ctx.seed)],
                None => messages.iter().map(|m| m.as_bytes().to_vec()).collect(),
            };
            server::exchange(ctx, &messages, *write)
        }
        (
            Run::PropertyExchange {
                cases,
                max_messages,
            },
            _,
        ) => server::property_exchange(ctx, *cases, *max_messages),
        (Run::SurviveClose { how }, _) => server::survive_close(ctx, *how),
        (Run::ClientsInTurn { clients }, _) => server::clients_in_turn(ctx, *clients),
        (Run::IdleFirstClient, _) => server::idle_first_client(ctx),
        (
            Run::ManyClients {
                clients,
                wave,
                messages,
            },
            _,
        ) => server::many_clients(ctx, *clients, *wave, *messages),
        (Run::ServerExitOnClose, _) => server::exit_on_client_close(ctx),
        (Run::ChatTurns { turns }, Program::TcpServer) => server::chat_turns(ctx, &as_bytes(turns)),
        (Run::PropertyChatTurns { cases, max_turns }, Program::TcpServer) => {
            property_chat_turns(ctx, *cases, *max_turns, server::chat_turns)
        }
        (Run::ChatTurns { turns }, _) => client::chat_turns(ctx, &as_bytes(turns)),
        (Run::PropertyChatTurns { cases, max_turns }, _) => {
            property_chat_turns(ctx, *cases, *max_turns, client::chat_turns)
        }
        (
            Run::ClientLines {
                lines,
                reply_slices,
            },
            _,
        ) => {
            let lines: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
            client::echo_lines(ctx, &lines, *reply_slices)
        }
        (Run::PropertyClientLines { cases, max_lines }, _) => {
            client::property_echo_lines(ctx, *cases, *max_lines)
        }
        (Run::ClientExit { how }, Program::UdpSender) => udp::sender_exit(ctx, *how),
        (Run::ClientExit { how }, _) => client::exit(ctx, *how),
        (
            Run::File {
                size,
                pattern,
                slice,
                pause_ms,
            },
            _,
        ) => {
            let content = file::generate(*size, *pattern, ctx.seed);
            let pacing =
                slice.map(|s| (s, std::time::Duration::from_millis(pause_ms.unwrap_or(0))));
            file::transfer(ctx, &content, pacing)
        }
        (Run::PropertyFile { cases, max_size }, _) => file::property(ctx, *cases, *max_size),
        (
            Run::Datagrams {
                messages,
                generate_bytes,
                senders,
            },
            _,
        ) => {
            let messages = match generate_bytes {
                Some(n) => vec![generated_text(*n, ctx.seed)],
                None => messages.iter().map(|m| m.as_bytes().to_vec()).collect(),
            };
            udp::datagrams(ctx, &messages, *senders)
        }
        (
            Run::PropertyDatagrams {
                cases,
                max_messages,
            },
            _,
        ) => udp::property_datagrams(ctx, *cases, *max_messages),
        (Run::SenderLines { lines }, _) => {
            let lines: Vec<Vec<u8>> = lines.iter().map(|l| l.as_bytes().to_vec()).collect();
            udp::sender_lines(ctx, &lines)
        }
        (Run::PropertySenderLines { cases, max_lines }, _) => {
            udp::property_sender_lines(ctx, *cases, *max_lines)
        }
        // A teacher's own protocol, scripted in the suite file: its own module.
        (Run::Script { steps }, _) => crate::grade::script::play(ctx, steps),
    }
}

/// A chat conversation: (client line, server line) per turn.
type Turns = [(Vec<u8>, Vec<u8>)];

/// Generated chat conversations, for either side: `turns` plays one on a fresh program.
fn property_chat_turns(
    ctx: &mut Ctx,
    cases: u32,
    max_turns: usize,
    turns: fn(&mut Ctx, &Turns) -> CheckResult,
) -> CheckResult {
    let strategy = proptest::collection::vec((message(), message()), 1..=max_turns.max(1));
    property(
        ctx,
        cases,
        strategy,
        |t| show_turns(t),
        |ctx, generated| turns(ctx, &as_bytes(generated)),
    )
}

/// Turns shown as the conversation: `client: ...` / `server: ...` lines.
fn show_turns(turns: &[(String, String)]) -> Vec<u8> {
    turns
        .iter()
        .map(|(c, s)| format!("client: {c}\nserver: {s}\n"))
        .collect::<String>()
        .into_bytes()
}

fn as_bytes(turns: &[(String, String)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    turns
        .iter()
        .map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec()))
        .collect()
}

/// Characters of generated messages: printable ASCII, accented Latin, CJK ideographs and punctuation,
/// full-width forms, emoji (4 bytes in UTF-8). No control characters: a message is one line.
const MESSAGE_CHARS: &str =
    r"!-~\u{c0}-\u{ff}\u{3001}-\u{3011}\u{4e00}-\u{9fa5}\u{ff01}-\u{ff5e}\u{1f600}-\u{1f64f}";

/// The most bytes a generated message has: the lesson's programs read with recv(1024).
pub const MAX_MESSAGE_BYTES: usize = 1000;

/// Printable messages of up to 1,000 bytes, made of 1 to 12 words of 1 to 24 characters, with no space
/// at either end (a course program that strips its input is not wrong for that). Words, not characters,
/// are the unit so that shrinking (one word, then one character at a time, each step a real exchange)
/// reaches a minimal message in few steps.
pub fn message() -> impl Strategy<Value = String> {
    let word = proptest::string::string_regex(&format!("[{MESSAGE_CHARS}]{{1,24}}"))
        .expect("the word pattern is a valid regex");
    proptest::collection::vec(word, 1..=12)
        .prop_map(|words| words.join(" "))
        .prop_filter("at most 1000 bytes", |m| m.len() <= MAX_MESSAGE_BYTES)
}

/// Binary files up to `max` bytes, as a size and a seed: shrinking searches the size (a few steps, each a
/// fresh program) instead of removing one byte at a time. The seed does not shrink: the contents of a
/// size are a prefix of the contents of any larger one, so a smaller failing file keeps the failing bytes.
pub fn binary(max: usize) -> impl Strategy<Value = Vec<u8>> {
    (0..=max, proptest::num::u64::ANY.no_shrink())
        .prop_map(|(size, seed)| file::generate(size, crate::grade::suite::Pattern::Random, seed))
}

pub fn messages(max: usize) -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(message(), 1..=max.max(1))
}

/// Shrinking steps that run the program: each is a real exchange, often with a fresh program, so the
/// count is bounded. A count, never a time, so that a seed replays the same shrinking on any machine.
pub const MAX_SHRINK_RUNS: u32 = 64;

/// Bound on proptest's own shrinking iterations. Past [`MAX_SHRINK_RUNS`] the steps no longer run the
/// program (they pass at once), so this only bounds a loop of cheap steps; it is never meant to be reached,
/// since proptest announces that on stderr, into the middle of the report.
const MAX_SHRINK_ITERS: u32 = 100_000;

/// A proptest runner seeded from the check's seed: the same seed gives the same cases and shrinks.
fn runner(seed: u64, cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: MAX_SHRINK_ITERS,
        // No time limit: a limit in time would make shrinking, and so the reported input, depend on the
        // machine's load.
        max_shrink_time: 0,
        // Set here, not left to PROPTEST_VERBOSE: proptest's messages would land in the report.
        verbose: 0,
        ..Config::default()
    };
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key))
}

/// Runs `case` over generated values. On failure, the reported failure is the one of the minimal
/// (shrunk) value, with that value as its input (shown by `show`) and that case's transcript.
pub fn property<S, F>(
    ctx: &mut Ctx,
    cases: u32,
    strategy: S,
    show: impl Fn(&S::Value) -> Vec<u8>,
    case: F,
) -> CheckResult
where
    S: Strategy,
    S::Value: Clone + Debug,
    F: FnMut(&mut Ctx, &S::Value) -> CheckResult,
{
    let mut runner = runner(ctx.seed, cases);
    let log = ctx.log.clone();
    let state = RefCell::new((ctx, case));
    let minimal: RefCell<Option<(Failure, super::verdict::TranscriptSnapshot)>> =
        RefCell::new(None);
    // Once a case times out (or fails only after a deadline passed), shrinking would wait out a deadline
    // per step to find a smaller input the program also ignores: the remaining steps are skipped (taken
    // as passing), so the reported input is the one that timed out.
    let timed_out = std::cell::Cell::new(false);
    // Runs of the program since the first failure: the shrinking steps.
    let shrink_runs = std::cell::Cell::new(None::<u32>);
    let result = runner.run(&strategy, |value| {
        if timed_out.get() {
            return Ok(());
        }
        if let Some(runs) = shrink_runs.get() {
            if runs >= MAX_SHRINK_RUNS {
                return Ok(());
            }
            shrink_runs.set(Some(runs + 1));
        }
        log.clear();
        let mut guard = state.borrow_mut();
        let (ctx, case) = &mut *guard;
        match case(ctx, &value) {
            Ok(()) => Ok(()),
            Err(failure) => {
                let mut failure = ctx.classify(failure);
                ctx.pin_evidence();
                shrink_runs.set(Some(shrink_runs.get().unwrap_or(0)));
                if failure.outcome() == super::verdict::Outcome::Timeout {
                    timed_out.set(true);
                    failure.message.push_str(" (not shrunk: a timeout)");
                } else if failure.waited {
                    timed_out.set(true);
                    failure
                        .message
                        .push_str(" (not shrunk: every try would wait out a deadline)");
                }
                let reason = failure.message.clone();
                *minimal.borrow_mut() = Some((failure.with_input(show(&value)), log.snapshot()));
                Err(TestCaseError::fail(reason))
            }
        }
    });
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(_, _)) => {
            let (mut failure, snapshot) = minimal
                .into_inner()
                .ok_or_else(|| Failure::harness("a property failed without a recorded case"))?;
            if shrink_runs.get() >= Some(MAX_SHRINK_RUNS) && !timed_out.get() {
                failure.message.push_str(&format!(
                    " (shrinking stopped after {MAX_SHRINK_RUNS} steps: a smaller input may fail too)"
                ));
            }
            log.restore(snapshot);
            Err(failure)
        }
        Err(TestError::Abort(reason)) => Err(Failure::harness(format!(
            "the property run stopped: {reason}"
        ))),
    }
}

/// Seeded pseudo-random numbers for generated contents (splitmix64: small, fast, the same everywhere).
pub struct Mix(u64);

impl Mix {
    pub fn new(seed: u64) -> Self {
        Mix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// A printable ASCII message of exactly `len` bytes with no newline.
pub fn generated_text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "socket", "echo", "byte", "stream", "packet", "loopback", "port",
    ];
    let mut mix = Mix::new(seed);
    let mut text = Vec::with_capacity(len + 16);
    while text.len() < len {
        text.extend_from_slice(WORDS[mix.below(WORDS.len())].as_bytes());
        text.extend_from_slice(format!("-{} ", mix.below(1000)).as_bytes());
    }
    text.truncate(len);
    if text.last() == Some(&b' ') {
        text.pop();
        text.push(b'.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;

    #[test]
    fn generated_text_has_the_asked_length_and_no_newline() {
        for len in [1, 2, 100, 4000, 65536] {
            let text = generated_text(len, 7);
            assert_eq!(text.len(), len);
            assert!(!text.contains(&b'\n'));
            assert_eq!(text, generated_text(len, 7), "same seed, same text");
        }
    }

    #[test]
    fn generated_messages_fit_a_recv_of_1024_and_have_no_line_breaks() {
        let mut runner = runner(42, 1);
        let strategy = message();
        for _ in 0..200 {
            let m = strategy.new_tree(&mut runner).unwrap().current();
            assert!(!m.is_empty() && m.len() <= MAX_MESSAGE_BYTES, "{m:?}");
            assert!(!m.contains(['\n', '\r']), "{m:?}");
            assert_eq!(m.trim(), m);
        }
    }
}
