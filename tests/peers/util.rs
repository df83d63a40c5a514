//! Helpers shared by the peer tests. Every wait has a deadline; nothing sleeps.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use sockspec::wire::{self, Deadline, ReadEnd};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The deadline for anything that should happen: generous, as the machine is shared and the build is
/// unoptimised. Only a failing test ever waits this long.
pub const WAIT: Duration = Duration::from_secs(20);

/// How long "nothing arrives" is watched for.
pub const SILENCE: Duration = Duration::from_millis(300);

/// 127.0.0.1 port 0: the system picks a free port, read back with `local_addr()`.
pub fn any_local_addr() -> SocketAddr {
    (Ipv4Addr::LOCALHOST, 0).into()
}

#[track_caller]
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = wire::connect(addr, Deadline::after(WAIT))
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_nodelay(true).expect("set TCP_NODELAY");
    stream
}

/// A small seeded generator (splitmix64): test data is reproducible from the printed seed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `SOCKSPEC_TEST_SEED` when set, else at random; the seed is printed, and the test
    /// harness shows it when the test fails.
    pub fn from_env(test: &str) -> Rng {
        let seed = std::env::var("SOCKSPEC_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| RandomState::new().hash_one(test));
        eprintln!("{test}: SOCKSPEC_TEST_SEED={seed}");
        Rng(seed)
    }

    pub fn seeded(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        // The grader's splitmix64, advanced from the state this generator keeps.
        let mut mix = sockspec::grade::checks::Mix::new(self.0);
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix.next_u64()
    }

    /// A number in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        self.next_u64() % (max + 1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// Opens a connection, writes `pieces` from a thread of its own (each piece cut into writes of the
/// sizes in `slices`, taken in turn; or whole when `slices` is empty), half-closes, and meanwhile reads
/// everything the server sends until it closes. Reading while writing means a large reply can never
/// block a large request.
pub fn exchange(addr: SocketAddr, pieces: Vec<Vec<u8>>, slices: Vec<usize>) -> io::Result<Vec<u8>> {
    let mut reader = wire::connect(addr, Deadline::after(WAIT)).map_err(io::Error::other)?;
    reader.set_nodelay(true)?;
    let mut writer = reader.try_clone()?;
    let writing = std::thread::spawn(move || -> io::Result<()> {
        let mut sizes = slices.iter().copied().cycle();
        for piece in &pieces {
            if slices.is_empty() {
                writer.write_all(piece)?;
                continue;
            }
            let mut rest = &piece[..];
            while !rest.is_empty() {
                let size = sizes.next().unwrap_or(1).clamp(1, rest.len());
                writer.write_all(&rest[..size])?;
                rest = &rest[size..];
            }
        }
        wire::finish_sending(&writer)
    });
    let mut reply = Vec::new();
    let end = wire::read_to_end(&mut reader, &mut reply, Deadline::after(WAIT));
    // Unblocks the writer if the server stopped reading, so the join below cannot hang.
    let _ = reader.shutdown(Shutdown::Both);
    let written = writing.join().expect("writer thread panicked");
    match end? {
        ReadEnd::Eof => {}
        other => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("reply not closed ({other:?}) after {} bytes", reply.len()),
            ))
        }
    }
    written?;
    Ok(reply)
}

/// Sends `line` (which carries its own newline) on `stream`.
#[track_caller]
pub fn send_line(stream: &mut TcpStream, line: &[u8]) {
    stream
        .write_all(line)
        .unwrap_or_else(|e| panic!("send {:?}: {e}", wire::escape_bytes(line)));
}

/// Receives one reply line (with its newline) within `wait`; `None` when none came in time.
/// Bytes after the line stay in `pending`.
#[track_caller]
pub fn recv_reply(
    stream: &mut TcpStream,
    pending: &mut Vec<u8>,
    wait: Duration,
) -> Option<Vec<u8>> {
    let newline = |b: &[u8]| b.contains(&b'\n');
    let end = wire::read_until(stream, pending, Deadline::after(wait), newline)
        .unwrap_or_else(|e| panic!("receive: {e}"));
    match end {
        ReadEnd::Done => {
            let len = pending.iter().position(|&b| b == b'\n').unwrap() + 1;
            Some(pending.drain(..len).collect())
        }
        _ => None,
    }
}
