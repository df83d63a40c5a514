//! The program's stdin and stdout as pseudo-terminals, and deadline-bounded writes to its stdin.
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

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ChildStdin;
use std::time::Duration;

use crate::wire::Deadline;

/// The program's stdin as the grader holds it: the writing end of a pipe, or the master side of a
/// pseudo-terminal.
pub(super) enum Input {
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
    pub(super) fn ended(&self) -> bool {
        matches!(self, Input::Tty { ended: true, .. })
    }

    pub(super) fn as_raw_fd(&self) -> libc::c_int {
        match self {
            Input::Pipe(pipe) => pipe.as_raw_fd(),
            Input::Tty { master, .. } => master.as_raw_fd(),
        }
    }

    pub(super) fn write_all_by(&mut self, bytes: &[u8], deadline: Deadline) -> io::Result<()> {
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
pub(super) const EOF_WRITE_WAIT: Duration = Duration::from_millis(200);

/// Writes all of `bytes` to a non-blocking fd, waiting for room up to the deadline: `TimedOut` when the
/// program does not take them in time (a full pipe), the write's own error otherwise.
pub(super) fn write_nonblocking(
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

pub(super) fn set_nonblocking(fd: libc::c_int) {
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
pub(super) enum PtyUse {
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
pub(super) fn open_pty(usage: PtyUse) -> io::Result<(OwnedFd, OwnedFd)> {
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
