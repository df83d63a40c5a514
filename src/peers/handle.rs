//! [`Handle`]: a peer serving on a thread of its own, stopped and joined by its owner.

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::stop::{Stop, StopTrigger};
use crate::error::{Error, Result};

/// A peer serving on a thread of its own, returned by the peers' `spawn`.
///
/// [`stop`](Handle::stop) asks the peer to stop, waits for its thread and returns its result;
/// [`wait`](Handle::wait) lets a peer that ends by itself (a `single` echo server, a chat server whose
/// client closes, a file receiver, a UDP receiver with a count) finish first. Use `wait` when the peer
/// is meant to end by itself: a `stop` may overtake the end it was about to see (the chat then ends
/// `Stopped`, the file receiver leaves no file). Dropping the handle stops the peer and waits for its
/// thread: every wait inside a peer watches for the stop, so that never hangs.
#[must_use = "dropping the handle stops the peer at once"]
pub struct Handle<T> {
    addr: SocketAddr,
    /// What the peer is, for messages: "echo server".
    what: &'static str,
    trigger: StopTrigger,
    result: mpsc::Receiver<Result<T>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Handle<T> {
    /// Runs `peer` on a thread named after it; the peer gets the [`Stop`] it must watch.
    pub(crate) fn spawn(
        what: &'static str,
        addr: SocketAddr,
        peer: impl FnOnce(Stop) -> Result<T> + Send + 'static,
    ) -> Result<Handle<T>> {
        let (trigger, stop) = Stop::pair()?;
        let (tx, result) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("{what} {addr}"))
            .spawn(move || {
                // The receiver may be gone (the handle was dropped): the result is then nobody's.
                let _ = tx.send(peer(stop));
            })
            .map_err(|e| Error::io(format!("cannot start the {what} thread"), e))?;
        Ok(Handle {
            addr,
            what,
            trigger,
            result,
            thread: Some(thread),
        })
    }
}

impl<T> Handle<T> {
    /// The address the peer is bound to (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// True once the peer has ended by itself (or failed), before any stop.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the peer, waits for its thread, and returns how it ended with what it saw. A peer that had
    /// already ended by itself returns its own result.
    pub fn stop(mut self) -> Result<T> {
        self.trigger.fire();
        self.collect()
    }

    /// Waits up to `timeout` for the peer to end by itself, and returns its result; when it has not
    /// ended by then, stops it and fails with a timeout (what it saw is lost: the test has failed).
    pub fn wait(mut self, timeout: Duration) -> Result<T> {
        match self.result.recv_timeout(timeout) {
            Ok(result) => {
                self.join();
                result
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => self.collect(),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.trigger.fire();
                let _ = self.collect();
                Err(Error::io(
                    format!(
                        "the {} on {} did not finish within {:.1} s",
                        self.what,
                        self.addr,
                        timeout.as_secs_f64()
                    ),
                    io::Error::from(io::ErrorKind::TimedOut),
                ))
            }
        }
    }

    /// The result once the thread ended; a panic becomes an error.
    fn collect(&mut self) -> Result<T> {
        let result = self.result.recv();
        let panic = self.join();
        match (result, panic) {
            (Ok(result), _) => result,
            (Err(_), why) => Err(Error::io(
                format!("the {} thread on {} panicked", self.what, self.addr),
                io::Error::other(why.unwrap_or_else(|| "no result".into())),
            )),
        }
    }

    /// Joins the thread; returns the panic message if it panicked.
    fn join(&mut self) -> Option<String> {
        let panic = self.thread.take()?.join().err()?;
        Some(
            panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into()),
        )
    }
}

impl<T> Drop for Handle<T> {
    fn drop(&mut self) {
        self.trigger.fire();
        self.join();
    }
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("peer", &self.what)
            .field("addr", &self.addr)
            .field("finished", &self.is_finished())
            .finish()
    }
}
