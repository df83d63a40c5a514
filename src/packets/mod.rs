//! TCP segments captured on `lo` of a private network namespace, as a student would see them in
//! Wireshark: used by `sockspec handshake` (one connection, every segment with the lesson's reading)
//! and by `sockspec grade --packets` (the segments of a program in each check's wire transcript).
//!
//! - [`socket`]: the raw `AF_PACKET` socket on `lo`, filtered to TCP in the kernel, with timestamps.
//! - [`segment`]: one segment parsed from a frame (`etherparse`): addresses, flags, seq/ack, options.
//! - [`recorder`]: a thread that reads the socket with bounded waits and hands segments to a sink.
//!
//! A capture needs `CAP_NET_RAW` where the namespace belongs: root, or an ordinary user inside a user
//! namespace of its own (see [`crate::grade::netns`]).

pub mod recorder;
pub mod segment;
pub mod socket;

pub use recorder::{Collect, Recorder, Sink};
pub use segment::{Flags, Segment, TcpOptions};
pub use socket::PacketSocket;
