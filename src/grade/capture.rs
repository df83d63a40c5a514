//! What a program under test wrote on one stream, kept in bounded memory and shared between the thread
//! that drains the stream and the checks that look at it.
//!
//! A program may write without end (`while True: print(...)`). The drain thread must keep reading, or
//! the program blocks on a full pipe and every check after that sees a hung program; and memory must
//! not grow. So a [`Capture`] keeps the first half of its budget (how the output started: a banner, a
//! traceback's start) and the last half as a ring (what the program is doing now), counts every byte
//! it ever saw, and shows the bytes it dropped as one marker line.
//!
//! The drain thread reads only once the stream is readable, and each read and its record happen under
//! one lock: [`Capture::catch_up`] takes the same lock to read what is still waiting in the pipe, so
//! after it everything the program wrote before is recorded, however late the thread runs.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::wire::Deadline;

/// Bytes read from the stream at once.
const CHUNK: usize = 64 * 1024;

/// Chunks [`Capture::catch_up`] reads at most.
const CATCH_UP_READS: usize = 4;

/// Makes reads of `fd` return `WouldBlock` instead of waiting (our end only: the program's end of a
/// pipe or a terminal is another open file).
fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on an open fd with integer arguments.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The bounded record of one output stream. All methods take `&self`; share it with `Arc`.
///
/// Positions are absolute: byte `n` is the `n`-th byte the program ever wrote on the stream, whether or
/// not it is still kept. Views ([`Capture::since`], [`Capture::snapshot`], ...) are the kept bytes,
/// with the marker `\n[... N bytes cut ...]\n` where bytes were dropped.
#[derive(Debug)]
pub struct Capture {
    state: Mutex<State>,
    changed: Condvar,
    /// The stream being drained (non-blocking), while it is: whoever holds the lock reads and records.
    source: Mutex<Option<Box<dyn Source>>>,
}

/// A stream a capture drains: a pipe or a pseudo-terminal's master.
trait Source: Read + AsFd + Send + std::fmt::Debug {}
impl<T: Read + AsFd + Send + std::fmt::Debug> Source for T {}

/// What one read of a non-blocking source gave.
enum Got {
    Bytes,
    Nothing,
    End,
}

#[derive(Debug)]
struct State {
    head_cap: usize,
    tail_cap: usize,
    /// The first bytes ever seen, up to `head_cap`.
    head: Vec<u8>,
    /// The latest bytes after the head, up to `tail_cap`; older ones fall off the front.
    tail: VecDeque<u8>,
    total: u64,
    closed: bool,
}

impl State {
    /// Bytes dropped between the head and the tail.
    fn cut(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// Absolute position of the first byte of the tail.
    fn tail_start(&self) -> u64 {
        self.total - self.tail.len() as u64
    }

    fn view_since(&self, pos: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let head_len = self.head.len() as u64;
        if pos < head_len {
            out.extend_from_slice(&self.head[pos as usize..]);
        }
        let cut = self.cut();
        if cut > 0 && pos < self.tail_start() {
            out.extend_from_slice(cut_marker(cut).as_bytes());
        }
        let skip = pos
            .saturating_sub(self.tail_start())
            .min(self.tail.len() as u64) as usize;
        let (a, b) = self.tail.as_slices();
        if skip < a.len() {
            out.extend_from_slice(&a[skip..]);
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(&b[skip - a.len()..]);
        }
        out
    }
}

/// The line shown where bytes were dropped.
pub fn cut_marker(cut: u64) -> String {
    format!("\n[... {cut} bytes cut ...]\n")
}

impl Capture {
    /// An empty, open capture keeping at most `cap` bytes: the first `cap / 2` and the latest rest.
    pub fn new(cap: usize) -> Self {
        Capture {
            state: Mutex::new(State {
                head_cap: cap / 2,
                tail_cap: cap - cap / 2,
                head: Vec::new(),
                tail: VecDeque::new(),
                total: 0,
                closed: false,
            }),
            changed: Condvar::new(),
            source: Mutex::new(None),
        }
    }

    /// Starts a thread that drains `reader` into this capture until end of file (or a read error,
    /// which for a pseudo-terminal master is how the end shows: EIO once every slave fd is closed).
    /// The thread is not joined: it ends with the stream, which ends when the program's processes do.
    pub fn drain(
        self: &Arc<Self>,
        name: String,
        reader: impl Read + AsFd + Send + std::fmt::Debug + 'static,
    ) -> io::Result<()> {
        let fd = reader.as_fd().as_raw_fd();
        set_nonblocking(fd)?;
        *self.lock_source() = Some(Box::new(reader));
        let sink = Arc::clone(self);
        std::thread::Builder::new()
            .name(name)
            .spawn(move || sink.fill(fd))?;
        Ok(())
    }

    /// The drain thread: waits until the stream is readable, then reads under the source's lock.
    /// `fd` stays open until this thread drops the source, at the end.
    fn fill(&self, fd: i32) {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let mut ready = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; the fd is open while `source` holds it (dropped only below).
            if unsafe { libc::poll(&mut ready, 1, -1) } < 0
                && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted
            {
                break;
            }
            let mut source = self.lock_source();
            // `catch_up` may have read what woke this poll: then there is nothing, and it polls again.
            if let Some(Got::End) = source.as_mut().map(|s| self.read_once(s, &mut buf)) {
                *source = None;
                break;
            }
        }
        self.close();
    }

    /// Reads and records what is waiting in the stream now, without waiting: after it, everything the
    /// program wrote before the call is recorded. Bounded (a program that floods its output keeps
    /// writing): at most a few chunks.
    pub fn catch_up(&self) {
        let mut source = self.lock_source();
        let Some(reader) = source.as_mut() else {
            return;
        };
        let mut buf = vec![0u8; CHUNK];
        for _ in 0..CATCH_UP_READS {
            if !matches!(self.read_once(reader, &mut buf), Got::Bytes) {
                break;
            }
        }
    }

    /// One non-blocking read, recorded.
    fn read_once(&self, reader: &mut Box<dyn Source>, buf: &mut [u8]) -> Got {
        loop {
            return match reader.read(buf) {
                Ok(0) => Got::End,
                Ok(n) => {
                    self.push(&buf[..n]);
                    Got::Bytes
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Got::Nothing,
                Err(_) => Got::End,
            };
        }
    }

    fn lock_source(&self) -> MutexGuard<'_, Option<Box<dyn Source>>> {
        self.source.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent enough to matter here.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records bytes the program wrote and wakes the waiters.
    pub fn push(&self, mut bytes: &[u8]) {
        let mut s = self.lock();
        s.total += bytes.len() as u64;
        let room = s.head_cap - s.head.len();
        if room > 0 && s.tail.is_empty() {
            let take = room.min(bytes.len());
            s.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        // Only the last `tail_cap` bytes of the chunk can survive; skip copying the rest.
        if bytes.len() > s.tail_cap {
            bytes = &bytes[bytes.len() - s.tail_cap..];
        }
        let overflow = (s.tail.len() + bytes.len()).saturating_sub(s.tail_cap);
        s.tail.drain(..overflow);
        s.tail.extend(bytes);
        drop(s);
        self.changed.notify_all();
    }

    /// Marks the end of the stream and wakes the waiters.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// True once the stream has ended (the program and everything it started closed it).
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Bytes ever seen on the stream, kept or not.
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// Bytes ever seen that are no longer kept.
    pub fn cut(&self) -> u64 {
        self.lock().cut()
    }

    /// Everything kept: the head, the cut marker if bytes were dropped, the tail.
    pub fn snapshot(&self) -> Vec<u8> {
        self.since(0)
    }

    /// The kept bytes from absolute position `pos` on (with the cut marker if dropped bytes fall in
    /// that range). Remember [`Capture::total`] before acting, then look at what came after.
    pub fn since(&self, pos: u64) -> Vec<u8> {
        self.lock().view_since(pos)
    }

    /// The last `n` bytes seen, as far as they are kept.
    pub fn tail(&self, n: usize) -> Vec<u8> {
        let s = self.lock();
        s.view_since(s.total.saturating_sub(n as u64))
    }

    /// Waits until `pred` holds for the kept bytes ([`Capture::snapshot`]). False when the deadline
    /// passes or the stream ends without `pred` holding.
    pub fn wait_until(&self, deadline: Deadline, pred: impl FnMut(&[u8]) -> bool) -> bool {
        self.wait_since(0, deadline, pred)
    }

    /// Like [`Capture::wait_until`], with `pred` seeing only the kept bytes after absolute position
    /// `pos` (as [`Capture::since`] gives them): "wait for the reply to what I just sent".
    ///
    /// `pred` runs without the lock held, so it may call the capture's other methods.
    pub fn wait_since(
        &self,
        pos: u64,
        deadline: Deadline,
        mut pred: impl FnMut(&[u8]) -> bool,
    ) -> bool {
        // The view is rebuilt only when bytes arrived since `pred` last saw it.
        let mut seen: Option<u64> = None;
        let mut s = self.lock();
        loop {
            let closed = s.closed;
            if seen != Some(s.total) {
                seen = Some(s.total);
                let view = s.view_since(pos);
                drop(s);
                if pred(&view) {
                    return true;
                }
                s = self.lock();
                // Bytes or the end may have come while `pred` ran: look again before sleeping.
                if seen != Some(s.total) || s.closed != closed {
                    continue;
                }
            }
            if s.closed {
                return false;
            }
            let Some(left) = deadline.remaining() else {
                return false;
            };
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until the stream has ended; false if the deadline passes first.
    pub fn wait_closed(&self, deadline: Deadline) -> bool {
        let mut s = self.lock();
        while !s.closed {
            let Some(left) = deadline.remaining() else {
                return false;
            };
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn catch_up_records_what_was_written_before_it_however_late_the_drain_runs() {
        use std::io::Write as _;
        let (reader, mut writer) = io::pipe().unwrap();
        let c = Arc::new(Capture::new(1 << 20));
        c.drain("test-drain".into(), reader).unwrap();
        let mut written = 0u64;
        // Many rounds: the drain thread and catch_up race for each write.
        for round in 0..500u32 {
            let line = format!("line {round}\n");
            writer.write_all(line.as_bytes()).unwrap();
            written += line.len() as u64;
            c.catch_up();
            assert_eq!(c.total(), written, "round {round}");
        }
        drop(writer);
        assert!(c.wait_closed(Deadline::after(Duration::from_secs(10))));
        assert_eq!(c.total(), written);
    }

    #[test]
    fn keeps_everything_under_the_cap() {
        let c = Capture::new(10);
        c.push(b"abc");
        c.push(b"defgh");
        assert_eq!(text(c.snapshot()), "abcdefgh");
        assert_eq!(text(c.since(6)), "gh");
        assert_eq!(text(c.tail(3)), "fgh");
        assert_eq!(c.total(), 8);
        assert_eq!(c.cut(), 0);
    }

    #[test]
    fn keeps_head_and_tail_and_marks_the_cut() {
        let c = Capture::new(8);
        c.push(b"0123456789");
        c.push(b"abcdefghij");
        // head "0123", tail "ghij", 12 bytes cut.
        assert_eq!(c.total(), 20);
        assert_eq!(c.cut(), 12);
        assert_eq!(text(c.snapshot()), format!("0123{}ghij", cut_marker(12)));
        assert_eq!(text(c.since(2)), format!("23{}ghij", cut_marker(12)));
        assert_eq!(text(c.since(17)), "hij");
        assert_eq!(text(c.tail(2)), "ij");
        assert_eq!(text(c.since(99)), "");
        for _ in 0..1000 {
            c.push(b"xyz");
        }
        assert_eq!(text(c.tail(4)), "zxyz");
        assert_eq!(c.snapshot().len(), 8 + cut_marker(c.cut()).len());
    }

    #[test]
    fn zero_cap_only_counts() {
        let c = Capture::new(0);
        c.push(b"hello");
        assert_eq!(c.total(), 5);
        assert_eq!(text(c.snapshot()), cut_marker(5));
    }

    #[test]
    fn wait_until_sees_new_bytes_and_the_end() {
        let c = Arc::new(Capture::new(64));
        let writer = Arc::clone(&c);
        let t = std::thread::spawn(move || {
            writer.push(b"hel");
            writer.push(b"lo\n");
            writer.close();
        });
        let deadline = Deadline::after(Duration::from_secs(10));
        assert!(c.wait_until(deadline, |b| b.ends_with(b"hello\n")));
        assert!(!c.wait_until(deadline, |b| b.ends_with(b"never")));
        assert!(c.is_closed());
        t.join().unwrap();
    }

    #[test]
    fn wait_until_gives_up_at_the_deadline() {
        let c = Capture::new(64);
        assert!(!c.wait_until(Deadline::after(Duration::from_millis(20)), |_| false));
        assert!(!c.wait_closed(Deadline::after(Duration::from_millis(20))));
    }
}
