//! How a [`Handle`](super::Handle) stops its peer wherever the peer waits: a socket pair polled next to
//! the peer's own descriptors (and awaited by the echo server's runtime), and connections shut down so
//! that a read or write blocked on them ends.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::wire::Deadline;

/// What a stop request shares between the handle and the peer.
#[derive(Default)]
struct StopState {
    requested: AtomicBool,
    /// Connections to shut down on a stop, and how: that wakes any read (and with `SHUT_RDWR`, write)
    /// blocked on them. A [`Watched`] connection is removed (under this lock) before it is closed, so a
    /// descriptor here is always its connection's.
    connections: Mutex<Vec<(RawFd, libc::c_int)>>,
}

/// The handle's side of a stop: [`fire`](StopTrigger::fire) marks the stop, shuts the watched
/// connections down, and closes the wake-up socket.
pub(super) struct StopTrigger {
    wake: Option<UnixStream>,
    state: Arc<StopState>,
}

impl StopTrigger {
    pub(super) fn fire(&mut self) {
        let connections = lock(&self.state.connections);
        self.state.requested.store(true, Ordering::SeqCst);
        for &(fd, how) in connections.iter() {
            // SAFETY: `fd` is a connection that a live `Watched` owns (see `StopState::connections`).
            unsafe { libc::shutdown(fd, how) };
        }
        drop(connections);
        // The peer's end of the socket pair reads EOF: a poll that includes it wakes up.
        self.wake = None;
    }
}

/// The peer's side of a stop request. Its descriptor becomes readable once the handle asks to stop
/// (or is dropped); [`Stop::watch`] makes a connection that the stop shuts down.
pub(crate) struct Stop {
    wake: Option<UnixStream>,
    /// `None` for [`Stop::never`].
    state: Option<Arc<StopState>>,
}

impl Stop {
    pub(super) fn pair() -> Result<(StopTrigger, Stop)> {
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| Error::io("cannot create the stop socket pair", e))?;
        let state = Arc::new(StopState::default());
        let trigger = StopTrigger {
            wake: Some(ours),
            state: state.clone(),
        };
        Ok((
            trigger,
            Stop {
                wake: Some(theirs),
                state: Some(state),
            },
        ))
    }

    /// A stop that never comes: for peers run in the caller's thread.
    pub(crate) fn never() -> Stop {
        Stop {
            wake: None,
            state: None,
        }
    }

    /// True once a stop was asked for.
    pub(crate) fn requested(&self) -> bool {
        self.state
            .as_ref()
            .is_some_and(|s| s.requested.load(Ordering::SeqCst))
    }

    /// The descriptor to poll next to the peer's own (-1, which poll skips, for [`Stop::never`]).
    pub(crate) fn fd(&self) -> RawFd {
        self.wake.as_ref().map_or(-1, |w| w.as_raw_fd())
    }

    /// The wake-up socket itself, for a peer that waits in an async runtime.
    pub(crate) fn take_wake(&mut self) -> Option<UnixStream> {
        self.wake.take()
    }

    /// Takes `stream` into a [`Watched`] connection, which the stop shuts down as `how` says (at once
    /// if it already came), so that no read (`Read`) or no read or write (`Both`) on it can outlast the
    /// stop. `Both` sends the other side a FIN, an orderly end; `Read` sends nothing, and leaves the
    /// peer to say how the connection ends.
    pub(crate) fn watch(&self, stream: TcpStream, how: Shutdown) -> Watched {
        let fd = stream.as_raw_fd();
        if let Some(state) = &self.state {
            let mut connections = lock(&state.connections);
            if state.requested.load(Ordering::SeqCst) {
                let _ = stream.shutdown(how);
            } else {
                let how = match how {
                    Shutdown::Read => libc::SHUT_RD,
                    Shutdown::Write => libc::SHUT_WR,
                    Shutdown::Both => libc::SHUT_RDWR,
                };
                connections.push((fd, how));
            }
        }
        Watched {
            stream: Some(stream),
            fd,
            state: self.state.clone(),
        }
    }
}

/// A connection that a stop shuts down; it leaves the stop's list before it closes.
pub(crate) struct Watched {
    /// Always `Some` until [`Watched::into_inner`] or the drop.
    stream: Option<TcpStream>,
    fd: RawFd,
    state: Option<Arc<StopState>>,
}

impl Watched {
    /// The connection, no longer watched.
    pub(crate) fn into_inner(mut self) -> TcpStream {
        self.forget();
        self.stream.take().expect("a watched stream")
    }

    fn forget(&mut self) {
        if let Some(state) = self.state.take() {
            lock(&state.connections).retain(|&(fd, _)| fd != self.fd);
        }
    }
}

impl std::ops::Deref for Watched {
    type Target = TcpStream;
    fn deref(&self) -> &TcpStream {
        self.stream.as_ref().expect("a watched stream")
    }
}

impl std::ops::DerefMut for Watched {
    fn deref_mut(&mut self) -> &mut TcpStream {
        self.stream.as_mut().expect("a watched stream")
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // Before the stream field drops and closes the descriptor, which could then be reused.
        self.forget();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the list leaves it usable: it is only a list of sockets.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What ended a [`wait_any`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The descriptor at this index can be read (data, an end, or an error).
    Ready(usize),
    /// A stop was asked for.
    Stopped,
    /// The deadline passed.
    TimedOut,
}

/// Waits until one of `fds` (at most three) can be read, a stop is asked for, or the deadline passes
/// (`None`: no deadline). The stop wins over data; among `fds`, the first ready one.
pub(crate) fn wait_any(fds: &[RawFd], stop: &Stop, deadline: Option<Deadline>) -> io::Result<Wake> {
    assert!(fds.len() <= 3, "wait_any takes at most three descriptors");
    let wanted = libc::POLLIN | libc::POLLHUP | libc::POLLERR;
    let blank = libc::pollfd {
        fd: -1,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        if stop.requested() {
            return Ok(Wake::Stopped);
        }
        let ms = match deadline {
            None => -1,
            Some(deadline) => match deadline.remaining() {
                // Round up, so a wait of 0.4 ms does not turn into a busy poll of 0 ms.
                Some(left) => left.as_millis().saturating_add(1).min(i32::MAX as u128) as i32,
                None => return Ok(Wake::TimedOut),
            },
        };
        let mut set = [blank; 4];
        set[0].fd = stop.fd();
        for (slot, &fd) in set[1..].iter_mut().zip(fds) {
            slot.fd = fd;
        }
        // SAFETY: `set` holds four valid pollfds (negative descriptors are skipped) and outlives the call.
        if unsafe { libc::poll(set.as_mut_ptr(), set.len() as libc::nfds_t, ms) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if set[0].revents & wanted != 0 {
            return Ok(Wake::Stopped);
        }
        if let Some(i) = set[1..=fds.len()]
            .iter()
            .position(|p| p.revents & wanted != 0)
        {
            return Ok(Wake::Ready(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    #[test]
    fn a_fired_stop_wakes_a_wait_without_deadline() {
        let (mut trigger, stop) = Stop::pair().unwrap();
        let (held, _other) = UnixStream::pair().unwrap();
        let waiting = std::thread::spawn(move || wait_any(&[held.as_raw_fd()], &stop, None));
        trigger.fire();
        assert_eq!(waiting.join().unwrap().unwrap(), Wake::Stopped);
    }

    #[test]
    fn data_wakes_a_wait_and_a_deadline_ends_it() {
        use std::io::Write;
        let stop = Stop::never();
        let (a, mut b) = UnixStream::pair().unwrap();
        let soon = Some(Deadline::after(Duration::from_millis(20)));
        assert_eq!(
            wait_any(&[a.as_raw_fd()], &stop, soon).unwrap(),
            Wake::TimedOut
        );
        b.write_all(b"x").unwrap();
        assert_eq!(
            wait_any(&[-1, a.as_raw_fd()], &stop, None).unwrap(),
            Wake::Ready(1)
        );
    }

    #[test]
    fn a_watched_connection_is_shut_down_by_the_stop_and_closes_when_dropped() {
        use std::io::Read;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (served, _) = listener.accept().unwrap();
        let (mut trigger, stop) = Stop::pair().unwrap();
        let mut served = stop.watch(served, Shutdown::Both);
        let reading = std::thread::spawn(move || served.read(&mut [0u8; 8]).map_err(|e| e.kind()));
        trigger.fire();
        // A read blocked on a connection that nobody closes ends with EOF once it is shut down.
        assert_eq!(reading.join().unwrap(), Ok(0));
        assert_eq!(client.read(&mut [0u8; 8]).unwrap(), 0);

        // Shut down for reading only: the blocked read ends too, and the other side hears nothing.
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (served, _) = listener.accept().unwrap();
        let (mut trigger, stop) = Stop::pair().unwrap();
        let mut served = stop.watch(served, Shutdown::Read);
        let reading = std::thread::spawn(move || {
            let got = served.read(&mut [0u8; 8]).map_err(|e| e.kind());
            (got, served)
        });
        trigger.fire();
        let (got, served) = reading.join().unwrap();
        assert_eq!(got, Ok(0));
        client
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let heard = client.read(&mut [0u8; 8]).map_err(|e| e.kind());
        assert!(
            matches!(
                heard,
                Err(io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
            ),
            "{heard:?}"
        );
        drop(served);

        // Unstopped: dropping the watched connection closes it, and leaves the stop's list.
        let (_trigger, stop) = Stop::pair().unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (served, _) = listener.accept().unwrap();
        let served = stop.watch(served, Shutdown::Both);
        assert_eq!(lock(&stop.state.as_ref().unwrap().connections).len(), 1);
        drop(served);
        assert!(lock(&stop.state.as_ref().unwrap().connections).is_empty());
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!((&client).read(&mut [0u8; 8]).unwrap(), 0);
    }
}
