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
//! - `pty`: stdin and stdout as pseudo-terminals, so output is seen as at a keyboard.
//! - `tree`: the processes of a run: found by process group, marker, cgroup and ancestry; stopped.
//!
//! # What the child does before exec
//!
//! Between fork and exec (only async-signal-safe calls, on values prepared before the fork), the child
//! joins the run's cgroups, sets the resource limits of [`LaunchSpec::limits`], and with a private
//! [`Network`] enters that network namespace (`setns`) and drops the capabilities that would let it
//! leave or route out (even when the grader runs as root): the program starts there, with every port
//! free and nothing but loopback (see [`crate::grade::netns`]). The grader's side of its connections is
//! made in the same namespace through [`Program::in_net`]. Every lookup of the program's sockets goes
//! through [`super::procfs`] from a pid of the program, reading `/proc/PID/net/*` (that
//! process's namespace), never `/proc/net/*`.

mod pty;
mod tree;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pty::{open_pty, set_nonblocking, write_nonblocking, Input, PtyUse, EOF_WRITE_WAIT};
use tree::become_subreaper;

use super::capture::Capture;
use super::cgroup::RunGroup;
use super::limits::{self, Limits, ProcessCap};
use super::netns::Network;
use super::procfs::{self, Proto};
use super::runs;
use crate::exit;
use crate::wire::Deadline;

/// Output kept per stream when the caller does not say (the first and last halves).
pub const DEFAULT_OUTPUT_CAP: usize = 1024 * 1024;

/// Grace between SIGTERM and SIGKILL when a [`Program`] is dropped without [`Program::stop`].
pub const DEFAULT_GRACE: Duration = Duration::from_secs(1);

/// The environment variable that marks every process of one run.
pub const RUN_MARKER_VAR: &str = "SOCKSPEC_RUN";

/// Readiness polling starts this fast (a server is often up within milliseconds) and slows to
/// `POLL_MAX` so a slow starter costs little CPU.
const POLL_FIRST: Duration = Duration::from_millis(2);
const POLL_MAX: Duration = Duration::from_millis(10);

/// Capabilities a program in a private namespace loses (from its bounding set, before exec):
/// `CAP_SYS_ADMIN` (`setns` back out, `unshare`), `CAP_NET_ADMIN` (interfaces, routes), `CAP_BPF`.
const NETWORK_ESCAPE_CAPS: [libc::c_ulong; 3] = [21, 12, 39];

/// How much of the end of stderr is searched for evidence of a limit breach.
const EVIDENCE_BYTES: usize = 64 * 1024;

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
    /// Where the program runs: the machine's network, or a private namespace made for this launch.
    pub network: Network,
    /// Resource limits of the program; `None` leaves it the grader's own.
    pub limits: Option<Limits>,
}

impl LaunchSpec {
    /// A launch of `argv` (program first) in `workdir`, with the default output cap, the machine's
    /// network and no limits of its own.
    pub fn new(argv: Vec<String>, workdir: impl Into<PathBuf>) -> Self {
        LaunchSpec {
            argv,
            workdir: workdir.into(),
            env: Vec::new(),
            output_cap: DEFAULT_OUTPUT_CAP,
            network: Network::Shared,
            limits: None,
        }
    }
}

/// Why a program could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("no program to launch: the command is empty")]
    /// The command has no program.
    Empty,
    #[error("cannot launch `{program}`: no such program on PATH")]
    /// A bare program name not found on `PATH`.
    NotFound {
        /// The program's name as given.
        program: String,
    },
    #[error("cannot launch {}: no such file", path.display())]
    /// A program path that does not exist.
    NoSuchFile {
        /// The path as given.
        path: PathBuf,
    },
    #[error("cannot launch {}: it is a directory", path.display())]
    /// A program path that is a directory.
    IsDirectory {
        /// The path as given.
        path: PathBuf,
    },
    #[error(
        "cannot launch {}: not executable (run `chmod +x` on it, or put its interpreter first, \
         e.g. `python3 {}`)", path.display(), path.display()
    )]
    /// A program file without execute permission.
    NotExecutable {
        /// The path as given.
        path: PathBuf,
    },
    #[error("cannot run a program in {}: not a directory", path.display())]
    /// The working directory is missing or not a directory.
    Workdir {
        /// The directory asked for.
        path: PathBuf,
    },
    #[error("cannot launch `{program}`")]
    /// The operating system refused to start the program.
    Spawn {
        /// The program as given.
        program: String,
        #[source]
        /// Why it refused.
        source: io::Error,
    },
    #[error("cannot start reading the output of `{program}`")]
    /// The program started but its output could not be read (a fault of the grader).
    Capture {
        /// The program as given.
        program: String,
        #[source]
        /// Why its output could not be read.
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
    /// The program ended before it listened.
    Exited {
        /// How the program ended.
        status: ExitStatus,
    },
    #[error("the program did not start listening within {secs:.1} s")]
    /// No listening socket appeared before the deadline.
    Timeout {
        /// The wait, in seconds.
        secs: f64,
    },
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
    network: Network,
    limits: Option<Limits>,
    /// How the process limit is enforced for this run.
    process_cap: ProcessCap,
    /// Signals that killed descendants reaped here (the leader's status is kept with it): evidence
    /// of a limit breach (SIGXCPU, SIGXFSZ).
    killed_by: Mutex<Vec<i32>>,
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
        let group = RunGroup::create_limited(&token, spec.limits.map(|l| l.processes));
        let process_cap = match (&spec.limits, &group) {
            (None, _) => ProcessCap::None,
            (Some(_), Some(group)) if group.limits_tasks() => ProcessCap::PidsCgroup,
            (Some(_), _) => limits::process_cap_without_cgroup(),
        };
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
        let nproc = (process_cap == ProcessCap::Rlimit)
            .then(|| spec.limits.map(|l| limits::nproc_allowance(l.processes)))
            .flatten();
        let rlimits = spec.limits.map(|l| l.rlimits(nproc)).unwrap_or_default();
        let netns = spec.network.namespace().map(|ns| ns.raw_fd());
        let parent_death = runs::parent_death();
        // SAFETY: the closure runs in the child between fork and exec and only makes system calls (open,
        // write, close, sigprocmask, setrlimit, setns, prctl, getppid) on values prepared before the
        // fork; it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                // The grader blocks its stop signals for its signal thread, and a mask survives exec:
                // a program started with SIGTERM blocked would be stopped only by SIGKILL, after the
                // whole grace period, at every check.
                let mut empty: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut empty);
                libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
                if let Some(join) = &join {
                    join.join_self();
                }
                for limit in &rlimits {
                    limit.apply();
                }
                if let Some(fd) = netns {
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    // A program run by root would keep the capabilities to leave its namespace or
                    // give it routes out: it never gets them (best effort; nothing the lesson needs).
                    for cap in NETWORK_ESCAPE_CAPS {
                        libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
                    }
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
        let cgroups = group.as_ref().map(RunGroup::dirs).unwrap_or_default();
        let registration = launching.register(pid, &marker, cgroups);
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
            network: spec.network.clone(),
            limits: spec.limits,
            process_cap,
            killed_by: Mutex::new(Vec::new()),
            _registration: registration,
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

    /// The network the program runs in.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Runs `f`, which creates the grader's side of a connection to the program, where the program's
    /// sockets can be reached: right here on the shared network, on a thread inside the program's
    /// namespace otherwise. Fails only when that namespace cannot be entered.
    pub fn in_net<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        self.network.run(f)
    }

    /// How the process limit is enforced for this program.
    pub fn process_cap(&self) -> ProcessCap {
        self.process_cap
    }

    /// The limit the program ran into, if the evidence shows one (see [`limits`]). Meant for a stopped
    /// program: its output is complete and its descendants are reaped.
    pub fn breach(&self) -> Option<limits::Breach> {
        let limits = self.limits.as_ref()?;
        let mut killed_by = lock(&self.killed_by).clone();
        killed_by.extend(self.try_status().and_then(|s| {
            use std::os::unix::process::ExitStatusExt;
            s.signal()
        }));
        let evidence = limits::Evidence {
            killed_by,
            refused_forks: self.group.as_ref().and_then(RunGroup::refused_forks),
            nproc_rlimit: self.process_cap == ProcessCap::Rlimit,
            stderr: self.stderr.tail(EVIDENCE_BYTES),
        };
        evidence.breach(limits)
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
