//! Running `sockspec`: one-shot runs with a timeout, and long-running children in their own process group
//! that are always ended (SIGTERM, a grace period, SIGKILL, wait) even when the test fails.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The deadline for anything that should happen; only a failing test waits this long.
pub const WAIT: Duration = Duration::from_secs(20);

/// How long "nothing arrives" is watched for.
pub const SILENCE: Duration = Duration::from_millis(300);

/// How long a child has to end after SIGTERM before it gets SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

pub const BIN: &str = env!("CARGO_BIN_EXE_sockspec");

/// A finished one-shot run of `sockspec`.
pub struct Run {
    pub cmdline: String,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The command, its status, stdout and stderr: what a failing test shows.
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            self.cmdline,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "expected success\n{}",
            self.describe()
        );
        self
    }

    /// Asserts the exit `code` and a stderr of exactly one line, `sockspec: ...`, holding every needle.
    #[track_caller]
    pub fn assert_error(&self, code: u8, needles: &[&str]) -> &Self {
        assert_eq!(
            self.output.status.code(),
            Some(code.into()),
            "exit code\n{}",
            self.describe()
        );
        assert_one_line_error(&self.stderr(), needles, &self.describe());
        self
    }
}

#[track_caller]
pub fn assert_one_line_error(stderr: &str, needles: &[&str], context: &str) {
    let message = stderr.strip_suffix('\n').unwrap_or(stderr);
    assert!(
        message.starts_with("sockspec: ") && !message.contains('\n'),
        "want one line `sockspec: ...` on stderr\n{context}"
    );
    for needle in needles {
        assert!(
            message.contains(needle),
            "stderr lacks {needle:?}\n{context}"
        );
    }
}

fn cmdline(args: &[&str]) -> String {
    std::iter::once("sockspec")
        .chain(args.iter().copied())
        .map(|a| {
            if a.contains(' ') || a.is_empty() {
                format!("'{a}'")
            } else {
                a.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `sockspec ARGS` with `stdin`, killed if it outlives [`WAIT`].
#[track_caller]
pub fn run(args: &[&str], stdin: &[u8]) -> Run {
    let output = assert_cmd::Command::new(BIN)
        .args(args)
        .write_stdin(stdin)
        .timeout(WAIT)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cmdline(args)));
    Run {
        cmdline: cmdline(args),
        output,
    }
}

/// A `sockspec` child running in its own process group; dropping it ends the group and reaps the child.
pub struct Proc {
    cmdline: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    exited: Receiver<()>,
    status: Option<ExitStatus>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Proc {
    #[track_caller]
    pub fn spawn(args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", cmdline(args)));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let (line_tx, lines) = mpsc::channel();
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                if line_tx
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        let collected = Arc::new(Mutex::new(Vec::new()));
        let sink = collected.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let exited = watch_exit(child.id());
        Proc {
            cmdline: cmdline(args),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr: collected,
            exited,
            status: None,
            stdout_reader: Some(stdout_reader),
            stderr_reader: Some(stderr_reader),
        }
    }

    /// Spawns a server and reads its first line, `listening on ADDR`.
    #[track_caller]
    pub fn serve(args: &[&str]) -> (Proc, SocketAddr) {
        let mut proc = Proc::spawn(args);
        let first = proc.expect_line();
        let addr = first
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                panic!("first line is not `listening on ADDR`\n{}", proc.describe())
            });
        (proc, addr)
    }

    /// The next stdout line, within [`WAIT`].
    #[track_caller]
    pub fn expect_line(&mut self) -> String {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no line within {WAIT:?}\n{}", self.describe())
            }
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed\n{}", self.describe()),
        }
    }

    /// Asserts that no stdout line comes within `within` (a deadline that expires, not a sleep).
    #[track_caller]
    pub fn expect_no_line(&mut self, within: Duration) {
        match self.lines.recv_timeout(within) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(line) => {
                self.seen.push(line.clone());
                panic!(
                    "unexpected line {line:?} within {within:?}\n{}",
                    self.describe()
                )
            }
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed\n{}", self.describe()),
        }
    }

    /// Writes `text` to the child's stdin.
    #[track_caller]
    pub fn type_in(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        if let Err(e) = stdin.write_all(text.as_bytes()).and_then(|_| stdin.flush()) {
            panic!("cannot write to stdin: {e}\n{}", self.describe());
        }
    }

    /// Closes the child's stdin: the end of its input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits, within [`WAIT`], for the child to exit by itself.
    #[track_caller]
    pub fn wait_exit(&mut self) -> ExitStatus {
        if self.status.is_none() {
            if self.exited.recv_timeout(WAIT).is_err() {
                panic!("still running after {WAIT:?}\n{}", self.describe());
            }
            self.status = Some(self.child.wait().expect("reap the child"));
            // The exit closed the pipe, so the reader ends: after this, stderr() has everything.
            if let Some(reader) = self.stderr_reader.take() {
                let _ = reader.join();
            }
        }
        self.status.unwrap()
    }

    /// Waits for a successful exit.
    #[track_caller]
    pub fn assert_exits_ok(&mut self) {
        let status = self.wait_exit();
        assert!(
            status.success(),
            "exit status {status}\n{}",
            self.describe()
        );
    }

    /// The stdout lines not read yet, once the child has exited.
    #[track_caller]
    pub fn rest(&mut self) -> Vec<String> {
        self.wait_exit();
        let mut rest = Vec::new();
        // Bounded: the reader thread ends once the pipe closes, which the exit just did.
        while let Ok(line) = self.lines.recv_timeout(WAIT) {
            self.seen.push(line.clone());
            rest.push(line);
        }
        rest
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub fn describe(&self) -> String {
        let mut text = format!("command: {}\n", self.cmdline);
        let _ = writeln!(text, "status: {:?}", self.status);
        let _ = writeln!(text, "stdout so far:\n{}", self.seen.join("\n"));
        let _ = write!(text, "stderr so far:\n{}", self.stderr());
        text
    }

    /// Sends `signal` to the child's process group (SIGINT, SIGKILL, SIGSTOP, ...).
    pub fn signal_group(&self, signal: i32) {
        // The child leads its own group; the group id is its pid, still ours until it is reaped.
        // SAFETY: kill(2) with a negative pid signals that process group, nothing else.
        unsafe {
            libc::kill(-(self.child.id() as i32), signal);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin = None;
        if self.status.is_none() {
            self.signal_group(libc::SIGTERM);
            if self.exited.recv_timeout(GRACE).is_err() {
                self.signal_group(libc::SIGKILL);
                let _ = self.exited.recv_timeout(WAIT);
            }
            self.status = self.child.wait().ok();
        }
        for reader in [self.stdout_reader.take(), self.stderr_reader.take()]
            .into_iter()
            .flatten()
        {
            let _ = reader.join();
        }
    }
}

/// Tells when process `pid` has exited, without reaping it (waitid with WNOWAIT): until the owner calls
/// wait(), the pid and its process group cannot be reused, so signalling them stays safe.
fn watch_exit(pid: u32) -> Receiver<()> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            let _ = tx.send(());
            return;
        }
    });
    rx
}

/// An address on loopback where nobody listens: a socket is bound there but never listens, so
/// connections are refused and no other test can take the port while `holder` lives.
pub fn closed_port() -> (socket2::Socket, u16) {
    let holder =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    let any: SocketAddr = (Ipv4Addr::LOCALHOST, 0).into();
    holder.bind(&any.into()).expect("bind 127.0.0.1:0");
    let port = holder
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("an IP address")
        .port();
    (holder, port)
}
