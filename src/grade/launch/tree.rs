//! The processes of a run: finding them, reaping the orphans among them, signalling and stopping them.
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
//!   environment is still in it (see [`crate::grade::cgroup`]).
//! - A pid is only signalled after checking its start time (from `/proc/PID/stat`) is the one seen when
//!   it was found, so a pid reused by an unrelated process is never hit.
//! - Every wait has a deadline; stopping ends with SIGKILL and reports any process that survived.

use std::sync::Once;
use std::time::Duration;

use super::{lock, Program, StopReport, DEFAULT_GRACE, POLL_FIRST, POLL_MAX};
use crate::grade::cgroup::RunGroup;
use crate::grade::procfs::{self, Proc, Socket};
use crate::wire::Deadline;

/// After SIGKILL, how long to wait for the processes to die and be reaped before calling them stragglers.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// SIGKILL rounds: a process forking fast can start a child between a scan and the kill of its parent;
/// each round scans again and kills what it finds.
const KILL_ROUNDS: u32 = 5;

/// How long [`Program::stop`] waits for the output streams to reach EOF after the processes ended.
const OUTPUT_DRAIN: Duration = Duration::from_secs(1);

impl Program {
    /// Every socket held by a live process of the run, IPv4 first, then by port.
    pub fn sockets(&self) -> Vec<Socket> {
        procfs::sockets_of(&self.alive_pids())
    }

    /// Pids of the live (not zombie) processes of the run.
    pub fn processes(&self) -> Vec<u32> {
        self.alive_pids().into_iter().map(|p| p as u32).collect()
    }

    pub(super) fn alive_pids(&self) -> Vec<i32> {
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
                    let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                    if reaped == pid && libc::WIFSIGNALED(status) {
                        lock(&self.killed_by).push(libc::WTERMSIG(status));
                    }
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
/// Makes this process the reaper of its orphaned descendants (see the module documentation). Best
/// effort: without it orphans go to init, which reaps them too; only the bookkeeping here gets less.
pub(super) fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with an integer option and argument; no memory is passed.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    });
}
