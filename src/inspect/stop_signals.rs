//! The stop signals (SIGINT from Ctrl-C, SIGTERM, SIGHUP) turned into something a loop waits for with a
//! timeout: a handler writes the signal's number into a pipe, and [`StopSignals::wait`] polls that pipe.
//!
//! Why not block the signals and take them with `sigtimedwait`: a blocked mask is inherited by every
//! child and kept across `exec`, so a program started for a watch would hold SIGTERM blocked and need
//! SIGKILL to stop. A caught signal goes back to its default action at `exec`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use crate::wire::Deadline;

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The writing end of the pipe, for the handler; -1 when no [`StopSignals`] is installed.
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; errno is kept as the interrupted code left it. A full
        // pipe (a burst of signals) only drops this byte: one waiting is enough to stop.
        unsafe {
            let errno = *libc::__errno_location();
            libc::write(fd, (&byte as *const u8).cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// While it lives, the stop signals are caught and wait in a pipe for [`StopSignals::wait`]; dropping
/// it restores what was there before. A signal ignored when it is installed (a background job,
/// `nohup`) stays ignored.
pub struct StopSignals {
    read: OwnedFd,
    _write: OwnedFd,
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl StopSignals {
    /// Installs the handlers; fails if another `StopSignals` is installed.
    pub fn install() -> io::Result<StopSignals> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills the two fds of a valid array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds were just opened and are owned here only.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        if WRITE_FD
            .compare_exchange(-1, write.as_raw_fd(), Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "stop signals are already being caught",
            ));
        }
        let mut stop = StopSignals {
            read,
            _write: write,
            previous: Vec::new(),
        };
        for signal in SIGNALS {
            // SAFETY: sigaction with a zeroed, then filled, struct; the handler only calls write(2).
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                    || old.sa_sigaction == libc::SIG_IGN
                {
                    continue;
                }
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                new.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut new.sa_mask);
                if libc::sigaction(signal, &new, &mut old) != 0 {
                    return Err(io::Error::last_os_error());
                }
                stop.previous.push((signal, old));
            }
        }
        Ok(stop)
    }

    /// Waits up to `timeout` for a stop signal; returns its number, or `None` when the time passed.
    pub fn wait(&self, timeout: Duration) -> Option<i32> {
        let deadline = Deadline::after(timeout);
        loop {
            let mut byte = 0u8;
            // SAFETY: reads one byte into a local from a non-blocking fd owned here.
            if unsafe { libc::read(self.read.as_raw_fd(), (&mut byte as *mut u8).cast(), 1) } == 1 {
                return Some(byte.into());
            }
            let left = deadline.remaining()?;
            let mut fd = libc::pollfd {
                fd: self.read.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // Rounded up, so a wait never ends just before the deadline and spins.
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd; its result only wakes the loop, which reads again.
            unsafe { libc::poll(&mut fd, 1, ms) };
        }
    }
}

impl Drop for StopSignals {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: puts back the action sigaction returned for this signal.
            unsafe { libc::sigaction(*signal, old, std::ptr::null_mut()) };
        }
        WRITE_FD.store(-1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_signal_ends_the_wait_and_none_is_a_timeout() {
        let stop = StopSignals::install().unwrap();
        assert!(StopSignals::install().is_err(), "one at a time");
        assert_eq!(stop.wait(Duration::from_millis(1)), None);
        // SAFETY: raise(3) sends SIGHUP to this thread, whose handler is installed above.
        unsafe { libc::raise(libc::SIGHUP) };
        assert_eq!(stop.wait(Duration::from_secs(10)), Some(libc::SIGHUP));
        drop(stop);
        // SAFETY: reads the current action of SIGHUP into a zeroed struct.
        let restored = unsafe {
            let mut now: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut now);
            now.sa_sigaction
        };
        assert_ne!(
            restored,
            on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t
        );
    }
}
