//! Running a program under test: start it, see its output, find its sockets, and stop it and everything
//! it started, whatever it does.
//!
//! ```no_run
//! use std::time::Duration;
//! use sockspec::grade::launch::{LaunchSpec, Program};
//! use sockspec::grade::procfs::Proto;
//! use sockspec::wire::Deadline;
//!
//! let dir = tempfile::tempdir()?;
//! let argv = ["python3", "/abs/path/student.py", "0"].map(String::from).to_vec();
//! let mut program = Program::spawn(&LaunchSpec::new(argv, dir.path()))?;
//! match program.wait_listening(Proto::Tcp, Deadline::after(Duration::from_secs(5))) {
//!     Ok(addr) => println!("listening on {addr}"),
//!     Err(why) => println!("{why}; stderr ends with {:?}", program.stderr().tail(500)),
//! }
//! let report = program.stop(Duration::from_secs(1)); // Drop would do it too
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How a program is kept in hand
//!
//! - It runs in its own process group, so one `killpg` reaches it and the children it forks.
//! - It gets `SOCKSPEC_RUN=<token unique to this run>` in its environment, which descendants inherit.
//!   A child that leaves the group with `setsid()` (a daemon, or a student's "background" server) is
//!   still found by scanning `/proc/*/environ` for the token, and by following parent pids.
//! - The grader process becomes a child subreaper (`PR_SET_CHILD_SUBREAPER`): a descendant orphaned by
//!   its parent's death is re-parented to the grader instead of init, so it can be reaped here rather
//!   than linger as a zombie. Only pids known to belong to a run are reaped, each by `waitpid(pid)`,
//!   never `waitpid(-1)`: other code in the process (other runs, other tests) waits for its own children.
//! - Where the system allows it (root, or a delegated cgroup tree), the run also gets a cgroup of its
//!   own, which the child joins before exec: a descendant that both leaves the group and drops its
//!   environment is still in it (see [`super::cgroup`]).
//! - A pid is only signalled after checking its start time (from `/proc/PID/stat`) is the one seen when
//!   it was found, so a pid reused by an unrelated process is never hit.
//! - Every wait has a deadline; stopping ends with SIGKILL and reports any process that survived.
//! - The run is registered in [`super::runs`] from before its fork, so an interruption of the grade (or
//!   the watchdog of a grader that was killed) can stop it from outside.
//!
//! # Why stdout is a pseudo-terminal
//!
//! C stdio and Python buffer stdout fully when it is a pipe and by line when it is a terminal. A program
//! killed by SIGTERM does not flush, so through a pipe the lines it printed before (`print("listening")`)
//! would be lost, exactly the evidence a student needs. A pseudo-terminal makes the output reach us as a
//! person at a terminal would see it. Output post-processing (OPOST) is off so `\n` is not turned into
//! `\r\n`. It is not made the program's controlling terminal (no `setsid`/`TIOCSCTTY`): no job-control
//! signals, no SIGHUP. Reading the master fails with EIO once every slave fd is closed: that is EOF. If
//! no pseudo-terminal can be opened, stdout falls back to a pipe. stderr is a pipe (it is unbuffered in
//! C, and `PYTHONUNBUFFERED=1` is set for Python).
//!
//! stdin is a second pseudo-terminal, for the same reason: C stdio flushes a line-buffered stdout before
//! it reads a terminal, never before it reads a pipe, so `printf("> "); fgets(...)` shows its text in
//! time only at a terminal. It is in canonical mode (lines, Ctrl+D for EOF, as typed at a keyboard) with
//! echo, signal keys, flow control and line editing off, so every byte typed reaches the program as is.
//! Lines are capped at 4095 bytes there, as at any terminal; the suites type at most 1,000.
//!
//! # Isolation (design for a private network namespace)
//!
//! [`Isolation::None`] is the only mode today. A later `Isolation::NetNamespace` would start the program
//! in a fresh network namespace (an `unshare(CLONE_NEWUSER | CLONE_NEWNET)` step before exec, then
//! bringing `lo` up), so it cannot reach the network or collide with other runs' ports. Three places are
//! built so that only they change:
//! - the spawning path is the single function [`Program::spawn`];
//! - every lookup of sockets goes through [`procfs`](super::procfs) starting from a pid of the program,
//!   reading `/proc/PID/net/*` (that process's namespace), never `/proc/net/*`;
//! - the grader's side of the program's sockets is created inside [`Program::in_net`], which today just
//!   calls the closure and in that mode would run it on a thread that has entered the program's
//!   namespace (`setns` on `/proc/PID/ns/net`); a socket keeps the namespace it was created in.

use std::collections::HashMap;
use std::ffi::{CStr, OsString};
use std::fs::File;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use super::capture::Capture;
use super::cgroup::RunGroup;
use super::procfs::{self, Proc, Proto, Socket};
use super::runs;
use crate::exit;
use crate::wire::Deadline;

/// Output kept per stream when the caller does not say (the first and last halves).
pub const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;

/// Grace between SIGTERM and SIGKILL when a [`Program`] is dropped without [`Program::stop`].
pub const DEFAULT_GRACE: Duration = Duration::from_secs(1);

/// The environment variable that marks every process of one run.
pub const RUN_MARKER_VAR: &str = "SOCKSPEC_RUN";

/// After SIGKILL, how long to wait for the processes to die and be reaped before calling them stragglers.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// SIGKILL rounds: a process forking fast can start a child between a scan and the kill of its parent;
/// each round scans again and kills what it finds.
const KILL_ROUNDS: u32 = 5;

/// How long [`Program::stop`] waits for the output streams to reach EOF after the processes ended.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);

/// Readiness polling starts this fast (a server is often up within milliseconds) and slows to
/// `POLL_MAX` so a slow starter costs little CPU.
const POLL_FIRST: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(20);

/// How the program is separated from the machine. See the module documentation for the design of
/// the namespace mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// The program shares the grader's network: it must use loopback and ports it is given.
    #[default]
    None,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The command, already expanded (`{port}` replaced). `argv[0]` is a path (relative ones are taken
    /// from the grader's current directory) or a name looked up on `PATH`.
    pub argv: Vec<String>,
    /// The program's current directory; the caller creates a fresh one per run.
    pub workdir: PathBuf,
    /// Added to (or replacing entries of) the inherited environment.
    pub env: Vec<(String, String)>,
    /// Bytes kept per output stream ([`Capture`]).
    pub output_cap: usize,
    pub isolation: Isolation,
}

impl LaunchSpec {
    pub fn new(argv: Vec<String>, workdir: impl Into<PathBuf>) -> Self {
        LaunchSpec {
            argv,
            workdir: workdir.into(),
            env: Vec::new(),
            output_cap: DEFAULT_OUTPUT_CAP,
            isolation: Isolation::None,
        }
    }
}

/// Why a program could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("no program to launch: the command is empty")]
    Empty,
    #[error("cannot launch `{program}`: no such program on PATH")]
    NotFound { program: String },
    #[error("cannot launch {}: no such file", path.display())]
    NoSuchFile { path: PathBuf },
    #[error("cannot launch {}: it is a directory", path.display())]
    IsDirectory { path: PathBuf },
    #[error(
        "cannot launch {}: not executable (run `chmod +x` on it, or put its interpreter first, \
         e.g. `python3 {}`)", path.display(), path.display()
    )]
    NotExecutable { path: PathBuf },
    #[error("cannot run a program in {}: not a directory", path.display())]
    Workdir { path: PathBuf },
    #[error("cannot launch `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot start reading the output of `{program}`")]
    Capture {
        program: String,
        #[source]
        source: io::Error,
    },
}

impl LaunchError {
    /// The exit code this error stands for: the program given cannot be launched is a usage error,
    /// a failure of the grader's own machinery is not.
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::Capture { .. } => exit::FAILED,
            _ => exit::USAGE,
        }
    }
}

/// Why [`Program::wait_listening`] found no server socket. The caller adds the stderr tail.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum NotReady {
    #[error("the program ended ({status}) before it listened")]
    Exited { status: ExitStatus },
    #[error("the program did not start listening within {secs:.1} s")]
    Timeout { secs: f64 },
}

/// How [`Program::stop`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopReport {
    /// The leader's exit status; `None` only if even SIGKILL did not end it within the wait.
    pub status: Option<ExitStatus>,
    /// The leader had already ended before it was asked to stop.
    pub exited_by_itself: bool,
    /// Something survived SIGTERM for the grace period.
    pub needed_sigkill: bool,
    /// Processes of the run still alive after SIGKILL (stuck in the kernel, or escaped the marker).
    pub stragglers: usize,
}

/// A running program under test and everything it started. Dropping it stops them all.
pub struct Program {
    name: String,
    pid: i32,
    /// The leader and, once reaped, its status (kept here so a scan can tell "reaped" without reaping).
    leader: Mutex<(Child, Option<ExitStatus>)>,
    /// `SOCKSPEC_RUN=<token>`, the exact environment entry of this run.
    marker: String,
    stdin: Option<Input>,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
    stdout_is_tty: bool,
    /// Descendants seen so far, by pid and start time, so they can be reaped once re-parented to us
    /// (their environment is gone once they are zombies) and never confused with a reused pid.
    known: Mutex<HashMap<i32, u64>>,
    /// The run's cgroup, where one could be made: it holds every descendant, whatever they do.
    group: Option<RunGroup>,
    /// The run's entry in the process-wide registry, by which an interruption or the watchdog stops it.
    _registration: runs::Registration,
    isolation: Isolation,
    stopped: Option<StopReport>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("marker", &self.marker)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Program {
    /// Starts the program: own process group, cwd = `workdir`, stdin and stdout pseudo-terminals (or
    /// pipes), stderr a pipe, each output stream drained by its own thread.
    pub fn spawn(spec: &LaunchSpec) -> Result<Program, LaunchError> {
        let name = spec.argv.first().ok_or(LaunchError::Empty)?.clone();
        let path = resolve_program(&name, &spec.env)?;
        if !spec.workdir.is_dir() {
            return Err(LaunchError::Workdir {
                path: spec.workdir.clone(),
            });
        }
        become_subreaper();
        let token = new_token();
        let group = RunGroup::create(&token);
        let spawn_err = |source| LaunchError::Spawn {
            program: name.clone(),
            source,
        };
        // Held until the run is registered: an interruption either sees the run or refuses to start it.
        let launching = runs::launching().map_err(spawn_err)?;

        let mut cmd = Command::new(&path);
        cmd.arg0(&name)
            .args(&spec.argv[1..])
            .current_dir(&spec.workdir)
            .env("PYTHONUNBUFFERED", "1")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env(RUN_MARKER_VAR, &token)
            .stderr(Stdio::piped())
            .process_group(0);
        let join = group.as_ref().map(RunGroup::join_handle);
        let parent_death = runs::parent_death();
        // SAFETY: the closure runs in the child between fork and exec and only calls open, write, close,
        // prctl and getppid, on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(join) = &join {
                    join.join_self();
                }
                parent_death.arm()
            });
        }
        // stdin a terminal too, as at a keyboard: C stdio flushes a line-buffered stdout before it reads
        // a terminal (not a pipe), so `printf("> "); fgets(...)` shows its output in time.
        let input_master = match open_pty(PtyUse::Input) {
            Ok((master, slave)) => {
                cmd.stdin(Stdio::from(slave));
                Some(master)
            }
            Err(_) => {
                cmd.stdin(Stdio::piped());
                None
            }
        };
        let master = match open_pty(PtyUse::Output) {
            Ok((master, slave)) => {
                cmd.stdout(Stdio::from(slave));
                Some(master)
            }
            Err(_) => {
                cmd.stdout(Stdio::piped());
                None
            }
        };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        // `cmd` holds our copy of the slave; the master reads EOF only once no copy is left but the
        // program's.
        drop(cmd);

        let stdin = match input_master {
            Some(master) => Some(Input::Tty {
                master: File::from(master),
                at_line_start: true,
                ended: false,
            }),
            None => child.stdin.take().map(Input::Pipe),
        };
        if let Some(stdin) = &stdin {
            // Non-blocking, so a program that never reads stdin cannot hold a write past its deadline.
            set_nonblocking(stdin.as_raw_fd());
        }
        let stdout_pipe = child.stdout.take();
        let stderr_pipe = child.stderr.take();
        let pid = child.id() as i32;
        let marker = format!("{RUN_MARKER_VAR}={token}");
        let registration = launching.register(pid, &marker, group.as_ref().map(RunGroup::path));
        let program = Program {
            name: name.clone(),
            pid,
            leader: Mutex::new((child, None)),
            marker,
            stdin,
            stdout: Arc::new(Capture::new(spec.output_cap)),
            stderr: Arc::new(Capture::new(spec.output_cap)),
            stdout_is_tty: master.is_some(),
            known: Mutex::new(HashMap::new()),
            group,
            _registration: registration,
            isolation: spec.isolation,
            stopped: None,
        };
        // From here on a failure drops `program`, which stops the process.
        let capture_err = |source| LaunchError::Capture {
            program: name.clone(),
            source,
        };
        let out = format!("out-{pid}");
        match (master, stdout_pipe) {
            (Some(master), _) => program.stdout.drain(out, File::from(master)),
            (None, Some(pipe)) => program.stdout.drain(out, pipe),
            (None, None) => {
                program.stdout.close();
                Ok(())
            }
        }
        .map_err(capture_err)?;
        match stderr_pipe {
            Some(pipe) => program.stderr.drain(format!("err-{pid}"), pipe),
            None => {
                program.stderr.close();
                Ok(())
            }
        }
        .map_err(capture_err)?;
        Ok(program)
    }

    /// The pid of the process started (the leader of the run's process group).
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// The `SOCKSPEC_RUN=<token>` entry every process of this run has in its environment.
    pub fn run_marker(&self) -> &str {
        &self.marker
    }

    /// What the program wrote on stdout.
    pub fn stdout(&self) -> &Arc<Capture> {
        &self.stdout
    }

    /// What the program wrote on stderr.
    pub fn stderr(&self) -> &Arc<Capture> {
        &self.stderr
    }

    /// False when no pseudo-terminal could be opened and stdout is a pipe (output may then be lost
    /// when the program is killed).
    pub fn stdout_is_tty(&self) -> bool {
        self.stdout_is_tty
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// Runs `f`, which creates the grader's side of a connection to the program, where the program's
    /// sockets can be reached. With [`Isolation::None`] that is right here.
    pub fn in_net<T>(&self, f: impl FnOnce() -> T) -> T {
        match self.isolation {
            Isolation::None => f(),
        }
    }

    /// Writes all of `bytes` to the program's stdin, or fails with `TimedOut` when the program does not
    /// take them before the deadline (a full pipe), or `BrokenPipe` when nobody reads stdin any more.
    pub fn write_stdin(&mut self, bytes: &[u8], deadline: Deadline) -> io::Result<()> {
        let stdin = self.stdin.as_mut().filter(|s| !s.ended()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the program's stdin is closed")
        })?;
        stdin.write_all_by(bytes, deadline)
    }

    /// Ends the program's stdin: it reads end of file. A pipe is closed; a terminal gets Ctrl+D, as a
    /// person types it, and stays open until the program is stopped (closing it would hang it up and
    /// drop lines typed but not yet read).
    pub fn close_stdin(&mut self) {
        match &mut self.stdin {
            Some(Input::Tty {
                master,
                at_line_start,
                ended,
            }) if !*ended => {
                *ended = true;
                // Ctrl+D sends a pending partial line; only at the start of a line does it read as EOF.
                let eof: &[u8] = if *at_line_start { b"\x04" } else { b"\x04\x04" };
                let _ = write_nonblocking(master, eof, Deadline::after(EOF_WRITE_WAIT));
            }
            Some(Input::Tty { .. }) => {}
            _ => self.stdin = None,
        }
    }

    /// The leader's exit status if it has ended (reaping it), without waiting.
    pub fn try_status(&self) -> Option<ExitStatus> {
        let mut leader = lock(&self.leader);
        if leader.1.is_none() {
            leader.1 = leader.0.try_wait().ok().flatten();
        }
        leader.1
    }

    /// True once the leader has been reaped: from then on its pid may be reused by anyone.
    fn leader_reaped(&self) -> bool {
        lock(&self.leader).1.is_some()
    }

    /// Waits for the leader to end, up to the deadline.
    pub fn wait_exit(&self, deadline: Deadline) -> Option<ExitStatus> {
        let mut pause = POLL_FIRST;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            let left = deadline.remaining()?;
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(POLL_MAX);
        }
    }

    /// Waits until a process of the run listens on TCP (state LISTEN) or holds a bound UDP socket, and
    /// returns the address to reach it at. Looks at the kernel's socket tables, so no connection is
    /// used up, and a program that listens on another port than the one it was given is found too.
    pub fn wait_listening(&self, proto: Proto, deadline: Deadline) -> Result<SocketAddr, NotReady> {
        let start = Instant::now();
        let mut pause = POLL_FIRST;
        loop {
            let alive = self.alive_pids();
            if let Some(addr) = procfs::server_addr(&procfs::sockets_of(&alive), proto) {
                return Ok(addr);
            }
            if let Some(status) = self.try_status() {
                // A leader that forked a server and left is not done: wait for the server.
                if alive.is_empty() {
                    return Err(NotReady::Exited { status });
                }
            }
            let Some(left) = deadline.remaining() else {
                let waited = deadline.instant().saturating_duration_since(start);
                return Err(NotReady::Timeout {
                    secs: waited.as_secs_f64(),
                });
            };
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(POLL_MAX);
        }
    }

    /// Every socket held by a live process of the run, IPv4 first, then by port.
    pub fn sockets(&self) -> Vec<Socket> {
        procfs::sockets_of(&self.alive_pids())
    }

    /// Pids of the live (not zombie) processes of the run.
    pub fn processes(&self) -> Vec<u32> {
        self.alive_pids().into_iter().map(|p| p as u32).collect()
    }

    fn alive_pids(&self) -> Vec<i32> {
        self.scan()
            .iter()
            .filter(|p| !p.is_zombie())
            .map(|p| p.pid)
            .collect()
    }

    /// The processes of the run now, zombies included; remembers the ones not seen before.
    fn scan(&self) -> Vec<Proc> {
        // While the leader is not reaped its pid (and so its process group id) cannot be reused: they
        // identify the run. Afterwards only the marker and the known (pid, start time) pairs do.
        let leader_unreaped = !self.leader_reaped();
        let members = self
            .group
            .as_ref()
            .map(RunGroup::members)
            .unwrap_or_default();
        let mut known = lock(&self.known);
        let procs = procfs::with_descendants(|p| {
            (leader_unreaped && (p.pid == self.pid || p.pgrp == self.pid))
                || known.get(&p.pid) == Some(&p.start)
                || members.contains(&p.pid)
                || (!p.is_zombie() && procfs::has_env_entry(p.pid, &self.marker))
        });
        for p in &procs {
            // The leader is reaped through its `Child`, never here.
            if p.pid != self.pid {
                known.insert(p.pid, p.start);
            }
        }
        procs
    }

    /// Reaps known descendants that died after being re-parented to this process, and forgets those
    /// that are gone.
    fn reap_known(&self) {
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        lock(&self.known).retain(|&pid, &mut start| match procfs::stat(pid) {
            Some(p) if p.start == start => {
                if p.is_zombie() && p.ppid == me {
                    let mut status = 0;
                    // SAFETY: waits for this one pid, which the check above shows is our dead child.
                    unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                }
                true
            }
            _ => false,
        });
    }

    /// Sends `signal` to the process group (while it is surely ours) and to every live process of the
    /// run, each checked against its start time just before. Returns how many were live.
    fn signal_all(&self, signal: libc::c_int) -> usize {
        let procs = self.scan();
        if !self.leader_reaped() {
            // SAFETY: the leader is not reaped, so its process group id is still this run's.
            unsafe { libc::killpg(self.pid, signal) };
        }
        let mut live = 0;
        for p in procs.iter().filter(|p| !p.is_zombie()) {
            if procfs::stat(p.pid).is_some_and(|now| now.start == p.start) {
                live += 1;
                // SAFETY: plain kill(2) on a pid just checked to be the process found in the run.
                unsafe { libc::kill(p.pid, signal) };
            }
        }
        live
    }

    /// Waits until the leader is reaped and no process of the run is alive; false at the deadline.
    fn wait_gone(&self, deadline: Deadline) -> bool {
        let mut pause = POLL_FIRST;
        loop {
            // Scan before reaping the leader: while it is unreaped, its group id still identifies
            // every member, zombies included, and the scan records them for reaping.
            let alive = self.alive_pids();
            let leader_done = self.try_status().is_some();
            self.reap_known();
            if leader_done && alive.is_empty() {
                return true;
            }
            let Some(left) = deadline.remaining() else {
                return false;
            };
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(POLL_MAX);
        }
    }

    /// Stops the program and everything it started: SIGTERM to all, SIGKILL to what is left after
    /// `grace`, then waits (bounded) for them to be reaped and for the output to reach its end, so the
    /// captures hold everything written. Calling it again returns the first report.
    pub fn stop(&mut self, grace: Duration) -> StopReport {
        if let Some(report) = self.stopped {
            return report;
        }
        let exited_by_itself = self.try_status().is_some();
        self.close_stdin();
        self.signal_all(libc::SIGTERM);
        let mut needed_sigkill = false;
        if !self.wait_gone(Deadline::after(grace)) {
            needed_sigkill = true;
            let deadline = Deadline::after(KILL_WAIT);
            for _ in 0..KILL_ROUNDS {
                self.signal_all(libc::SIGKILL);
                if self.wait_gone(Deadline::after(KILL_WAIT / KILL_ROUNDS)) || deadline.passed() {
                    break;
                }
            }
        }
        let stragglers = self.alive_pids().len();
        let drain = Deadline::after(OUTPUT_DRAIN);
        self.stdout.wait_closed(drain);
        self.stderr.wait_closed(drain);
        let report = StopReport {
            status: self.try_status(),
            exited_by_itself,
            needed_sigkill,
            stragglers,
        };
        self.stopped = Some(report);
        report
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        self.stop(DEFAULT_GRACE);
    }
}

/// Finds the file `name` stands for: a path if it holds a `/`, else the first executable on `PATH`
/// (the `PATH` of `env` if it sets one).
pub fn resolve_program(name: &str, env: &[(String, String)]) -> Result<PathBuf, LaunchError> {
    if name.is_empty() {
        return Err(LaunchError::Empty);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    if name.contains('/') {
        let path = cwd.join(name);
        check_executable(&path)?;
        return Ok(path);
    }
    let search: Option<OsString> = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.into())
        .or_else(|| std::env::var_os("PATH"));
    for dir in search.iter().flat_map(std::env::split_paths) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        let path = cwd.join(dir).join(name);
        if check_executable(&path).is_ok() {
            return Ok(path);
        }
    }
    Err(LaunchError::NotFound {
        program: name.to_string(),
    })
}

fn check_executable(path: &Path) -> Result<(), LaunchError> {
    let path_buf = || path.to_path_buf();
    let meta = std::fs::metadata(path).map_err(|_| LaunchError::NoSuchFile { path: path_buf() })?;
    if meta.is_dir() {
        return Err(LaunchError::IsDirectory { path: path_buf() });
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(LaunchError::NotExecutable { path: path_buf() });
    }
    Ok(())
}

/// A token no other run (in this process or another grader) has: pid, a counter, the clock.
fn new_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// Makes this process the reaper of its orphaned descendants (see the module documentation). Best
/// effort: without it orphans go to init, which reaps them too; only the bookkeeping here gets less.
fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with an integer option and argument; no memory is passed.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    });
}

/// The program's stdin as the grader holds it: the writing end of a pipe, or the master side of a
/// pseudo-terminal.
enum Input {
    Pipe(ChildStdin),
    Tty {
        master: File,
        /// The last byte written was a newline (or nothing was written): Ctrl+D there reads as EOF.
        at_line_start: bool,
        /// Ctrl+D was sent: the program has read, or will read, the end of its input.
        ended: bool,
    },
}

impl Input {
    fn ended(&self) -> bool {
        matches!(self, Input::Tty { ended: true, .. })
    }

    fn as_raw_fd(&self) -> libc::c_int {
        match self {
            Input::Pipe(pipe) => pipe.as_raw_fd(),
            Input::Tty { master, .. } => master.as_raw_fd(),
        }
    }

    fn write_all_by(&mut self, bytes: &[u8], deadline: Deadline) -> io::Result<()> {
        match self {
            Input::Pipe(pipe) => write_nonblocking(pipe, bytes, deadline),
            Input::Tty {
                master,
                at_line_start,
                ..
            } => {
                write_nonblocking(master, bytes, deadline)?;
                if let Some(&last) = bytes.last() {
                    *at_line_start = last == b'\n';
                }
                Ok(())
            }
        }
    }
}

/// How long ending a terminal's input (Ctrl+D) may wait for room in its buffer.
const EOF_WRITE_WAIT: Duration = Duration::from_millis(200);

/// Writes all of `bytes` to a non-blocking fd, waiting for room up to the deadline: `TimedOut` when the
/// program does not take them in time (a full pipe), the write's own error otherwise.
fn write_nonblocking(
    out: &mut (impl Write + AsRawFd),
    mut bytes: &[u8],
    deadline: Deadline,
) -> io::Result<()> {
    while !bytes.is_empty() {
        match out.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let Some(left) = deadline.remaining() else {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the program did not read its stdin in time",
                    ));
                };
                let mut fd = libc::pollfd {
                    fd: out.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // Rounded up, so a wait never ends just before the deadline and spins.
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                // SAFETY: one valid pollfd, count 1. Its result is only a wake-up; the write says more.
                unsafe { libc::poll(&mut fd, 1, ms) };
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A terminal whose reader is gone answers EIO where a pipe answers EPIPE: the same for us.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, e))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn set_nonblocking(fd: libc::c_int) {
    // SAFETY: fcntl on an fd we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// What a pseudo-terminal is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PtyUse {
    /// The program's stdout: output post-processing off, so bytes arrive as written.
    Output,
    /// The program's stdin: lines as typed at a keyboard (canonical mode, so Ctrl+D is EOF), but no echo
    /// into anyone's output and no byte taken as a signal, flow control or line editing.
    Input,
}

/// Opens a pseudo-terminal pair (master, slave) set up for `usage`.
///
/// Not `openpty(3)`: its fds are not close-on-exec, and while it runs another thread of the grader may
/// spawn a program that would inherit them. A stray copy of the slave in an unrelated long-lived process
/// means our master never reads EOF. `posix_openpt` and `open` take `O_CLOEXEC` atomically.
fn open_pty(usage: PtyUse) -> io::Result<(OwnedFd, OwnedFd)> {
    let check = |ret: libc::c_int| {
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    };
    // SAFETY: plain libc calls on fds this function owns; buffers are sized and NUL-terminated by libc.
    unsafe {
        let master = check(libc::posix_openpt(
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?;
        let master = OwnedFd::from_raw_fd(master);
        check(libc::grantpt(master.as_raw_fd()))?;
        check(libc::unlockpt(master.as_raw_fd()))?;
        let mut name = [0 as libc::c_char; 128];
        let err = libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len());
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        let slave = check(libc::open(
            CStr::from_ptr(name.as_ptr()).as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ))?;
        let slave = OwnedFd::from_raw_fd(slave);
        let mut term: libc::termios = std::mem::zeroed();
        check(libc::tcgetattr(slave.as_raw_fd(), &mut term))?;
        match usage {
            PtyUse::Output => term.c_oflag &= !libc::OPOST,
            PtyUse::Input => {
                term.c_lflag |= libc::ICANON;
                term.c_lflag &= !(libc::ECHO
                    | libc::ECHOE
                    | libc::ECHOK
                    | libc::ECHONL
                    | libc::ECHOCTL
                    | libc::ECHOKE
                    | libc::ISIG
                    | libc::IEXTEN);
                term.c_iflag &= !(libc::ICRNL
                    | libc::INLCR
                    | libc::IGNCR
                    | libc::ISTRIP
                    | libc::IXON
                    | libc::IXOFF);
                for cc in [
                    libc::VERASE,
                    libc::VKILL,
                    libc::VWERASE,
                    libc::VREPRINT,
                    libc::VLNEXT,
                    libc::VEOL,
                    libc::VEOL2,
                    libc::VDISCARD,
                ] {
                    // 0 is _POSIX_VDISABLE on Linux: no byte has that meaning.
                    term.c_cc[cc] = 0;
                }
                term.c_cc[libc::VEOF] = 0x04;
            }
        }
        check(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &term))?;
        // A size, so programs that ask for one (to wrap lines) get a usual answer instead of 0x0.
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &size);
        Ok((master, slave))
    }
}
