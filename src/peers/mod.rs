//! Reference servers and clients, one module per program of the lesson. Each server binds first, so its
//! address (port 0 gives an ephemeral one) is known before any client comes.

pub mod chat;
pub mod echo;
pub mod file;
pub mod udp;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::wire::Deadline;

/// Accept errors that concern only the client that left the queue; worth a bounded number of retries.
const ACCEPT_ATTEMPTS: usize = 64;

/// Accepts one connection on a blocking listener, waiting at most `wait` (for ever when `None`).
/// A client that reset while still queued is skipped, a bounded number of times.
pub(crate) fn accept_one(
    listener: &TcpListener,
    wait: Option<Duration>,
) -> io::Result<(TcpStream, SocketAddr)> {
    let deadline = wait.map(Deadline::after);
    for _ in 0..ACCEPT_ATTEMPTS {
        if let Some(deadline) = deadline {
            if !wait_readable(listener, deadline)? {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "nobody connected in time",
                ));
            }
        }
        match listener.accept() {
            Ok(pair) => return Ok(pair),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "too many clients aborted before being accepted",
    ))
}

/// Waits until `listener` has a connection to accept (true) or the deadline passes (false).
fn wait_readable(listener: &TcpListener, deadline: Deadline) -> io::Result<bool> {
    loop {
        let Some(left) = deadline.remaining() else {
            return Ok(false);
        };
        let mut fd = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Round up, so a wait of 0.4 ms does not turn into a busy poll of 0 ms.
        let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128) as i32;
        // SAFETY: `fd` is one valid pollfd that lives across the call.
        match unsafe { libc::poll(&mut fd, 1, ms) } {
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            0 => {}
            _ => return Ok(true),
        }
    }
}
