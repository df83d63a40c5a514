//! How `sockspec grade` meets an early end: SIGINT, SIGTERM and SIGHUP are taken on a thread of their
//! own, and a watchdog process cleans up if the grader is killed outright (SIGKILL).
//!
//! Both must be set up before any other thread exists: a signal mask is inherited by the threads started
//! after it (so only the signal thread ever takes these signals), and a process may only fork safely
//! while it has a single thread.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::grade::runs;

/// The signals that stop a grade: Ctrl-C, the SIGTERM of a CI job's timeout (or `kill`), a closed terminal.
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The stop signals, blocked in this thread and every thread it starts from now on.
pub(super) struct Blocked {
    set: libc::sigset_t,
}

/// Blocks the stop signals in the calling thread (and the threads it starts later): until a thread
/// takes them with [`on_signal`] they wait, pending. Programs launched later start with an empty mask
/// (the grader's launch resets it between fork and exec: the standard library does not). A signal this process was started with
/// ignored (`nohup` ignores SIGHUP, a shell script's background job SIGINT) stays ignored: a blocked
/// signal would be taken by `sigwait` even so.
pub(super) fn block() -> Result<Blocked> {
    // SAFETY: sigemptyset initialises the set before sigaddset and pthread_sigmask read it; sigaction
    // with a null new action only reads the current one into a zeroed struct.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in STOP_SIGNALS {
            let mut current: libc::sigaction = std::mem::zeroed();
            let ignored = libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction == libc::SIG_IGN;
            if !ignored {
                libc::sigaddset(&mut set, signal);
            }
        }
        match libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) {
            0 => Ok(Blocked { set }),
            rc => Err(Error::io(
                "cannot block the stop signals",
                io::Error::from_raw_os_error(rc),
            )),
        }
    }
}

/// Starts the thread that waits for the first stop signal and calls `handler` with it. Later signals
/// stay pending: the handler is not interrupted, and ends the process when it is done.
pub(super) fn on_signal(
    blocked: Blocked,
    handler: impl FnOnce(libc::c_int) + Send + 'static,
) -> Result<()> {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut signal = 0;
            // SAFETY: `set` is an initialised set and `signal` a valid out-parameter.
            if unsafe { libc::sigwait(&blocked.set, &mut signal) } == 0 {
                handler(signal);
            }
        })
        .map(drop)
        .map_err(|e| Error::io("cannot start the signal thread", e))
}

/// `SIGTERM` for 15.
pub(super) fn name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Forks the watchdog: a process that holds the reading end of a pipe whose writing end only this
/// process holds (close-on-exec, so no program launched inherits it). Every run and temporary file is
/// registered through the pipe ([`runs::mirror_to`]); when this process dies, however it dies, the pipe
/// reads end of file and the watchdog kills every run still registered and removes the temporary files.
/// It is in a session of its own, so that killing the grader's process group does not kill it too, and
/// it ignores the stop signals (the grader handles those itself).
///
/// It keeps the grader's stdout and stderr open until it is done: whoever waits for the end of the
/// grader's output (a pipe, a CI log) also waits until the clean-up is over.
///
/// Returns false, and forks nothing, when other threads already exist: forking is not safe then.
pub(super) fn start_watchdog() -> Result<bool> {
    if thread_count() != Some(1) {
        return Ok(false);
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array, which this function then owns.
    let (read, write) = unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(Error::io(
                "cannot start the watchdog",
                io::Error::last_os_error(),
            ));
        }
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    // SAFETY: the process has a single thread (checked above), so the child may run any code.
    match unsafe { libc::fork() } {
        -1 => Err(Error::io(
            "cannot start the watchdog",
            io::Error::last_os_error(),
        )),
        0 => {
            drop(write);
            watchdog(read)
        }
        _ => {
            drop(read);
            runs::mirror_to(File::from(write));
            Ok(true)
        }
    }
}

/// The watchdog's life, in the forked child.
fn watchdog(pipe: OwnedFd) -> ! {
    // SAFETY: plain libc calls with constant arguments, in a single-threaded process.
    unsafe {
        libc::setsid();
        for signal in STOP_SIGNALS {
            libc::signal(signal, libc::SIG_IGN);
        }
        // Not to keep the grader's directory in use (an unmount) while it waits.
        libc::chdir(c"/".as_ptr());
    }
    close_fds_except(pipe.as_raw_fd());
    let cleanup = runs::watch(File::from(pipe));
    if !cleanup.is_empty() {
        eprintln!(
            "sockspec: the grader ended without cleaning up; its watchdog killed {} program(s) and \
             removed {} temporary path(s){}",
            cleanup.programs,
            cleanup.removed,
            if cleanup.stragglers > 0 {
                format!(" ({} process(es) would not die)", cleanup.stragglers)
            } else {
                String::new()
            }
        );
    }
    // SAFETY: ends this process without running the grader's exit handlers a second time.
    unsafe { libc::_exit(0) }
}

/// Closes every fd above stderr except `keep`: the watchdog holds nothing of the grader's but its
/// output (a report file being written, a socket).
fn close_fds_except(keep: libc::c_int) {
    let fds: Vec<libc::c_int> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|&fd| fd > 2 && fd != keep) {
        // SAFETY: closing fds of this single-threaded process that nothing else here uses; the one of
        // the directory listing is already closed (EBADF).
        unsafe { libc::close(fd) };
    }
}

/// The number of threads of this process, from `/proc/self/status`.
fn thread_count() -> Option<usize> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}
