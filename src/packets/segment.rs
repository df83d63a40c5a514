//! One TCP segment as captured: addresses, flags, sequence and acknowledgment numbers, window, options
//! and payload length, parsed from a frame of `lo` with `etherparse`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime};

use etherparse::{LaxNetSlice, LaxSlicedPacket, TcpOptionElement, TransportSlice};
use serde::Serialize;

use super::socket::Frame;

/// The control bits of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Flags {
    /// SYN: opens a connection (the first two handshakes).
    pub syn: bool,
    /// FIN: the sender has nothing more to send (a wave of the close).
    pub fin: bool,
    /// RST: the connection is aborted.
    pub rst: bool,
    /// PSH: the sender asks for the data to be delivered at once.
    pub psh: bool,
    /// ACK: the acknowledgment number is valid.
    pub ack: bool,
    /// URG: the urgent pointer is valid.
    pub urg: bool,
    /// ECE: congestion echo (ECN).
    pub ece: bool,
    /// CWR: congestion window reduced (ECN).
    pub cwr: bool,
}

impl Flags {
    /// The names of the bits set, as the lesson writes them: `SYN`, `ACK`, `FIN`, ...
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.syn, "SYN"),
            (self.fin, "FIN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
            (self.urg, "URG"),
            (self.ece, "ECE"),
            (self.cwr, "CWR"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

/// `SYN-ACK`, `FIN-ACK`, `PSH-ACK`, `RST`.
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str(&names.join("-"))
        }
    }
}

/// The TCP options a segment carries (the kernel uses them on loopback too).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TcpOptions {
    /// Maximum segment size (SYN only): 65495 on `lo`, the most an IPv4 packet of at most 65535
    /// bytes holds after 40 bytes of IPv4 and TCP headers (the MTU of `lo`, 65536, allows more).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mss: Option<u16>,
    /// Window scale shift (SYN only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_scale: Option<u8>,
    /// Selective acknowledgments permitted (SYN only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sack_permitted: bool,
    /// Selective acknowledgment blocks (left, right).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sack: Vec<(u32, u32)>,
    /// Timestamps: the sender's clock value and the echo of the peer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<(u32, u32)>,
}

impl TcpOptions {
    /// True when the segment carried none of the options above.
    pub fn is_empty(&self) -> bool {
        *self == TcpOptions::default()
    }
}

/// `mss 65495, sack permitted, timestamps 3954432616/0, window scale 7`.
impl fmt::Display for TcpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(mss) = self.mss {
            parts.push(format!("mss {mss}"));
        }
        if self.sack_permitted {
            parts.push("sack permitted".to_string());
        }
        for (left, right) in &self.sack {
            parts.push(format!("sack {left}:{right}"));
        }
        if let Some((value, echo)) = self.timestamp {
            parts.push(format!("timestamps {value}/{echo}"));
        }
        if let Some(shift) = self.window_scale {
            parts.push(format!("window scale {shift}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// One captured TCP segment.
#[derive(Debug, Clone)]
pub struct Segment {
    /// When the kernel saw it, on this process's monotonic clock.
    pub at: Instant,
    /// The same moment on the wall clock.
    pub wall: SystemTime,
    /// The sender's address.
    pub src: SocketAddr,
    /// The receiver's address.
    pub dst: SocketAddr,
    /// The sequence number, absolute (the sender's initial one is random).
    pub seq: u32,
    /// The acknowledgment number as sent; meaningful only when `flags.ack` is set.
    pub ack: u32,
    /// The control bits.
    pub flags: Flags,
    /// The advertised window, unscaled.
    pub window: u16,
    /// The options it carries.
    pub options: TcpOptions,
    /// Payload bytes the segment carries (its real length, even where the capture kept fewer).
    pub len: usize,
    /// The payload bytes captured (the first ones, up to the capture's length).
    pub data: Vec<u8>,
}

impl Segment {
    /// Parses a frame of `lo` (Ethernet header, IPv4 or IPv6, TCP); `None` for anything else, or a frame
    /// cut before the end of its TCP header.
    pub fn parse(frame: &Frame) -> Option<Segment> {
        let packet = LaxSlicedPacket::from_ethernet(&frame.bytes).ok()?;
        let Some(TransportSlice::Tcp(tcp)) = &packet.transport else {
            return None;
        };
        // The payload length comes from the IP header: the capture may have cut the payload.
        let (src_ip, dst_ip, ip_payload_len): (IpAddr, IpAddr, usize) = match packet.net.as_ref()? {
            LaxNetSlice::Ipv4(ip) => {
                let header = ip.header();
                let len = usize::from(header.total_len()).checked_sub(header.slice().len())?;
                (
                    header.source_addr().into(),
                    header.destination_addr().into(),
                    len,
                )
            }
            LaxNetSlice::Ipv6(ip) => {
                let header = ip.header();
                let len = usize::from(header.payload_length())
                    .checked_sub(ip.extensions().slice().len())?;
                (
                    header.source_addr().into(),
                    header.destination_addr().into(),
                    len,
                )
            }
            LaxNetSlice::Arp(_) => return None,
        };
        let len = ip_payload_len.saturating_sub(tcp.header_slice().len());
        let captured = tcp.payload();
        Some(Segment {
            at: frame.at,
            wall: frame.wall,
            src: SocketAddr::new(src_ip, tcp.source_port()),
            dst: SocketAddr::new(dst_ip, tcp.destination_port()),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            flags: Flags {
                syn: tcp.syn(),
                fin: tcp.fin(),
                rst: tcp.rst(),
                psh: tcp.psh(),
                ack: tcp.ack(),
                urg: tcp.urg(),
                ece: tcp.ece(),
                cwr: tcp.cwr(),
            },
            window: tcp.window_size(),
            options: options(tcp.options_iterator()),
            len,
            data: captured[..captured.len().min(len)].to_vec(),
        })
    }

    /// The sequence space the segment uses: its payload, plus one for a SYN and one for a FIN.
    pub fn seq_len(&self) -> u32 {
        self.len as u32 + u32::from(self.flags.syn) + u32::from(self.flags.fin)
    }

    /// Neither SYN, FIN nor RST, and no payload: only an acknowledgment (or a window update).
    pub fn is_pure_ack(&self) -> bool {
        self.len == 0 && !self.flags.syn && !self.flags.fin && !self.flags.rst
    }
}

fn options<'a, E>(iter: impl Iterator<Item = Result<TcpOptionElement, E>> + 'a) -> TcpOptions {
    let mut out = TcpOptions::default();
    // A malformed option ends the list: what came before it is still shown.
    for option in iter.map_while(Result::ok) {
        match option {
            TcpOptionElement::Noop => {}
            TcpOptionElement::MaximumSegmentSize(mss) => out.mss = Some(mss),
            TcpOptionElement::WindowScale(shift) => out.window_scale = Some(shift),
            TcpOptionElement::SelectiveAcknowledgementPermitted => out.sack_permitted = true,
            TcpOptionElement::SelectiveAcknowledgement(first, rest) => {
                out.sack.push(first);
                out.sack.extend(rest.into_iter().flatten());
            }
            TcpOptionElement::Timestamp(value, echo) => out.timestamp = Some((value, echo)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Ethernet2Header, PacketBuilder, PacketBuilderStep};

    fn frame(bytes: Vec<u8>) -> Frame {
        Frame {
            bytes,
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// A frame as `lo` carries it: an Ethernet header of zeros, IPv4, TCP.
    fn ipv4_frame(build: impl FnOnce(PacketBuilderStep<Ethernet2Header>) -> Vec<u8>) -> Frame {
        frame(build(PacketBuilder::ethernet2([0; 6], [0; 6])))
    }

    #[test]
    fn a_syn_with_options_is_parsed() {
        let f = ipv4_frame(|b| {
            let builder = b
                .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
                .tcp(41000, 8888, 37467754, 65495) // fixed-port-ok: parsed, never bound
                .syn()
                .options(&[
                    TcpOptionElement::MaximumSegmentSize(65495),
                    TcpOptionElement::SelectiveAcknowledgementPermitted,
                    TcpOptionElement::Timestamp(7, 0),
                    TcpOptionElement::Noop,
                    TcpOptionElement::WindowScale(7),
                ])
                .unwrap();
            let mut out = Vec::new();
            builder.write(&mut out, &[]).unwrap();
            out
        });
        let s = Segment::parse(&f).expect("a TCP segment");
        assert_eq!(s.src, "127.0.0.1:41000".parse().unwrap()); // fixed-port-ok: a parsed header, never bound
        assert_eq!(s.dst.port(), 8888);
        assert_eq!((s.seq, s.len, s.seq_len()), (37467754, 0, 1));
        assert_eq!(s.flags.to_string(), "SYN");
        assert_eq!(
            s.options.to_string(),
            "mss 65495, sack permitted, timestamps 7/0, window scale 7"
        );
    }

    #[test]
    fn a_cut_frame_keeps_its_real_payload_length() {
        let mut f = ipv4_frame(|b| {
            let builder = b
                .ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64)
                .tcp(5000, 6000, 1, 100)
                .ack(9)
                .psh();
            let mut out = Vec::new();
            builder.write(&mut out, &[b'x'; 1000]).unwrap();
            out
        });
        f.bytes.truncate(super::super::socket::HEADERS_SNAPLEN);
        let s = Segment::parse(&f).expect("a TCP segment");
        assert_eq!((s.len, s.ack), (1000, 9));
        assert_eq!(s.flags.to_string(), "PSH-ACK");
        assert!(s.data.len() < 1000 && s.data.iter().all(|&b| b == b'x'));
    }

    const LOOPBACK_V6: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

    #[test]
    fn ipv6_segments_are_parsed_and_udp_is_not() {
        let f = frame({
            let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
                .ipv6(LOOPBACK_V6, LOOPBACK_V6, 64)
                .tcp(5000, 6000, 10, 100)
                .fin()
                .ack(20);
            let mut out = Vec::new();
            builder.write(&mut out, b"bye").unwrap();
            out
        });
        let s = Segment::parse(&f).expect("a TCP segment");
        assert_eq!(s.src, "[::1]:5000".parse().unwrap());
        assert_eq!((s.len, s.seq_len(), s.data.as_slice()), (3, 4, &b"bye"[..]));
        assert_eq!(s.flags.to_string(), "FIN-ACK");
        let udp = frame({
            let builder = PacketBuilder::ethernet2([0; 6], [0; 6])
                .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
                .udp(1, 2);
            let mut out = Vec::new();
            builder.write(&mut out, b"x").unwrap();
            out
        });
        assert!(Segment::parse(&udp).is_none());
    }
}
