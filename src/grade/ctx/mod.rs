//! One check's world: its deadlines, its transcript, and the program under test, launched fresh for it.
//!
//! Every launch gets its own network ([`Plan::network`]: a private namespace where the system allows
//! it), and every socket of the grader's side is made in the network of the launch it talks to, through
//! the methods here, which are the only way checks get one:
//!
//! - [`Ctx::launch_server`], then [`Ctx::connect`] (TCP) or [`Ctx::udp_socket`] (to send datagrams);
//! - [`Ctx::launch_client`] (a listener, the program started with its port, its first connection), then
//!   [`Ctx::accept`] for more;
//! - [`Ctx::launch_sender`] (a UDP socket, the program started with its port).
//!
//! A socket keeps the network it was made in: after a relaunch, make new ones. Those methods live in
//! `ctx/launch.rs`; the rest of a check's world here.

mod launch;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use super::conn::{Compare, Parking};
use super::datagram::Misaddressed;
use super::launch::{LaunchError, Program};
use super::netns::{Isolate, Network, Plan};
use super::packets::LaunchCapture;
use super::suite::{Check, Suite};
use super::template::{Template, Values};
use super::verdict::{AddressIgnored, CheckResult, Direction, Failure, Transcript};
use crate::wire::Deadline;

pub use launch::free_port;

/// Settings that hold for every check of a run.
#[derive(Debug, Clone)]
pub struct Options {
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
pub struct Leftovers {
    pub exit: Option<String>,
    pub stdout_tail: Vec<u8>,
    pub stderr_tail: Vec<u8>,
    /// The resource limit the program ran into, shown by evidence ("exceeded the process limit of 128
    /// (...)").
    pub breach: Option<crate::grade::limits::Breach>,
}

/// How long a program whose output or connection just ended may take to be reaped: long enough that a
/// verdict does not depend on the scheduler, short enough not to slow a grade.
const REAP_SETTLE: Duration = Duration::from_millis(300);

pub struct Ctx<'a> {
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
}

impl<'a> Ctx<'a> {
    pub fn new(
        suite: &'a Suite,
        check: &'a Check,
        opts: &'a Options,
        template: &'a Template,
        plan: &'a Plan,
        seed: u64,
    ) -> Self {
        Ctx {
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

    pub fn deadline(&self) -> Deadline {
        Deadline::after(self.wait())
    }

    /// The wait for a program to start listening or connecting.
    pub fn start_wait(&self) -> Duration {
        self.scaled(Duration::from_millis(self.suite.deadlines.start_ms))
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

    /// How many stdout bytes the program has printed so far: a mark for [`Ctx::wait_printed`].
    pub fn stdout_mark(&mut self) -> CheckResult<u64> {
        Ok(self.program()?.stdout().total())
    }

    /// Waits until the program prints `text` after `mark`: anywhere in its output (lenient), or as a
    /// whole line (strict). Printing only the start of it is a failure; printing nothing, a timeout.
    pub fn wait_printed(&mut self, mark: u64, text: &[u8], what: &str) -> CheckResult {
        let strict = self.opts.strict;
        let wait = self.wait();
        let deadline = self.deadline();
        let program = self.program()?;
        // A wrong rendering of the text is an answer too: no need to wait out the deadline after it.
        let found = |out: &[u8]| printed(out, text, strict) || misprinted(out, text).is_some();
        if program.stdout().wait_since(mark, deadline, found)
            && printed(&program.stdout().since(mark), text, strict)
        {
            return Ok(());
        }
        let out = program.stdout().since(mark);
        // stdout at its end most likely means the program is ending: give it the moment to be reaped, so
        // the verdict does not depend on how fast that happens.
        let exited = if program.stdout().is_closed() {
            program.wait_exit(Deadline::after(REAP_SETTLE))
        } else {
            program.try_status()
        };
        let failure = if let Some(why) = misprinted(&out, text) {
            Failure::fail(format!("{what} was printed wrongly: {why}"))
        } else if strict && contains(&out, text) {
            Failure::fail(format!(
                "the program printed {what}, but not as a line of its own"
            ))
        } else if partly_printed(&out, text) {
            Failure::fail(format!("the program printed only part of {what}"))
        } else if let Some(status) = exited {
            Failure::fail(format!(
                "the program exited ({}) without printing {what}",
                describe_status(status)
            ))
        } else {
            Failure::timeout(format!(
                "the program did not print {what} within {:.1} s",
                wait.as_secs_f64()
            ))
        };
        Err(failure.with_expected(text).with_actual(out))
    }

    /// The program's exit status if it has ended, without waiting.
    pub fn exited(&mut self) -> CheckResult<Option<ExitStatus>> {
        Ok(self.program()?.try_status())
    }

    /// Waits up to `wait` for the program to exit by itself.
    pub fn wait_exit(&mut self, wait: Duration) -> CheckResult<Option<ExitStatus>> {
        let status = self.program()?.wait_exit(Deadline::after(wait));
        if let Some(status) = status {
            self.log
                .event("program", &format!("exited ({})", describe_status(status)));
        }
        Ok(status)
    }

    /// Requires the program to exit with status 0 within the check's deadline, `after` saying what should
    /// have made it exit.
    pub fn expect_clean_exit(&mut self, after: &str) -> CheckResult {
        let wait = self.wait();
        match self.wait_exit(wait)? {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(Failure::crash(format!(
                "the program exited with {} after {after}",
                describe_status(status)
            ))),
            None => Err(Failure::timeout(format!(
                "the program did not exit within {:.1} s after {after}",
                wait.as_secs_f64()
            ))),
        }
    }

    /// Turns a failure into a crash when the program died on its own with a bad status: the wrong or
    /// missing answer was the symptom, the crash the cause.
    pub fn classify(&mut self, failure: Failure) -> Failure {
        if failure.harness || failure.settled || failure.outcome() == super::verdict::Outcome::Crash
        {
            return failure;
        }
        let Some(Launched { program, .. }) = self.current.as_mut() else {
            return failure;
        };
        // A program that just sent a wrong answer is alive: look once. Otherwise (silence, a closed
        // connection) it may be dying, and takes a moment to be reaped after its socket closed.
        let answered = failure.outcome() == super::verdict::Outcome::Fail
            && failure.actual.as_ref().is_some_and(|a| !a.is_empty());
        let status = if answered {
            program.try_status()
        } else {
            program.wait_exit(Deadline::after(REAP_SETTLE))
        };
        match status {
            Some(status) if !status.success() => {
                let mut crashed = failure;
                crashed.outcome = Some(super::verdict::Outcome::Crash);
                crashed.message = format!(
                    "the program crashed ({}): {}",
                    describe_status(status),
                    crashed.message
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
            let program = &mut launched.program;
            let report = program.stop(self.opts.grace);
            let leftovers = Leftovers {
                exit: report
                    .exited_by_itself
                    .then_some(report.status)
                    .flatten()
                    .map(describe_status),
                stdout_tail: program.stdout().tail(TAIL_BYTES),
                stderr_tail: program.stderr().tail(TAIL_BYTES),
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

/// True when `text` shows in `out`: anywhere (lenient) or as a whole line (strict).
pub fn printed(out: &[u8], text: &[u8], strict: bool) -> bool {
    if strict {
        out.split(|&b| b == b'\n')
            .any(|line| line.strip_suffix(b"\r").unwrap_or(line) == text)
    } else {
        contains(out, text)
    }
}

/// True when the start of `text` (a third of it, from 4 to 64 bytes) shows in `out` but not all of it: a
/// message cut by a single `recv()`.
pub fn partly_printed(out: &[u8], text: &[u8]) -> bool {
    let start = (text.len() / 3).clamp(4, 64);
    text.len() > start && contains(out, &text[..start]) && !contains(out, text)
}

/// Says how `out` shows `text` in a wrong form, if it does: the classic is Python printing the bytes
/// object that `recv()` returned (`b'\\xe4\\xbd\\xa0'`) instead of the decoded text.
pub fn misprinted(out: &[u8], text: &[u8]) -> Option<String> {
    let repr = python_bytes_repr(text);
    // For printable ASCII the repr's body is the text itself: nothing to tell apart.
    if repr.as_bytes() == text || contains(out, text) {
        return None;
    }
    contains(out, repr.as_bytes()).then(|| {
        let quote = python_quote(text);
        let mut shown: String = repr.chars().take(48).collect();
        if shown.len() < repr.len() {
            shown.push('…');
        }
        format!(
            "it shows the bytes object b{quote}{shown}{quote}, not the text: decode() the bytes before \
             printing"
        )
    })
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
        let why = misprinted(out, "你好".as_bytes()).expect("the repr is recognised");
        assert!(why.contains("decode()"), "{why}");
        // The text itself, or plain ASCII whose repr is the text, is not a misprint.
        assert_eq!(
            misprinted("收到：你好\n".as_bytes(), "你好".as_bytes()),
            None
        );
        assert_eq!(misprinted(b"b'hello'\n", b"hello"), None);
        assert_eq!(misprinted(b"something else\n", "你好".as_bytes()), None);
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
