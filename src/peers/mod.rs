//! Reference servers and clients, one module per program of the lesson.
//!
//! Every server has one shape: `bind(addr, config)` binds at once (port 0 picks a free port), so
//! [`local_addr`](echo::EchoServer::local_addr) is known before any client comes; then either a blocking
//! run in the caller's thread (what the command line does) or [`spawn`](echo::EchoServer::spawn), which
//! serves on a thread of its own and returns a [`Handle`]. The handle's [`stop`](Handle::stop) ends the
//! peer and returns what it saw: the echo server's counts, the chat server's [`chat::Transcript`], the
//! file receiver's [`file::Received`] (path and sha256), the UDP receiver's [`udp::Datagram`]s. Dropping
//! the handle stops the peer too and waits for its thread.
//!
//! Clients are functions that run against an address with the input you give and return what they saw:
//! [`echo::send_lines`], [`chat::converse`], [`file::send_file`], [`udp::run_sender`].
//!
//! The peers print nothing themselves: what a person would see goes to the writer or callback the
//! caller passes in.

pub mod chat;
pub mod echo;
pub mod file;
mod handle;
mod stop;
pub mod udp;

pub use handle::Handle;
pub(crate) use stop::{wait_any, Stop, Wake, Watched};

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::wire::Deadline;

/// Accept errors that concern only the client that left the queue; worth a bounded number of retries.
const ACCEPT_ATTEMPTS: usize = 64;

/// Accepts one connection on a blocking listener, waiting at most `wait` (for ever when `None`);
/// `Ok(None)` when a stop came first. A client that reset while still queued is skipped, a bounded
/// number of times.
pub(crate) fn accept_one(
    listener: &TcpListener,
    wait: Option<Duration>,
    stop: &Stop,
) -> io::Result<Option<(TcpStream, SocketAddr)>> {
    let deadline = wait.map(Deadline::after);
    for _ in 0..ACCEPT_ATTEMPTS {
        match wait_any(&[listener.as_raw_fd()], stop, deadline)? {
            Wake::Stopped => return Ok(None),
            Wake::TimedOut => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "nobody connected in time",
                ))
            }
            Wake::Ready(_) => {}
        }
        match listener.accept() {
            Ok(pair) => return Ok(Some(pair)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "too many clients aborted before being accepted",
    ))
}

/// Strips one `\n` or `\r\n` from the end of `line`.
pub(crate) fn strip_line_ending(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}
