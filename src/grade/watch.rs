//! Watching what a program prints. Its stdout goes into the check's transcript as it comes (so a report
//! shows printed lines in order with the bytes on the wire), and a wait for a printed answer ends as
//! soon as the answer is there, or once the program has plainly answered something else: it took the
//! input it was given, printed, and went back to waiting. Only silence waits out the deadline.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::capture::Capture;
use super::launch::Program;
use super::procfs::{self, Proto};
use super::verdict::{Direction, Transcript};
use crate::wire::Deadline;

/// The transcript channel of the program's stdout.
pub const STDOUT: &str = "stdout";

/// How often the tap and the watch look again.
const POLL: Duration = Duration::from_millis(25);

/// Copies a program's stdout into a transcript as it comes, on a thread of its own.
pub struct Tap {
    shared: Arc<TapState>,
}

struct TapState {
    capture: Arc<Capture>,
    log: Transcript,
    /// Absolute stdout position recorded so far.
    seen: Mutex<u64>,
    stop: AtomicBool,
}

impl TapState {
    /// Records what was printed since the last time (nothing once the tap is finished).
    fn sync(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        let total = self.capture.total();
        if total <= *seen {
            return;
        }
        let view = self.capture.since(*seen);
        // Without dropped bytes the view is exactly the new bytes; with them (a flood), the rest is
        // counted from the total and a repeated byte or two does not matter.
        *seen = if self.capture.cut() == 0 {
            *seen + view.len() as u64
        } else {
            total
        };
        if !view.is_empty() {
            self.log.record_merged(STDOUT, Direction::Received, &view);
        }
    }
}

impl Tap {
    /// Starts copying from the capture's current end.
    pub fn start(capture: Arc<Capture>, log: Transcript) -> Tap {
        let shared = Arc::new(TapState {
            seen: Mutex::new(capture.total()),
            capture,
            log,
            stop: AtomicBool::new(false),
        });
        let state = Arc::clone(&shared);
        // Not joined: it ends within one poll of `stop`, or when the stream ends.
        let _ = std::thread::Builder::new()
            .name("stdout-tap".into())
            .spawn(move || loop {
                let pos = *state.seen.lock().unwrap_or_else(|p| p.into_inner());
                let more = state
                    .capture
                    .wait_since(pos, Deadline::after(POLL), |v| !v.is_empty());
                state.sync();
                if state.stop.load(Ordering::Relaxed) || (!more && state.capture.is_closed()) {
                    break;
                }
            });
        Tap { shared }
    }

    /// Records everything printed so far, what is still in the pipe included: call before the
    /// transcript is read.
    pub fn sync(&self) {
        self.shared.capture.catch_up();
        self.shared.sync();
    }

    /// Records everything printed so far, and nothing after: what a program prints while it is being
    /// stopped is not part of its check.
    pub fn finish(&self) {
        self.shared.capture.catch_up();
        self.shared.sync();
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The program's end of what the grader fed it, to see whether it has read it: its end of a TCP
/// connection, or its UDP socket.
#[derive(Debug, Clone, Copy)]
pub struct Feed {
    pub proto: Proto,
    /// The program's address.
    pub local: SocketAddr,
    /// The grader's address (TCP).
    pub remote: Option<SocketAddr>,
}

/// How a watch of the output ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// What was looked for is there.
    Found,
    /// The program printed, took its input and waits again, quiet: it will print nothing more for it.
    Settled,
    /// Its stdout ended (the program ended).
    Ended,
    /// The deadline passed.
    Deadline,
}

/// Waits until `found` holds for the output printed after `mark`, or the program has settled (see
/// [`Watched::Settled`]: printed something, then `quiet` without a byte while every thread waits), or
/// the stream ends, or the deadline passes.
///
/// A program that was given input is woken by it (it runs), so one that waits with nothing running
/// has taken what it will take: what it leaves unread it will not read until it is given something
/// else (a line typed, another message).
pub fn watch(
    program: &Program,
    mark: u64,
    deadline: Deadline,
    quiet: Duration,
    mut found: impl FnMut(&[u8]) -> bool,
) -> Watched {
    let stdout = program.stdout();
    let mut last_total = stdout.total();
    let mut last_change = Instant::now();
    loop {
        let slice = Deadline::after(deadline.remaining().unwrap_or_default().min(POLL));
        if stdout.wait_since(mark, slice, &mut found) {
            return Watched::Found;
        }
        if stdout.is_closed() {
            return Watched::Ended;
        }
        if deadline.passed() {
            return Watched::Deadline;
        }
        let total = stdout.total();
        if total != last_total {
            last_total = total;
            last_change = Instant::now();
            continue;
        }
        if total > mark && last_change.elapsed() >= quiet && idle(program) {
            return Watched::Settled;
        }
    }
}

/// Every thread of the program waits.
fn idle(program: &Program) -> bool {
    procfs::activity(&pids(program)).idle()
}

/// The pids of the program's live processes, as /proc names them.
pub fn pids(program: &Program) -> Vec<i32> {
    program.processes().iter().map(|&p| p as i32).collect()
}

/// Every thread waits, and the program has read everything it was sent on `feed` (a server that waits
/// on another client, leaving this one's message unread, is not done with it).
fn idle_and_fed(pids: &[i32], feed: Feed) -> bool {
    if !procfs::activity(pids).idle() {
        return false;
    }
    // A socket no longer found was closed by the program: nothing more will be read from it.
    pids.iter()
        .find_map(|&pid| procfs::unread_bytes(pid, feed.proto, feed.local, feed.remote))
        .is_none_or(|unread| unread == 0)
}

/// A look at a program from a connection to it, without the program's handle: its first process and
/// that process's descendants (enough to tell that it waits; a process it lost track of makes it look
/// busy, never idle), and its stderr.
#[derive(Debug, Clone)]
pub struct Probe {
    pub pid: i32,
    pub feed: Feed,
    pub stderr: Arc<Capture>,
}

/// Why a program will not answer on a connection, when it plainly will not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It read everything it was sent and waits for more.
    Waiting,
    /// A traceback appeared on its stderr (a thread died) and nothing of it is running.
    Traceback,
}

impl Probe {
    /// Whether the program has plainly stopped answering on this connection: every thread of it waits,
    /// and it has read everything it was sent, or a traceback appeared on stderr after `stderr_mark`.
    pub fn stopped(&self, stderr_mark: u64) -> Option<Stopped> {
        let pids: Vec<i32> = procfs::with_descendants(|p| p.pid == self.pid)
            .iter()
            .filter(|p| !p.is_zombie())
            .map(|p| p.pid)
            .collect();
        if idle_and_fed(&pids, self.feed) {
            return Some(Stopped::Waiting);
        }
        let traceback = crate::grade::printed::contains(
            &self.stderr.since(stderr_mark),
            b"Traceback (most recent call last)",
        );
        (traceback && procfs::activity(&pids).idle()).then_some(Stopped::Traceback)
    }
}
