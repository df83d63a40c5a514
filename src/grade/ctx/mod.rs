//! One check's world (`Ctx`, internal to the grader): its deadlines and time budget, its
//! transcript, and the program under test, launched fresh for it.
//!
//! Every launch gets its own network ([`Plan::network`]: a private namespace where the system allows
//! it), and every socket of the grader's side is made in the network of the launch it talks to, through
//! the methods here, which are the only way checks get one:
//!
//! - `Ctx::launch_server`, then `Ctx::connect` (TCP) or `Ctx::udp_socket` (to send datagrams);
//! - `Ctx::launch_client` (a listener, the program started with its port, its first connection),
//!   then `Ctx::accept` for more;
//! - `Ctx::launch_sender` (a UDP socket, the program started with its port).
//!
//! A socket keeps the network it was made in: after a relaunch, make new ones. Those methods live in
//! `ctx/launch.rs`; waiting for what the program prints in `ctx/output.rs`; the time budgets in
//! `ctx/budget.rs`; the rest of a check's world here.

mod budget;
mod launch;
mod output;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use super::conn::{Compare, Limits, Parking};
use super::datagram::Misaddressed;
use super::launch::{LaunchError, Program};
use super::netns::{Isolate, Network, Plan};
use super::packets::LaunchCapture;
use super::suite::{Check, Suite};
use super::template::{Template, Values};
use super::verdict::{AddressIgnored, CheckResult, Direction, Failure, Serving, Transcript};
use super::watch::Tap;
use super::words::phrase;
use crate::i18n::{key, Message};
use crate::wire::Deadline;

pub use budget::{budget_answers, GradeBudget, BUDGET_ANSWERS, PROPERTY_BUDGET_ANSWERS};
pub use launch::free_port;

/// Settings that hold for every check of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Exact comparison (`--strict`): no leeway for newlines or spacing the lesson allows.
    pub strict: bool,
    /// The reply prefix of echo suites.
    pub prefix: Vec<u8>,
    /// Every deadline is multiplied by this (slow machines, heavy programs).
    pub timeout_scale: f64,
    /// A message from the program ends at a newline or after this long with nothing more.
    pub quiet: Duration,
    /// How much of each output stream is kept.
    pub output_cap: usize,
    /// How long a stopped program gets between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Private network namespaces per launch: where possible, required, or never.
    pub isolate: Isolate,
    /// Capture each launch's TCP segments into the transcript (`--packets`; needs namespaces).
    pub packets: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            prefix: crate::peers::echo::DEFAULT_PREFIX.as_bytes().to_vec(),
            timeout_scale: 1.0,
            quiet: Duration::from_millis(200),
            output_cap: 1024 * 1024,
            grace: Duration::from_millis(500),
            isolate: Isolate::Auto,
            packets: false,
        }
    }
}

/// Names of the files a launch gets in its fresh directory.
const INPUT_FILE: &str = "input.bin";
const OUTPUT_FILE: &str = "output.bin";

/// The current launch. Fields drop in order: the program is stopped first, then the grader's listener
/// goes, then the network (a namespace is freed once nothing refers to it), then the directory.
struct Launched {
    /// Copies the program's stdout into the transcript; finished before the program is stopped.
    tap: Tap,
    program: Program,
    /// With `--packets`: the capture of the launch's segments, stopped (its last events written) just
    /// before the program is: what the stop itself sends is the grader's doing, not the program's.
    packets: Option<LaunchCapture>,
    /// For a client launch: the listener its connections arrive at.
    listener: Option<TcpListener>,
    network: Network,
    /// Removed when dropped, after the program is stopped.
    _workdir: super::runs::Workdir,
    values: Values,
}

/// What is left of a check's program once it is stopped, for the report.
#[derive(Debug, Clone, Default)]
pub(crate) struct Leftovers {
    pub exit: Option<String>,
    pub stdout_tail: Vec<u8>,
    pub stderr_tail: Vec<u8>,
    /// The resource limit the program ran into, shown by evidence ("exceeded the process limit of 128
    /// (...)").
    pub breach: Option<crate::grade::limits::Breach>,
}

/// How long a program whose output or connection just ended may take to be reaped: long enough that a
/// verdict does not depend on the scheduler (a Python program that closed its socket while dying of a
/// traceback took more than 300 ms more to exit at load 30), short enough not to slow a grade (only a
/// program that closed and lives on waits it out).
pub(crate) const REAP_SETTLE: Duration = Duration::from_millis(1000);
/// How often a program that may be ending is looked at, to see it waiting instead.
const ALIVE_LOOK: Duration = Duration::from_millis(25);

pub(crate) struct Ctx<'a> {
    pub suite: &'a Suite,
    pub check: &'a Check,
    pub opts: &'a Options,
    template: &'a Template,
    /// The run's decision about networks: a fresh namespace per launch, or the shared loopback.
    plan: &'a Plan,
    pub log: Transcript,
    /// Connections the check dropped; closed once the verdict is settled.
    pub parking: Parking,
    /// This check's seed, derived from the run's seed and the check id.
    pub seed: u64,
    current: Option<Launched>,
    /// Set when the command itself cannot be started: the run stops (see `grade::run_check`).
    pub launch_error: Option<LaunchError>,
    /// What was left of the last program stopped (by a relaunch or at the end).
    last: Option<Leftovers>,
    /// The current program showed the failure the report will give: keep its leftovers when it stops.
    pin: bool,
    /// The leftovers of the program that showed the reported failure (a property run goes on to other
    /// programs while it shrinks, and the report must show the exit and stderr of the failing one).
    pinned: Option<Leftovers>,
    /// The first time the program used another address than the one it was given (a server listening
    /// elsewhere, a client connecting elsewhere).
    pub address_ignored: Option<AddressIgnored>,
    /// The first datagram a sender addressed elsewhere than it was told, noted by its [`UdpPeer`].
    misaddressed: Misaddressed,
    /// When the check's time budget ends.
    end: Instant,
    /// Limits over the whole grade.
    pub budget: &'a GradeBudget,
    /// What the check learnt about how the server serves its clients, when it passed.
    pub serving: Option<Serving>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        suite: &'a Suite,
        check: &'a Check,
        opts: &'a Options,
        template: &'a Template,
        plan: &'a Plan,
        seed: u64,
        budget: &'a GradeBudget,
    ) -> Self {
        let scaled = |d: Duration| d.mul_f64(opts.timeout_scale);
        let check_budget = scaled(Duration::from_millis(suite.deadlines.start_ms))
            + scaled(check.deadline(suite)) * budget_answers(&check.run);
        Ctx {
            end: Instant::now() + check_budget,
            budget,
            serving: None,
            suite,
            check,
            opts,
            template,
            plan,
            log: Transcript::new(),
            parking: Parking::default(),
            seed,
            current: None,
            launch_error: None,
            last: None,
            pin: false,
            pinned: None,
            address_ignored: None,
            misaddressed: Misaddressed::default(),
        }
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.opts.timeout_scale)
    }

    /// The wait for each answer in this check.
    pub fn wait(&self) -> Duration {
        self.scaled(self.check.deadline(self.suite))
    }

    /// The waits of this check: the answer deadline, never past the check's time budget.
    pub fn limits(&self) -> Limits {
        Limits {
            wait: self.wait(),
            end: self.end,
            quiet: self.scaled(self.opts.quiet),
        }
    }

    /// A deadline for one answer, starting now.
    pub fn deadline(&self) -> Deadline {
        self.limits().deadline()
    }

    /// True once the check's time budget has run out.
    pub fn budget_spent(&self) -> bool {
        Instant::now() >= self.end
    }

    /// The wait for a program to start listening or connecting.
    pub fn start_wait(&self) -> Duration {
        self.scaled(Duration::from_millis(self.suite.deadlines.start_ms))
    }

    /// The deadline for a program launched now to be ready, never past the check's time budget (a
    /// property check launches again late in the check).
    fn start_deadline(&self) -> Deadline {
        let left = self.end.saturating_duration_since(Instant::now());
        Deadline::after(self.start_wait().min(left))
    }

    /// A seed for the generated inputs of a check that is not a property check: from the check's id
    /// alone, so that its input, and so its verdict, is the same whatever the run's seed.
    pub fn fixed_seed(&self) -> u64 {
        super::check_seed(0, &self.check.id)
    }

    pub fn compare(&self) -> Compare {
        if self.opts.strict {
            Compare::Strict
        } else {
            Compare::Lenient
        }
    }

    pub fn prefixed(&self, message: &[u8]) -> Vec<u8> {
        [self.opts.prefix.as_slice(), message].concat()
    }

    pub fn program(&mut self) -> CheckResult<&mut Program> {
        self.current
            .as_mut()
            .map(|l| &mut l.program)
            .ok_or_else(|| Failure::harness("no program is running"))
    }

    /// The `{out}` path of the current launch.
    pub fn out_path(&self) -> Option<PathBuf> {
        self.current
            .as_ref()
            .and_then(|l| l.values.out.as_ref())
            .map(PathBuf::from)
    }

    /// Types a line on the program's stdin (`text` and a newline).
    pub fn type_line(&mut self, text: &[u8]) -> CheckResult {
        let line = [text, b"\n"].concat();
        self.log.record("stdin", Direction::Sent, &line);
        let deadline = self.deadline();
        let wait = self.wait();
        self.program()?.write_stdin(&line, deadline).map_err(|e| {
            Failure::timeout(format!(
                "the program did not take a line from stdin within {:.1} s: {e}",
                wait.as_secs_f64()
            ))
        })
    }

    /// Ends the program's stdin (as Ctrl+D at a terminal).
    pub fn close_stdin(&mut self) -> CheckResult {
        self.log.event("stdin", "closed (EOF)");
        self.program()?.close_stdin();
        Ok(())
    }

    /// True when every thread of the program waits in `accept()`: it is back at the start of its
    /// server loop, waiting for the next client.
    pub fn accepting(&mut self) -> bool {
        self.activity().all_accepting()
    }

    /// The pids of the program's live processes (none when no program runs).
    pub fn pids(&mut self) -> Vec<i32> {
        self.program()
            .map(|p| super::watch::pids(p))
            .unwrap_or_default()
    }

    /// What the program's threads are doing now.
    pub fn activity(&mut self) -> super::procfs::Activity {
        super::procfs::activity(&self.pids())
    }

    /// The program's exit status if it has ended, without waiting.
    pub fn exited(&mut self) -> CheckResult<Option<ExitStatus>> {
        Ok(self.program()?.try_status())
    }

    /// Waits up to `wait` (never past the check's time budget) for the program to exit by itself.
    pub fn wait_exit(&mut self, wait: Duration) -> CheckResult<Option<ExitStatus>> {
        let left = self.end.saturating_duration_since(Instant::now());
        let status = self.program()?.wait_exit(Deadline::after(wait.min(left)));
        if let Some(status) = status {
            self.log
                .event("program", &format!("exited ({})", describe_status(status)));
        }
        Ok(status)
    }

    /// Requires the program to exit with status 0 within the check's deadline, `after` saying what should
    /// have made it exit. A program that plainly waits instead (every thread waiting, nothing printed
    /// for the quiet gap) fails at once, with where it waits.
    pub fn expect_clean_exit(&mut self, after: &str) -> CheckResult {
        let deadline = self.deadline();
        let quiet = self.scaled(self.opts.quiet);
        let printed = |ctx: &mut Self| {
            ctx.program()
                .map(|p| p.stdout().total() + p.stderr().total())
                .unwrap_or_default()
        };
        let mut last = printed(self);
        let mut quiet_since = Instant::now();
        loop {
            let left = deadline.remaining().unwrap_or_default();
            match self.wait_exit(left.min(EXIT_LOOK))? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => {
                    return Err(Failure::said(
                        super::verdict::Outcome::Crash,
                        Message::new(key::EXITED_WITH_AFTER)
                            .arg("status", describe_status(status))
                            .arg("after", phrase(after)),
                    ))
                }
                None => {}
            }
            if deadline.passed() {
                return Err(Failure::said(
                    super::verdict::Outcome::Timeout,
                    Message::new(key::DID_NOT_EXIT_WITHIN)
                        .arg("within", self.limits().within_said())
                        .arg("after", phrase(after)),
                ));
            }
            let now = printed(self);
            if now != last {
                last = now;
                quiet_since = Instant::now();
                continue;
            }
            if quiet_since.elapsed() >= quiet && self.idle() {
                let waits = if self.accepting() {
                    key::DID_NOT_EXIT_ACCEPTING
                } else {
                    key::DID_NOT_EXIT_WAITING
                };
                return Err(Failure::said(
                    super::verdict::Outcome::Fail,
                    Message::new(waits).arg("after", phrase(after)),
                ));
            }
        }
    }

    /// Waits up to [`REAP_SETTLE`] for the program to exit, unless it is plainly alive first: back in
    /// `accept()` (every thread of it waiting for a connection), or every thread of it waiting in two
    /// looks in a row. A program on its way out runs (its exception printed, its files closed) until
    /// it is reaped; one that waits is not ending, and a server that closes each connection, or a
    /// client that connects again, would otherwise wait out the whole settle time at every failure.
    fn reaped_unless_waiting(&mut self) -> Option<ExitStatus> {
        let deadline = Deadline::after(REAP_SETTLE);
        let mut idle_looks = 0;
        loop {
            let program = &mut self.current.as_mut()?.program;
            let look = deadline.remaining().unwrap_or_default().min(ALIVE_LOOK);
            if let Some(status) = program.wait_exit(Deadline::after(look)) {
                return Some(status);
            }
            let activity = self.activity();
            idle_looks = if activity.idle() { idle_looks + 1 } else { 0 };
            if deadline.passed() || activity.all_accepting() || idle_looks >= 2 {
                return None;
            }
        }
    }

    /// True when every thread of the program waits, none running or asleep on a timer.
    pub fn idle(&mut self) -> bool {
        self.activity().idle()
    }

    /// Turns a failure into a crash when the program died on its own with a bad status: the wrong or
    /// missing answer was the symptom, the crash the cause.
    pub fn classify(&mut self, failure: Failure) -> Failure {
        use super::verdict::Outcome;
        // A check that could not be run says why; the program's end is not its answer.
        if failure.harness
            || failure.settled
            || matches!(failure.outcome(), Outcome::Crash | Outcome::NotRun)
        {
            return failure;
        }
        let Some(Launched { program, .. }) = self.current.as_mut() else {
            return failure;
        };
        // A program that just sent a wrong answer, or was just seen waiting, is alive: look once.
        // Otherwise (silence, a closed connection) it may be dying, and takes a moment to be reaped
        // after its socket closed.
        let answered = failure.outcome() == super::verdict::Outcome::Fail
            && failure.actual.as_ref().is_some_and(|a| !a.is_empty())
            && !failure.about().closed;
        let status = if answered || failure.about().waiting {
            program.try_status()
        } else {
            self.reaped_unless_waiting()
        };
        match status {
            Some(status) if !status.success() => {
                let mut crashed = failure;
                crashed.outcome = Some(super::verdict::Outcome::Crash);
                let why = crashed.said_message();
                crashed.reword(
                    Message::new(key::CRASHED_THEN)
                        .arg("status", describe_status(status))
                        .arg("why", why),
                );
                crashed
            }
            _ => failure,
        }
    }

    /// Marks the program that just showed a failure as the one whose exit and output the report gives.
    pub fn pin_evidence(&mut self) {
        if self.current.is_some() {
            self.pin = true;
        } else {
            // The case already stopped it.
            self.pin = false;
            self.pinned = self.last.clone();
        }
    }

    /// Stops the current program (SIGTERM, grace, SIGKILL for its whole tree) and returns what the report
    /// needs: of the program [`Ctx::pin_evidence`] marked if any, else of the last one stopped.
    pub fn stop(&mut self) -> Leftovers {
        self.parking.release();
        if let Some(mut launched) = self.current.take() {
            drop(launched.packets.take());
            // What a program that was still running prints while it is being stopped (a traceback
            // when its stdin ends, a message on SIGTERM) is the grader's doing, not part of the check:
            // its output is taken before. A program that ended by itself has all of its output read.
            launched.tap.finish();
            let program = &mut launched.program;
            let running = program.try_status().is_none();
            let tails = |p: &Program| (p.stdout().tail(TAIL_BYTES), p.stderr().tail(TAIL_BYTES));
            let before = running.then(|| tails(program));
            let report = program.stop(self.opts.grace);
            let (stdout_tail, stderr_tail) = before.unwrap_or_else(|| tails(program));
            let leftovers = Leftovers {
                exit: report
                    .exited_by_itself
                    .then_some(report.status)
                    .flatten()
                    .map(describe_status),
                stdout_tail,
                stderr_tail,
                breach: program.breach(),
            };
            drop(launched);
            if std::mem::take(&mut self.pin) {
                self.pinned = Some(leftovers.clone());
            }
            self.last = Some(leftovers);
        }
        self.pinned
            .clone()
            .or_else(|| self.last.clone())
            .unwrap_or_default()
    }
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Output kept for a report.
const TAIL_BYTES: usize = 2048;

/// How often a program that should exit is looked at.
const EXIT_LOOK: Duration = Duration::from_millis(50);

/// `exit status 1`, `killed by signal 9 (SIGKILL)`.
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
        _ => status.to_string(),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        _ => "signal",
    }
}
