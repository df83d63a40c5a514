//! One check's world: its deadlines and time budget, its transcript, and the program under test,
//! launched fresh for it.

mod budget;
mod output;

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use super::conn::{Compare, Conn, Limits, Parking};
use super::launch::{Isolation, LaunchSpec, NotReady, Program};
use super::procfs::Proto;
use super::suite::{Check, Suite};
use super::template::{Template, Values};
use super::verdict::{CheckResult, Direction, Failure, Transcript};
use super::watch::Tap;
use crate::wire::{self, Deadline};

pub use budget::{budget_answers, GradeBudget, BUDGET_ANSWERS, PROPERTY_BUDGET_ANSWERS};

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
        }
    }
}

/// Names of the files a launch gets in its fresh directory.
const INPUT_FILE: &str = "input.bin";
const OUTPUT_FILE: &str = "output.bin";

struct Launched {
    program: Program,
    workdir: tempfile::TempDir,
    values: Values,
    /// Copies the program's stdout into the transcript.
    tap: Tap,
}

/// What is left of a check's program once it is stopped, for the report.
#[derive(Debug, Clone, Default)]
pub struct Leftovers {
    pub exit: Option<String>,
    pub stdout_tail: Vec<u8>,
    pub stderr_tail: Vec<u8>,
}

/// How long a program whose output or connection just ended may take to be reaped: long enough that a
/// verdict does not depend on the scheduler, short enough not to slow a grade.
pub(crate) const REAP_SETTLE: Duration = Duration::from_millis(300);

pub struct Ctx<'a> {
    pub suite: &'a Suite,
    pub check: &'a Check,
    pub opts: &'a Options,
    template: &'a Template,
    pub log: Transcript,
    /// Connections the check dropped; closed once the verdict is settled.
    pub parking: Parking,
    /// This check's seed, derived from the run's seed and the check id.
    pub seed: u64,
    current: Option<Launched>,
    /// Set when the command itself cannot be started: the whole run stops with a usage error.
    pub launch_error: Option<String>,
    /// What was left of the last program stopped (by a relaunch or at the end).
    last: Option<Leftovers>,
    /// The current program showed the failure the report will give: keep its leftovers when it stops.
    pin: bool,
    /// The leftovers of the program that showed the reported failure (a property run goes on to other
    /// programs while it shrinks, and the report must show the exit and stderr of the failing one).
    pinned: Option<Leftovers>,
    /// The `{port}` a server was given and the address it listened on instead, the first time they differed.
    pub port_ignored: Option<(u16, SocketAddr)>,
    /// When the check's time budget ends.
    end: Instant,
    /// Limits over the whole grade.
    pub budget: &'a GradeBudget,
    /// The grader's listener for a client program, kept while it runs: a program that opens a second
    /// connection is seen doing so instead of being refused.
    client_listener: Option<TcpListener>,
    /// What the check learnt about how the server serves its clients, when it passed.
    pub serving: Option<super::verdict::Serving>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        suite: &'a Suite,
        check: &'a Check,
        opts: &'a Options,
        template: &'a Template,
        seed: u64,
        budget: &'a GradeBudget,
    ) -> Self {
        let scaled = |d: Duration| d.mul_f64(opts.timeout_scale);
        let check_budget = scaled(Duration::from_millis(suite.deadlines.start_ms))
            + scaled(check.deadline(suite)) * budget_answers(&check.run);
        Ctx {
            end: Instant::now() + check_budget,
            budget,
            client_listener: None,
            serving: None,
            suite,
            check,
            opts,
            template,
            log: Transcript::new(),
            parking: Parking::default(),
            seed,
            current: None,
            launch_error: None,
            last: None,
            pin: false,
            pinned: None,
            port_ignored: None,
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

    /// Stops the current program, if any, and launches a fresh copy in a fresh directory. `port` fills
    /// `{port}`; `input` is written to the file `{file}` names.
    pub fn launch(&mut self, port: u16, input: Option<&[u8]>) -> CheckResult {
        self.stop();
        let workdir = tempfile::Builder::new()
            .prefix("sockspec-run-")
            .tempdir()
            .map_err(|e| Failure::harness(format!("cannot create a working directory: {e}")))?;
        let mut values = Values {
            host: "127.0.0.1".into(),
            port,
            file: None,
            out: Some(workdir.path().join(OUTPUT_FILE).display().to_string()),
        };
        if let Some(bytes) = input {
            let path = workdir.path().join(INPUT_FILE);
            std::fs::write(&path, bytes)
                .map_err(|e| Failure::harness(format!("cannot write {}: {e}", path.display())))?;
            values.file = Some(path.display().to_string());
        }
        let argv = self.template.expand(&values);
        let spec = LaunchSpec {
            argv,
            workdir: workdir.path().to_path_buf(),
            env: Vec::new(),
            output_cap: self.opts.output_cap,
            isolation: Isolation::None,
        };
        let program = Program::spawn(&spec).map_err(|e| {
            self.launch_error = Some(e.to_string());
            Failure::not_run(format!("cannot launch the program: {e}"))
        })?;
        self.log
            .event("program", &format!("started (pid {})", program.pid()));
        let tap = Tap::start(std::sync::Arc::clone(program.stdout()), self.log.clone());
        self.current = Some(Launched {
            program,
            workdir,
            values,
            tap,
        });
        Ok(())
    }

    /// Launches a server on a free port and waits, through /proc, until it listens (or has bound its UDP
    /// socket): no probe connection is made, so a one-client server still has its one client.
    pub fn launch_server(&mut self, proto: Proto) -> CheckResult<SocketAddr> {
        let port = free_port(proto)
            .map_err(|e| Failure::harness(format!("cannot find a free port: {e}")))?;
        self.launch(port, None)?;
        let wait = self.start_wait();
        let deadline = self.start_deadline();
        let program = self.program()?;
        match program.wait_listening(proto, deadline) {
            Ok(addr) => {
                self.log.event("program", &format!("listening on {addr}"));
                if addr.port() != port {
                    self.port_ignored.get_or_insert((port, addr));
                }
                Ok(addr)
            }
            Err(NotReady::Exited { status }) => {
                let how = format!("exited ({}) before it listened", describe_status(status));
                Err(Failure::crash(format!("the program {how}")).not_ready(how))
            }
            Err(_) => {
                let how = format!("did not start listening within {:.1} s", wait.as_secs_f64());
                Err(
                    Failure::timeout(format!("the program {how} (the start deadline)"))
                        .not_ready(how),
                )
            }
        }
    }

    /// For programs that connect to the grader: a listener on a free port, then the program launched
    /// with that port (and `input` as its `{file}`), then its connection accepted.
    pub fn launch_client(&mut self, input: Option<&[u8]>) -> CheckResult<Conn> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Failure::harness(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Failure::harness(format!("cannot read the listening port: {e}")))?
            .port();
        self.launch(port, input)?;
        let stream = self.accept(&listener)?;
        self.client_listener = Some(listener);
        let mut conn = Conn::accepted(stream, "program", &self.log, &self.parking, self.limits());
        if let Some(launched) = &self.current {
            conn.watch_program(launched.program.pid(), launched.program.stderr());
        }
        Ok(conn)
    }

    fn accept(&mut self, listener: &TcpListener) -> CheckResult<TcpStream> {
        let wait = self.start_wait();
        let deadline = self.start_deadline();
        loop {
            let slice = Deadline::after(Duration::from_millis(50));
            match wire::accept(listener, slice) {
                Ok(Some((stream, _))) => return Ok(stream),
                Ok(None) => {}
                Err(e) => return Err(Failure::harness(format!("accept failed: {e}"))),
            }
            // A program that dies before connecting will never connect: say so at once.
            if let Some(status) = self.program()?.try_status() {
                let how = format!("exited ({}) without connecting", describe_status(status));
                return Err(Failure::crash(format!("the program {how}")).not_ready(how));
            }
            if deadline.passed() {
                let how = format!("did not connect within {:.1} s", wait.as_secs_f64());
                return Err(
                    Failure::timeout(format!("the program {how} (the start deadline)"))
                        .not_ready(how),
                );
            }
        }
    }

    /// True when a client program that was accepted has connected again (a second connection waits):
    /// looked at once the first connection closed, to say what the program did.
    pub fn reconnected(&self) -> bool {
        let Some(listener) = &self.client_listener else {
            return false;
        };
        let mut fds = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(listener),
            events: libc::POLLIN,
            revents: 0,
        };
        // A connect made before the close is queued already: a short look is enough.
        // SAFETY: one valid pollfd that outlives the call.
        unsafe { libc::poll(&mut fds, 1, 100) > 0 }
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

    /// Connects to the server under test as a client named `name`.
    pub fn connect(&self, addr: SocketAddr, name: &str) -> CheckResult<Conn> {
        let mut conn = Conn::connect(addr, name, &self.log, &self.parking, self.limits())?;
        if let Some(launched) = &self.current {
            conn.watch_program(launched.program.pid(), launched.program.stderr());
        }
        Ok(conn)
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
                    return Err(Failure::crash(format!(
                        "the program exited with {} after {after}",
                        describe_status(status)
                    )))
                }
                None => {}
            }
            if deadline.passed() {
                return Err(Failure::timeout(format!(
                    "the program did not exit {} after {after}",
                    self.limits().within()
                )));
            }
            let now = printed(self);
            if now != last {
                last = now;
                quiet_since = Instant::now();
                continue;
            }
            if quiet_since.elapsed() >= quiet && self.idle() {
                let waits = if self.accepting() {
                    "it went back to accept(), waiting for the next client"
                } else {
                    "it waits for something more (input, or a connection)"
                };
                return Err(Failure::fail(format!(
                    "the program did not exit after {after}: {waits}"
                )));
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
        // A program that just sent a wrong answer is alive: look once. Otherwise (silence, a closed
        // connection) it may be dying, and takes a moment to be reaped after its socket closed.
        let answered = failure.outcome() == super::verdict::Outcome::Fail
            && failure.actual.as_ref().is_some_and(|a| !a.is_empty())
            && !failure.about().closed;
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
        self.client_listener = None;
        if let Some(Launched {
            mut program,
            workdir,
            tap,
            ..
        }) = self.current.take()
        {
            // What a program that was still running prints while it is being stopped (a traceback
            // when its stdin ends, a message on SIGTERM) is the grader's doing, not part of the check:
            // its output is taken before. A program that ended by itself has all of its output read.
            drop(tap);
            let running = program.try_status().is_none();
            let before = running.then(|| {
                (
                    program.stdout().tail(TAIL_BYTES),
                    program.stderr().tail(TAIL_BYTES),
                )
            });
            let report = program.stop(self.opts.grace);
            let (stdout_tail, stderr_tail) = before.unwrap_or_else(|| {
                (
                    program.stdout().tail(TAIL_BYTES),
                    program.stderr().tail(TAIL_BYTES),
                )
            });
            let leftovers = Leftovers {
                exit: report
                    .exited_by_itself
                    .then_some(report.status)
                    .flatten()
                    .map(describe_status),
                stdout_tail,
                stderr_tail,
            };
            drop(program);
            drop(workdir);
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

/// A port that was free a moment ago: the program binds it. (A program that ignores it is still found
/// through /proc.)
pub fn free_port(proto: Proto) -> std::io::Result<u16> {
    match proto {
        Proto::Tcp => Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()),
        Proto::Udp => Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port()),
    }
}
