//! What each segment of one connection means, in the lesson's words: the three handshakes, data and
//! its acknowledgment, the four waves of the close, a reset.

use std::net::SocketAddr;

use serde::Serialize;

use super::Side;
use crate::packets::{Segment, TcpOptions};

/// Where a segment is in the life of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// The client's SYN: the first handshake.
    #[serde(rename = "handshake-1")]
    Handshake1,
    /// The server's SYN-ACK: the second handshake.
    #[serde(rename = "handshake-2")]
    Handshake2,
    /// The client's ACK of the SYN-ACK: the third handshake; the connection is established.
    #[serde(rename = "handshake-3")]
    Handshake3,
    /// A segment carrying payload.
    #[serde(rename = "data")]
    Data,
    /// The acknowledgment of data, carrying none itself.
    #[serde(rename = "data-ack")]
    DataAck,
    /// The first FIN: the first wave of the close.
    #[serde(rename = "close-1")]
    Close1,
    /// The ACK of the first FIN: the second wave.
    #[serde(rename = "close-2")]
    Close2,
    /// The second FIN, from the other end: the third wave.
    #[serde(rename = "close-3")]
    Close3,
    /// The ACK of the second FIN: the fourth wave; the end that sent the first FIN goes to TIME_WAIT.
    #[serde(rename = "close-4")]
    Close4,
    /// A segment with RST: the connection aborted.
    #[serde(rename = "reset")]
    Reset,
    /// Anything else (a window update, a retransmission).
    #[serde(rename = "other")]
    Other,
}

/// One captured segment with its reading.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1 for the first segment.
    pub n: usize,
    /// Seconds since the first segment.
    pub t: f64,
    /// The end that sent it (absent for a segment of another connection).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Side>,
    /// The sender's address.
    pub src: SocketAddr,
    /// The receiver's address.
    pub dst: SocketAddr,
    /// `["SYN", "ACK"]`.
    pub flags: Vec<&'static str>,
    /// The sequence number as sent (absolute).
    pub seq: u32,
    /// `seq` less the sender's initial sequence number (as Wireshark shows it).
    pub relative_seq: u32,
    /// Present when the ACK flag is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<u32>,
    /// `ack` less the other end's initial sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_ack: Option<u32>,
    /// Payload bytes.
    pub len: usize,
    /// The window field as sent.
    pub window: u16,
    /// The receive window in bytes: the field shifted by the sender's window scale, once both ends
    /// offered one in their SYN (the field of a SYN is never scaled).
    pub window_bytes: u32,
    /// The TCP options the segment carried (MSS, window scale, ...), as captured.
    #[serde(skip_serializing_if = "TcpOptions::is_empty")]
    pub options: TcpOptions,
    /// The payload as text (escaped where it is not), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Where the segment is in the life of the connection.
    pub phase: Phase,
    /// The lesson's reading: `second handshake: SYN-ACK, ack = 37467754 + 1 = 37467755; ...`.
    pub reading: String,
}

impl Step {
    /// `SYN-ACK`.
    pub fn flag_text(&self) -> String {
        self.flags.join("-")
    }
}

/// What the reading remembers while it goes through the segments.
#[derive(Default)]
struct Memory {
    /// Initial sequence numbers, client then server.
    isn: [Option<u32>; 2],
    handshake_done: bool,
    /// The sequence number of each end's FIN, in the order sent.
    fins: Vec<(Side, u32)>,
    /// FINs acknowledged so far.
    fins_acked: usize,
    /// The last data each end sent: (seq, len).
    last_data: [Option<(u32, usize)>; 2],
    /// The window scale each end offered in its SYN.
    scale: [Option<u8>; 2],
}

fn index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// Reads the segments of the connection between `client` and `server`, in capture order.
pub fn read(segments: &[Segment], client: SocketAddr, server: SocketAddr) -> Vec<Step> {
    let first = segments.first().map(|s| s.at);
    let mut memory = Memory::default();
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let from = if s.src == client && s.dst == server {
                Some(Side::Client)
            } else if s.src == server && s.dst == client {
                Some(Side::Server)
            } else {
                None
            };
            let (phase, reading) = match from {
                Some(side) => memory.reading(side, s),
                None => (Phase::Other, "not part of this connection".to_string()),
            };
            let window_bytes = match (from, s.flags.syn) {
                (Some(f), false) => memory.window_bytes(f, s.window),
                _ => u32::from(s.window),
            };
            let own_isn = from.and_then(|f| memory.isn[index(f)]).unwrap_or(s.seq);
            let peer_isn = from.and_then(|f| memory.isn[index(f.other())]);
            Step {
                n: i + 1,
                t: first.map_or(0.0, |f| s.at.saturating_duration_since(f).as_secs_f64()),
                from,
                src: s.src,
                dst: s.dst,
                flags: s.flags.names(),
                seq: s.seq,
                relative_seq: s.seq.wrapping_sub(own_isn),
                ack: s.flags.ack.then_some(s.ack),
                relative_ack: peer_isn
                    .filter(|_| s.flags.ack)
                    .map(|isn| s.ack.wrapping_sub(isn)),
                len: s.len,
                window: s.window,
                window_bytes,
                options: s.options.clone(),
                data: (s.len > 0).then(|| shown_data(s)),
                phase,
                reading,
            }
        })
        .collect()
}

fn shown_data(s: &Segment) -> String {
    let text = crate::wire::escape_bytes(&s.data);
    if s.data.len() < s.len {
        format!("{text}…")
    } else {
        text
    }
}

impl Memory {
    fn window_bytes(&self, from: Side, window: u16) -> u32 {
        match self.scale {
            [Some(client), Some(server)] => {
                let shift = if from == Side::Client { client } else { server };
                u32::from(window) << shift.min(14)
            }
            _ => u32::from(window),
        }
    }

    fn reading(&mut self, from: Side, s: &Segment) -> (Phase, String) {
        let (me, peer) = (from.name(), from.other().name());
        let peer_isn = self.isn[index(from.other())];
        let f = &s.flags;
        if f.syn {
            self.scale[index(from)] = s.options.window_scale;
        }
        if f.syn && !f.ack {
            self.isn[index(from)] = Some(s.seq);
            return (
                Phase::Handshake1,
                format!(
                    "first handshake: SYN, seq = {} (the {me}'s initial sequence number, ISN, \
                     chosen at random)",
                    s.seq
                ),
            );
        }
        if f.syn {
            self.isn[index(from)] = Some(s.seq);
            let ack = match peer_isn {
                Some(isn) => format!("ack = {isn} + 1 = {}", s.ack),
                None => format!("ack = {}", s.ack),
            };
            return (
                Phase::Handshake2,
                format!(
                    "second handshake: SYN-ACK, {ack} (the {peer}'s SYN counts as one byte); \
                     seq = {} (the {me}'s own ISN)",
                    s.seq
                ),
            );
        }
        if f.rst {
            let why = if self.fins.iter().any(|(side, _)| *side == from) {
                "after its own close: a segment came for a socket it had closed"
            } else {
                "instead of a close with FIN: a program that closes with unread data, or with \
                 SO_LINGER 0, resets the connection; unread data is lost"
            };
            return (
                Phase::Reset,
                format!("RST: the {me} aborts the connection, {why}"),
            );
        }
        if f.fin {
            let fin_seq = s.seq.wrapping_add(s.len as u32);
            let data = if s.len > 0 {
                format!(" (after {} bytes of data)", s.len)
            } else {
                String::new()
            };
            self.note_data(from, s);
            let peer_fin = self.fins.iter().find(|(side, _)| *side != from).copied();
            self.fins.push((from, fin_seq));
            return match peer_fin {
                None => (
                    Phase::Close1,
                    format!(
                        "first wave: the {me} calls close(): FIN, seq = {fin_seq}{data}; the {me} \
                         goes to FIN_WAIT1"
                    ),
                ),
                Some((_, peer_fin_seq)) => {
                    let also = if f.ack
                        && s.ack == peer_fin_seq.wrapping_add(1)
                        && self.fins_acked == 0
                    {
                        self.fins_acked = 1;
                        format!(
                            "; it also acknowledges the {peer}'s FIN, ack = {peer_fin_seq} + 1 = {} \
                             (the second and third waves in one segment)",
                            s.ack
                        )
                    } else {
                        String::new()
                    };
                    (
                        Phase::Close3,
                        format!(
                            "third wave: the {me} calls close() too: FIN, seq = {fin_seq}{data}; the \
                             {me} goes from CLOSE_WAIT to LAST_ACK{also}"
                        ),
                    )
                }
            };
        }
        if s.len > 0 {
            self.note_data(from, s);
            let rel = self.isn[index(from)].map(|isn| s.seq.wrapping_sub(isn));
            let bytes = match rel {
                Some(rel) => format!(
                    " (bytes {rel} to {} of its stream)",
                    rel.wrapping_add(s.len as u32 - 1)
                ),
                None => String::new(),
            };
            return (
                Phase::Data,
                format!(
                    "data: the {me} sends {} bytes, seq = {}{bytes}",
                    s.len, s.seq
                ),
            );
        }
        // A pure ACK: of the handshake, of a FIN, or of data.
        if !self.handshake_done && from == Side::Client {
            if let Some(isn) = peer_isn.filter(|isn| s.ack == isn.wrapping_add(1)) {
                self.handshake_done = true;
                return (
                    Phase::Handshake3,
                    format!(
                        "third handshake: ACK, ack = {isn} + 1 = {}; both ends are now ESTABLISHED \
                         (connect() returns in the client, accept() in the server)",
                        s.ack
                    ),
                );
            }
        }
        if let Some(&(fin_side, fin_seq)) = self.fins.get(self.fins_acked) {
            if fin_side != from && s.ack == fin_seq.wrapping_add(1) {
                self.fins_acked += 1;
                return if self.fins_acked == 1 {
                    (
                        Phase::Close2,
                        format!(
                            "second wave: ACK of the FIN, ack = {fin_seq} + 1 = {}; the {peer} \
                             waits in FIN_WAIT2 for the {me}'s FIN, the {me} is in CLOSE_WAIT (its \
                             recv() returns b'') until it calls close()",
                            s.ack
                        ),
                    )
                } else {
                    (
                        Phase::Close4,
                        format!(
                            "fourth wave: ACK of the FIN, ack = {fin_seq} + 1 = {}; the {me} goes \
                             to TIME_WAIT, the {peer} to CLOSED",
                            s.ack
                        ),
                    )
                };
            }
        }
        if let Some((seq, len)) = self.last_data[index(from.other())] {
            if s.ack == seq.wrapping_add(len as u32) {
                return (
                    Phase::DataAck,
                    format!(
                        "ACK of the data: ack = {seq} + {len} = {}, the next byte the {me} expects",
                        s.ack
                    ),
                );
            }
        }
        (Phase::Other, format!("ACK, ack = {}", s.ack))
    }

    fn note_data(&mut self, from: Side, s: &Segment) {
        if s.len > 0 {
            self.last_data[index(from)] = Some((s.seq, s.len));
        }
    }
}

/// The end whose FIN came first.
pub fn first_fin(steps: &[Step]) -> Option<Side> {
    steps
        .iter()
        .find(|s| s.phase == Phase::Close1)
        .and_then(|s| s.from)
}

/// True once both ends sent a FIN and the second FIN was acknowledged.
pub fn close_is_over(segments: &[Segment]) -> bool {
    let fins: Vec<&Segment> = segments.iter().filter(|s| s.flags.fin).collect();
    let [.., first, second] = fins.as_slice() else {
        return false;
    };
    if first.src == second.src {
        return false;
    }
    let last_fin = second.seq.wrapping_add(second.len as u32);
    segments
        .iter()
        .any(|s| s.src == second.dst && s.flags.ack && s.ack == last_fin.wrapping_add(1))
}

/// Why `time_wait` (read from `/proc`) is the end left in TIME_WAIT, given who closed first.
pub fn why_time_wait(closed_first: Option<Side>, time_wait: Option<Side>) -> String {
    match (closed_first, time_wait) {
        (Some(first), Some(waiting)) if first == waiting => {
            let (me, peer) = (first.name(), first.other().name());
            format!(
                "the {me} closed first (its FIN came first), so it is the {me} that waits in \
                 TIME_WAIT: after its last ACK it keeps the connection for 2 x MSL (60 s on Linux), \
                 so that it can send that ACK again if the {peer}'s FIN comes again, and so that no \
                 late segment of this connection is taken for part of a new one between the same \
                 addresses and ports. The {peer}, which closed second, went from LAST_ACK to CLOSED \
                 at that ACK and keeps nothing. A server that closes first keeps its port's \
                 connections in TIME_WAIT: that is why a restarted server needs SO_REUSEADDR to bind \
                 its port again at once."
            )
        }
        (Some(first), Some(waiting)) => format!(
            "the {} closed first, yet the {} is in TIME_WAIT: both ends closed at once (a \
             simultaneous close ends in TIME_WAIT on both sides).",
            first.name(),
            waiting.name()
        ),
        (_, None) => "no socket of the connection was found in TIME_WAIT (the close did not \
                      finish within the wait)."
            .to_string(),
        (None, Some(waiting)) => format!(
            "the {} is in TIME_WAIT, but no FIN was captured.",
            waiting.name()
        ),
    }
}
