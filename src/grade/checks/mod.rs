//! The kinds of check, one module per kind of program the grader plays against.

mod client;
mod file;
pub mod generate;
pub mod http;
mod jumps;
mod server;
mod udp;

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use super::conn::Conn;
use super::ctx::Ctx;
use super::suite::{Program, Run};
use super::verdict::{CheckResult, Failure, Outcome, Shrinking};
pub use generate::Mix;
use generate::{message, typed_line};

/// Runs the check that `ctx` holds.
pub(crate) fn run(ctx: &mut Ctx) -> CheckResult {
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
                Some(n) => vec![generate::text(*n, ctx.fixed_seed())],
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
        (Run::SurviveClose { how, first }, _) => server::survive_close(ctx, *how, *first),
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
        (Run::ReceiverExit { size }, _) => file::receiver_exit(ctx, *size),
        (Run::ChatTurns { turns }, Program::TcpServer) => server::chat_turns(ctx, &as_bytes(turns)),
        (Run::PropertyChatTurns { cases, max_turns }, Program::TcpServer) => {
            // The client's line comes over the wire; the server's is typed at its keyboard.
            let turns =
                proptest::collection::vec((message(), typed_line()), 1..=(*max_turns).max(1));
            server::property_chat_turns(ctx, *cases, turns)
        }
        (Run::ChatTurns { turns }, _) => client::chat_turns(ctx, &as_bytes(turns)),
        (Run::PropertyChatTurns { cases, max_turns }, _) => {
            let turns =
                proptest::collection::vec((typed_line(), message()), 1..=(*max_turns).max(1));
            client::property_chat_turns(ctx, *cases, turns)
        }
        (
            Run::ClientLines {
                lines,
                reply_slices,
            },
            _,
        ) => client::echo_lines(ctx, &as_lines(lines), *reply_slices),
        (Run::PropertyClientLines { cases, max_lines }, _) => {
            client::property_echo_lines(ctx, *cases, *max_lines)
        }
        (Run::ClientExit { how, lines, .. }, Program::UdpSender) => {
            udp::sender_exit(ctx, *how, &as_lines(lines))
        }
        (Run::ClientExit { how, lines, peer }, _) => {
            client::exit(ctx, *how, &as_lines(lines), *peer)
        }
        (
            Run::File {
                size,
                pattern,
                slice,
                pause_ms,
            },
            _,
        ) => {
            let content = generate::file(*size, *pattern, ctx.fixed_seed());
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
                Some(n) => vec![generate::text(*n, ctx.fixed_seed())],
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
        (Run::SenderLines { lines }, _) => udp::sender_lines(ctx, &as_lines(lines)),
        (Run::PropertySenderLines { cases, max_lines }, _) => {
            udp::property_sender_lines(ctx, *cases, *max_lines)
        }
        (Run::Http { case }, _) => http::run(ctx, *case),
        // A teacher's own protocol, scripted in the suite file: its own module.
        (Run::Script { steps }, _) => crate::grade::script::play(ctx, steps),
    }
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

fn as_lines(lines: &[String]) -> Vec<Vec<u8>> {
    lines.iter().map(|l| l.as_bytes().to_vec()).collect()
}

/// Shrinking runs of one check: each is a real exchange, often with a fresh program, so the count is
/// bounded. A count, never a time, so that a seed replays the same shrinking on any machine (the grade's
/// own budget, [`crate::grade::ctx::GradeBudget`], bounds the whole grade).
pub const MAX_SHRINK_RUNS: u32 = 16;

/// A property whose cases continue one conversation: the connection a passing case leaves is the next
/// case's, and after a failure (the connection in an unknown state) the next case starts a fresh
/// program with `open`.
fn property_on_one_connection<S>(
    ctx: &mut Ctx,
    cases: u32,
    strategy: S,
    show: impl Fn(&S::Value) -> Vec<u8>,
    open: fn(&mut Ctx) -> CheckResult<Conn>,
    mut case: impl FnMut(&mut Ctx, &mut Conn, &S::Value) -> CheckResult,
) -> CheckResult
where
    S: Strategy,
    S::Value: Clone + Debug,
{
    let mut live: Option<Conn> = None;
    property(ctx, cases, strategy, show, move |ctx, value| {
        let mut conn = match live.take() {
            Some(conn) => conn,
            None => open(ctx)?,
        };
        case(ctx, &mut conn, value)?;
        live = Some(conn);
        Ok(())
    })
}

/// Why shrinking stopped when the check's time budget ran out.
const BUDGET_SPENT: &str =
    "the check's time budget ran out (a time: on a faster machine shrinking may go further)";

/// Bound on proptest's own shrinking iterations. Past the bounds above the steps no longer run the
/// program (they pass at once), so this only bounds a loop of cheap steps; it is never meant to be
/// reached, since proptest announces that on stderr, into the middle of the report.
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
/// (shrunk) value, with that value as its input (shown by `show`), that case's transcript, and how the
/// shrinking went.
pub(crate) fn property<S, F>(
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
    let budget = ctx.budget;
    let state = RefCell::new((ctx, case));
    let minimal: RefCell<Option<(Failure, super::verdict::TranscriptSnapshot)>> =
        RefCell::new(None);
    // Runs of the program since the first failure (the shrinking runs), and why shrinking stopped early.
    let shrink_runs = Cell::new(None::<u32>);
    let stopped: RefCell<Option<String>> = RefCell::new(None);
    // Inputs already tried that passed: shrinking may come back to one, and it is not run again.
    let passed: RefCell<std::collections::HashSet<String>> = RefCell::default();
    let result = runner.run(&jumps::InJumps(std::sync::Arc::new(strategy)), |value| {
        // Once shrinking has stopped, the remaining steps are taken as passing: the input reported is
        // the smallest failing one found so far.
        let tried = format!("{value:?}");
        if stopped.borrow().is_some() || passed.borrow().contains(&tried) {
            return Ok(());
        }
        let mut guard = state.borrow_mut();
        let (ctx, case) = &mut *guard;
        let shrinking = shrink_runs.get();
        if let Some(runs) = shrinking {
            let reason = if runs >= MAX_SHRINK_RUNS {
                Some(format!(
                    "the check's {MAX_SHRINK_RUNS} shrinking runs were used up"
                ))
            } else if ctx.budget_spent() {
                Some(BUDGET_SPENT.to_string())
            } else {
                budget.exhausted()
            };
            if let Some(reason) = reason {
                *stopped.borrow_mut() = Some(reason);
                return Ok(());
            }
            shrink_runs.set(Some(runs + 1));
        }
        let started = Instant::now();
        log.clear();
        let result = case(ctx, &value);
        if shrinking.is_some() {
            budget.spend(started.elapsed());
        }
        let Err(failure) = result else {
            passed.borrow_mut().insert(tried);
            return Ok(());
        };
        // A shrinking step cut short by the check's time budget failed for the grader's reason, not
        // the program's: it must not replace the failure found.
        if shrinking.is_some() && ctx.budget_spent() {
            *stopped.borrow_mut() = Some(BUDGET_SPENT.to_string());
            return Ok(());
        }
        let failure = ctx.classify(failure);
        ctx.pin_evidence();
        ctx.sync_output();
        shrink_runs.set(Some(shrink_runs.get().unwrap_or(0)));
        // Shrinking a failure seen only at a deadline would wait out a deadline per step to find a
        // smaller input the program also ignores.
        if failure.outcome() == Outcome::Timeout {
            *stopped.borrow_mut() =
                Some("a timeout: each try would wait out the deadline again".into());
        } else if failure.waited {
            *stopped.borrow_mut() = Some(
                "the failure shows only once a deadline has passed, and each try would wait it out \
                 again"
                    .into(),
            );
        }
        let reason = failure.message.clone();
        *minimal.borrow_mut() = Some((failure.with_input(show(&value)), log.snapshot()));
        Err(TestCaseError::fail(reason))
    });
    match result {
        Ok(()) => Ok(()),
        Err(TestError::Fail(_, _)) => {
            let (mut failure, snapshot) = minimal
                .into_inner()
                .ok_or_else(|| Failure::harness("a property failed without a recorded case"))?;
            failure.about_mut().shrinking = Some(Shrinking {
                runs: shrink_runs.get().unwrap_or(0),
                stopped: stopped.into_inner(),
            });
            log.restore(snapshot);
            Err(failure)
        }
        Err(TestError::Abort(reason)) => Err(Failure::harness(format!(
            "the property run stopped: {reason}"
        ))),
    }
}
