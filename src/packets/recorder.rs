//! A thread that reads a [`PacketSocket`] with bounded waits and hands each segment to a [`Sink`], until
//! it is stopped; anyone may ask it to catch up at once ([`Recorder::sync`]) before reading what the sink
//! wrote.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::segment::Segment;
use super::socket::PacketSocket;

/// What becomes of captured segments.
pub trait Sink: Send + 'static {
    /// One captured segment, in the order the kernel queued them. Called on the recorder's thread with
    /// the sink locked: keep it short.
    fn segment(&mut self, segment: Segment);
    /// Nothing more is queued for now (after each round of reading): a chance to write out what is
    /// held, once it has been quiet for long enough.
    fn idle(&mut self, _now: Instant) {}
    /// The kernel dropped `count` frames: the socket's buffer was full.
    fn lost(&mut self, _count: u64) {}
    /// Write out everything held: someone is about to read it, or the capture ends.
    fn flush(&mut self) {}
    /// Reading failed; the capture ends.
    fn failed(&mut self, _error: &io::Error) {}
}

/// Every segment kept, for a capture that is read once at its end.
#[derive(Debug, Default)]
pub struct Collect {
    /// The segments in the order they were captured.
    pub segments: Vec<Segment>,
    /// Frames the kernel dropped before they were read.
    pub lost: u64,
}

impl Sink for Collect {
    fn segment(&mut self, segment: Segment) {
        self.segments.push(segment);
    }

    fn lost(&mut self, count: u64) {
        self.lost += count;
    }
}

/// How long the reader waits for a frame before it looks whether it is stopped.
const POLL: Duration = Duration::from_millis(20);
/// Frames read per round while holding the sink: a [`Recorder::sync`] waits at most this long.
const FRAMES_PER_ROUND: usize = 256;

struct Shared<S> {
    socket: PacketSocket,
    sink: Mutex<S>,
    stop: AtomicBool,
}

impl<S: Sink> Shared<S> {
    fn sink(&self) -> MutexGuard<'_, S> {
        self.sink.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads what is queued (at most `limit` frames) into the sink. False when reading failed.
    fn drain(&self, sink: &mut S, limit: usize) -> bool {
        for _ in 0..limit {
            match self.socket.try_recv() {
                Ok(Some(frame)) => {
                    if let Some(segment) = Segment::parse(&frame) {
                        sink.segment(segment);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    sink.failed(&e);
                    return false;
                }
            }
        }
        match self.socket.take_drops() {
            0 => {}
            n => sink.lost(n),
        }
        true
    }

    /// Everything queued now, into the sink, and the sink flushed.
    fn sync(&self) {
        let mut sink = self.sink();
        // Bounded: a sender faster than this reader cannot keep it here.
        self.drain(&mut sink, FRAMES_PER_ROUND * 64);
        sink.flush();
    }
}

/// A running capture. Stopped (and its sink flushed) when dropped.
pub struct Recorder<S: Sink> {
    shared: Arc<Shared<S>>,
    thread: Option<JoinHandle<()>>,
}

impl<S: Sink> Recorder<S> {
    /// Starts reading `socket` on a thread of its own, handing every segment to `sink`. Fails only when
    /// the thread cannot be started.
    pub fn start(socket: PacketSocket, sink: S) -> io::Result<Recorder<S>> {
        let shared = Arc::new(Shared {
            socket,
            sink: Mutex::new(sink),
            stop: AtomicBool::new(false),
        });
        let reader = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("sockspec-packets".into())
            .spawn(move || read_until_stopped(&reader))?;
        Ok(Recorder {
            shared,
            thread: Some(thread),
        })
    }

    /// Reads everything queued now and flushes the sink: what happened before this call is in it.
    pub fn sync(&self) {
        self.shared.sync();
    }

    /// A function that does [`Recorder::sync`] while the recorder lives, and nothing after.
    pub fn syncer(&self) -> Arc<dyn Fn() + Send + Sync> {
        let shared = Arc::downgrade(&self.shared);
        Arc::new(move || {
            if let Some(shared) = shared.upgrade() {
                shared.sync();
            }
        })
    }

    /// Runs `f` on the sink, with the capture caught up.
    pub fn with_sink<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        self.sync();
        f(&mut self.shared.sink())
    }

    /// Stops the reader, reads what is left and flushes the sink.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The reader looks at `stop` at least every POLL.
            let _ = thread.join();
            self.shared.sync();
        }
    }
}

impl<S: Sink> Drop for Recorder<S> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_until_stopped<S: Sink>(shared: &Shared<S>) {
    while !shared.stop.load(Ordering::Relaxed) {
        match shared.socket.wait_readable(POLL) {
            Ok(_) => {}
            Err(e) => {
                shared.sink().failed(&e);
                return;
            }
        }
        let mut sink = shared.sink();
        if !shared.drain(&mut sink, FRAMES_PER_ROUND) {
            return;
        }
        sink.idle(Instant::now());
    }
}
