//! `sockspec grade --packets`: the TCP segments of each launch, captured in its private network
//! namespace, as events of the check's wire transcript on a `tcp` channel, at their capture time.
//!
//! What a student needs to see is how connections began and ended: SYN and SYN-ACK (with the initial
//! sequence numbers), FIN and RST, with relative seq and ack. Data is summarised: the segments one end
//! sends in a row on one connection become one event (`data, seq 1:65 (64 bytes)`, or `... in 160
//! segments` for a file), written once the other end answers, the connection opens or closes, or it has
//! been quiet for [`GROUP_QUIET`]. Pure ACKs are left out: they would double the events and say little.
//! The transcript's cap holds as for every event.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::netns::{NetNs, Plan};
use super::verdict::{LateWriter, Transcript};
use crate::packets::socket::HEADERS_SNAPLEN;
use crate::packets::{PacketSocket, Recorder, Segment, Sink};

/// The transcript channel of captured segments.
pub const CHANNEL: &str = "tcp";

/// A run of data segments is written out once nothing was added to it for this long.
pub const GROUP_QUIET: Duration = Duration::from_millis(100);

/// Which end of its TCP connections the program under test is: the server (it accepts) or the client
/// (it connects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramEnd {
    Server,
    Client,
}

/// The capture of one launch: running until dropped, its events in the check's transcript.
pub struct LaunchCapture {
    recorder: Recorder<SegmentLog>,
    /// Registered with the transcript, which calls it before it is read: the events of segments
    /// captured up to then are in. Unregistered when dropped.
    _catch_up: Arc<LateWriter>,
}

impl LaunchCapture {
    /// Starts capturing in `ns`, before the program is launched into it.
    pub fn start(ns: &NetNs, program: ProgramEnd, log: &Transcript) -> io::Result<LaunchCapture> {
        let socket = ns.run(|| PacketSocket::open_lo(HEADERS_SNAPLEN))??;
        let recorder = Recorder::start(socket, SegmentLog::new(log.clone(), program))?;
        let catch_up = recorder.syncer();
        log.late_writer(&catch_up);
        Ok(LaunchCapture {
            recorder,
            _catch_up: catch_up,
        })
    }
}

impl Drop for LaunchCapture {
    fn drop(&mut self) {
        self.recorder.stop();
    }
}

/// Checks, before any check runs, that `--packets` can work: each launch in a private namespace, and a
/// packet socket in one. The error says why not, in one line.
pub fn check_available(plan: &Plan, limitation: Option<&str>) -> Result<(), String> {
    if !plan.private {
        let why = limitation.unwrap_or("--isolate=off shares the machine's loopback");
        return Err(format!(
            "--packets needs each launch in a private network namespace, so that only the program's \
             segments are captured: {why}"
        ));
    }
    let ns = NetNs::create(false)
        .map_err(|e| format!("--packets: cannot make a network namespace to capture in: {e}"))?;
    ns.run(|| PacketSocket::open_lo(HEADERS_SNAPLEN))
        .and_then(|s| s)
        .map(drop)
        .map_err(|e| {
            format!("--packets: cannot open a packet socket on lo (it needs CAP_NET_RAW): {e}")
        })
}

/// One connection, from its SYN.
struct Connection {
    client: SocketAddr,
    server: SocketAddr,
    /// Initial sequence numbers of the client and the server.
    isn: [Option<u32>; 2],
    /// The relative sequence number of each end's FIN, once sent.
    fin: [Option<u32>; 2],
    /// The highest relative sequence number each end has sent data up to: bytes below it sent again
    /// are a retransmission.
    high: [Option<u32>; 2],
}

impl Connection {
    fn new(client: SocketAddr, server: SocketAddr) -> Self {
        Connection {
            client,
            server,
            isn: [None, None],
            fin: [None, None],
            high: [None, None],
        }
    }

    /// Of `len` bytes from `rel` sent by `end`, how many were sent before; the mark moves past them.
    fn sent_again(&mut self, end: usize, rel: u32, len: u32) -> u32 {
        let to = rel.wrapping_add(len);
        let again = match self.high[end] {
            // Sequence numbers compare modulo 2^32.
            Some(high) if (high.wrapping_sub(rel) as i32) > 0 => high.wrapping_sub(rel).min(len),
            _ => 0,
        };
        if self.high[end].is_none_or(|high| (to.wrapping_sub(high) as i32) > 0) {
            self.high[end] = Some(to);
        }
        again
    }
}

/// Data segments sent in a row by one end of one connection.
struct Group {
    key: (SocketAddr, SocketAddr),
    end: usize,
    first_at: Instant,
    last_at: Instant,
    /// Relative sequence numbers of its first byte and of the byte after its last.
    from: u32,
    to: u32,
    bytes: u64,
    segments: u32,
    /// Bytes of the run that had been sent before (retransmitted).
    again: u64,
}

/// The [`Sink`] that writes segments into a transcript.
pub struct SegmentLog {
    log: Transcript,
    program: ProgramEnd,
    /// By (client, server).
    connections: HashMap<(SocketAddr, SocketAddr), Connection>,
    groups: Vec<Group>,
}

impl SegmentLog {
    pub fn new(log: Transcript, program: ProgramEnd) -> Self {
        SegmentLog {
            log,
            program,
            connections: HashMap::new(),
            groups: Vec::new(),
        }
    }

    /// The connection of `s` and the end that sent it (0 client, 1 server); one is made for a segment
    /// whose SYN was not seen, taking its sender for the client.
    fn connection(&mut self, s: &Segment) -> ((SocketAddr, SocketAddr), usize) {
        if s.flags.syn && !s.flags.ack {
            // A new connection (possibly reusing the addresses of an old one).
            self.flush_connection((s.src, s.dst));
            self.connections
                .insert((s.src, s.dst), Connection::new(s.src, s.dst));
        }
        if self.connections.contains_key(&(s.src, s.dst)) {
            return ((s.src, s.dst), 0);
        }
        if self.connections.contains_key(&(s.dst, s.src)) {
            return ((s.dst, s.src), 1);
        }
        self.connections
            .insert((s.src, s.dst), Connection::new(s.src, s.dst));
        ((s.src, s.dst), 0)
    }

    /// `program 127.0.0.1:8888` or `grader 127.0.0.1:40112`, for end `end` of a connection. // fixed-port-ok: text, never bound
    fn name(&self, c: &Connection, end: usize) -> String {
        let program_end = match self.program {
            ProgramEnd::Client => 0,
            ProgramEnd::Server => 1,
        };
        let who = if end == program_end {
            "program"
        } else {
            "grader"
        };
        let addr = if end == 0 { c.client } else { c.server };
        format!("{who} {addr}")
    }

    fn write(&self, at: Instant, key: (SocketAddr, SocketAddr), end: usize, what: &str) {
        let Some(c) = self.connections.get(&key) else {
            return;
        };
        let line = format!("{} → {}: {what}", self.name(c, end), self.name(c, 1 - end));
        self.log.event_at(at, CHANNEL, &line);
    }

    fn write_group(&self, g: &Group) {
        let mut what = format!("data, seq {}:{} ({}", g.from, g.to, bytes(g.bytes));
        if g.segments > 1 {
            what.push_str(&format!(" in {} segments", g.segments));
        }
        if g.again > 0 {
            what.push_str(&format!(
                ", {} of them sent again: a retransmission",
                g.again
            ));
        }
        what.push(')');
        self.write(g.first_at, g.key, g.end, &what);
    }

    fn flush_where(&mut self, mut done: impl FnMut(&Group) -> bool) {
        let (out, kept): (Vec<Group>, Vec<Group>) = std::mem::take(&mut self.groups)
            .into_iter()
            .partition(|g| done(g));
        self.groups = kept;
        for g in &out {
            self.write_group(g);
        }
    }

    fn flush_connection(&mut self, key: (SocketAddr, SocketAddr)) {
        self.flush_where(|g| g.key == key);
    }

    fn data(&mut self, s: &Segment, key: (SocketAddr, SocketAddr), end: usize, rel: u32) {
        // The other end's run ends where this one begins: an answer.
        self.flush_where(|g| g.key == key && g.end != end);
        let len = s.len as u32;
        let again = self
            .connections
            .get_mut(&key)
            .map_or(0, |c| c.sent_again(end, rel, len));
        if let Some(g) = self
            .groups
            .iter_mut()
            .find(|g| g.key == key && g.end == end && g.to == rel)
        {
            g.to = rel.wrapping_add(len);
            g.bytes += u64::from(len);
            g.segments += 1;
            g.again += u64::from(again);
            g.last_at = s.at;
            return;
        }
        // Not contiguous (a retransmission, a gap): a run of its own.
        self.flush_where(|g| g.key == key && g.end == end);
        self.groups.push(Group {
            key,
            end,
            first_at: s.at,
            last_at: s.at,
            from: rel,
            to: rel.wrapping_add(len),
            bytes: u64::from(len),
            segments: 1,
            again: u64::from(again),
        });
    }
}

/// `1 byte`, `64 bytes`.
fn bytes(n: u64) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

impl Sink for SegmentLog {
    fn segment(&mut self, s: Segment) {
        let (key, end) = self.connection(&s);
        let Some(c) = self.connections.get_mut(&key) else {
            return;
        };
        if s.flags.syn {
            c.isn[end] = Some(s.seq);
        }
        let rel_seq = c.isn[end].map_or(s.seq, |isn| s.seq.wrapping_sub(isn));
        let rel_ack = c.isn[1 - end].map_or(s.ack, |isn| s.ack.wrapping_sub(isn));
        let ack = if s.flags.ack {
            format!(", ack {rel_ack}")
        } else {
            String::new()
        };
        let own_fin_before = c.fin[end];
        // A server end that resets a connection it never accepted (no SYN-ACK): nobody listens.
        let refused = s.flags.rst && end == 1 && c.isn[1].is_none();
        let fin_rel = rel_seq.wrapping_add(s.len as u32);
        let fin_again = s.flags.fin && own_fin_before == Some(fin_rel);
        if s.flags.fin {
            c.fin[end] = Some(fin_rel);
        }
        if s.is_pure_ack() {
            return;
        }
        if !s.flags.syn && !s.flags.fin && !s.flags.rst {
            self.data(&s, key, end, rel_seq);
            return;
        }
        self.flush_connection(key);
        let with_data = if s.len > 0 {
            format!(
                " with {}, seq {}:{}",
                bytes(s.len as u64),
                rel_seq,
                rel_seq.wrapping_add(s.len as u32)
            )
        } else {
            format!(", seq {rel_seq}")
        };
        let what = if s.flags.syn {
            let kind = if s.flags.ack { "SYN-ACK" } else { "SYN" };
            format!("{kind}, seq 0{ack} (ISN {})", s.seq)
        } else if s.flags.rst {
            let why = if refused {
                "nothing listens there: the connection is refused"
            } else if own_fin_before.is_some() {
                "a segment came after it had closed"
            } else {
                "the connection is aborted, not closed with FIN: a socket closed with unread data, \
                 or with SO_LINGER 0, resets it, and the peer's recv() fails (ConnectionResetError)"
            };
            format!("RST{with_data}{ack}: {why}")
        } else if fin_again {
            format!("FIN again{with_data}{ack}: a retransmission")
        } else {
            format!("FIN{with_data}{ack}: it closes its side")
        };
        self.write(s.at, key, end, &what);
    }

    fn idle(&mut self, now: Instant) {
        self.flush_where(|g| now.saturating_duration_since(g.last_at) >= GROUP_QUIET);
    }

    fn lost(&mut self, count: u64) {
        self.log.event(
            CHANNEL,
            &format!("{count} segments were not captured (the capture fell behind)"),
        );
    }

    fn flush(&mut self) {
        self.flush_where(|_| true);
    }

    fn failed(&mut self, error: &io::Error) {
        self.log
            .event(CHANNEL, &format!("the capture stopped: {error}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packets::{Flags, TcpOptions};
    use std::time::SystemTime;

    const GRADER: &str = "127.0.0.1:40112"; // fixed-port-ok: text, never bound
    const PROGRAM: &str = "127.0.0.1:8888"; // fixed-port-ok: never bound, only written

    fn segment(from_grader: bool, flags: &str, seq: u32, ack: u32, len: usize) -> Segment {
        let (src, dst) = if from_grader {
            (GRADER, PROGRAM)
        } else {
            (PROGRAM, GRADER)
        };
        let has = |f: &str| flags.split('-').any(|x| x == f);
        Segment {
            at: Instant::now(),
            wall: SystemTime::now(),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            seq,
            ack,
            flags: Flags {
                syn: has("SYN"),
                fin: has("FIN"),
                rst: has("RST"),
                psh: has("PSH"),
                ack: has("ACK"),
                ..Flags::default()
            },
            window: 512,
            options: TcpOptions::default(),
            len,
            data: Vec::new(),
        }
    }

    /// The events `segments` give, when the program is the `program` end.
    fn events(program: ProgramEnd, segments: Vec<Segment>) -> Vec<String> {
        let log = Transcript::new();
        let mut sink = SegmentLog::new(log.clone(), program);
        for mut s in segments {
            // Captured now: after the transcript began.
            s.at = Instant::now();
            sink.segment(s);
        }
        sink.flush();
        log.take()
            .0
            .iter()
            .map(|e| String::from_utf8_lossy(&e.bytes).into_owned())
            .collect()
    }

    #[test]
    fn a_connection_reads_as_syn_data_runs_and_an_rst() {
        let (c, s) = (1000u32, 5000u32);
        let got = events(
            ProgramEnd::Server,
            vec![
                segment(true, "SYN", c, 0, 0),
                segment(false, "SYN-ACK", s, c + 1, 0),
                segment(true, "ACK", c + 1, s + 1, 0),
                segment(true, "PSH-ACK", c + 1, s + 1, 6),
                segment(true, "PSH-ACK", c + 7, s + 1, 6),
                segment(false, "ACK", s + 1, c + 13, 0),
                segment(false, "PSH-ACK", s + 1, c + 13, 4),
                segment(false, "RST-ACK", s + 5, c + 13, 0),
            ],
        );
        let g = "grader 127.0.0.1:40112"; // fixed-port-ok: text, never bound
        let p = "program 127.0.0.1:8888"; // fixed-port-ok: text, never bound
        assert_eq!(got[0], format!("{g} → {p}: SYN, seq 0 (ISN 1000)"));
        assert_eq!(
            got[1],
            format!("{p} → {g}: SYN-ACK, seq 0, ack 1 (ISN 5000)")
        );
        assert_eq!(
            got[2],
            format!("{g} → {p}: data, seq 1:13 (12 bytes in 2 segments)")
        );
        assert_eq!(got[3], format!("{p} → {g}: data, seq 1:5 (4 bytes)"));
        assert!(
            got[4].starts_with(&format!(
                "{p} → {g}: RST, seq 5, ack 13: the connection is aborted"
            )),
            "{got:?}"
        );
        assert_eq!(got.len(), 5, "pure ACKs are left out: {got:?}");
    }

    #[test]
    fn retransmissions_are_named() {
        let (c, s) = (0u32, 0u32);
        let got = events(
            ProgramEnd::Server,
            vec![
                segment(true, "SYN", c, 0, 0),
                segment(false, "SYN-ACK", s, c + 1, 0),
                segment(true, "ACK", c + 1, s + 1, 1000),
                segment(true, "ACK", c + 1001, s + 1, 1000),
                // The second segment again, then on.
                segment(true, "ACK", c + 1001, s + 1, 1000),
                segment(true, "ACK", c + 2001, s + 1, 1000),
                segment(true, "FIN-ACK", c + 3001, s + 1, 0),
                segment(true, "FIN-ACK", c + 3001, s + 1, 0),
            ],
        );
        let g = "grader 127.0.0.1:40112"; // fixed-port-ok: text, never bound
        let p = "program 127.0.0.1:8888"; // fixed-port-ok: text, never bound
        assert_eq!(
            got[2],
            format!("{g} → {p}: data, seq 1:2001 (2000 bytes in 2 segments)")
        );
        assert_eq!(
            got[3],
            format!(
                "{g} → {p}: data, seq 1001:3001 (2000 bytes in 2 segments, 1000 of them sent again: \
                 a retransmission)"
            )
        );
        assert_eq!(
            got[4],
            format!("{g} → {p}: FIN, seq 3001, ack 1: it closes its side")
        );
        assert_eq!(
            got[5],
            format!("{g} → {p}: FIN again, seq 3001, ack 1: a retransmission")
        );
    }

    #[test]
    fn a_close_reads_as_two_fins_and_a_refused_connection_as_such() {
        let got = events(
            ProgramEnd::Client,
            vec![
                segment(false, "SYN", 1, 0, 0),
                segment(true, "SYN-ACK", 9, 2, 0),
                segment(false, "FIN-ACK", 2, 10, 3),
                segment(true, "FIN-ACK", 10, 6, 0),
                segment(false, "SYN", 100, 0, 0),
                segment(true, "RST-ACK", 0, 101, 0),
            ],
        );
        // The program is the client here: its address is the one that sent the SYN.
        let g = "grader 127.0.0.1:40112"; // fixed-port-ok: text, never bound
        let p = "program 127.0.0.1:8888"; // fixed-port-ok: text, never bound
        assert_eq!(
            got[2],
            format!("{p} → {g}: FIN with 3 bytes, seq 1:4, ack 1: it closes its side")
        );
        assert_eq!(
            got[3],
            format!("{g} → {p}: FIN, seq 1, ack 5: it closes its side")
        );
        assert!(
            got[5].contains("RST") && got[5].contains("refused"),
            "{got:?}"
        );
    }
}
