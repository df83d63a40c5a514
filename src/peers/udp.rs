//! The lesson's UDP sender and receiver: one datagram per line typed, printed by the receiver with the
//! sender's address.
//!
//! A datagram is never split or merged: the sender refuses a payload above [`wire::MAX_UDP_PAYLOAD`], and
//! the receiver reads into a buffer larger than any datagram, so each arrives whole.

use std::io::{self, BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

use super::{strip_line_ending, wait_any, Handle, Stop, Wake};
use crate::error::{Error, Result};
use crate::wire::{self, Deadline};

/// A receive buffer that holds the largest datagram whole (65,535 minus the headers, rounded up).
pub const RECV_BUFFER: usize = 65_536;

/// The most datagrams taken after a stop: more than a full receive buffer holds (4 MiB of empty
/// datagrams is some 11,000), so a sender that keeps sending cannot hold a stop up.
const MAX_DRAIN: u64 = 65_536;

/// Settings of the UDP receiver: [`UdpConfig::default`] and the setters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UdpConfig {
    /// Stop after this many datagrams; `None`, the default, receives until stopped.
    pub count: Option<u64>,
}

impl UdpConfig {
    /// Stops after `count` datagrams.
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }
}

/// One datagram as it arrived: whole, with the address of its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Datagram {
    /// The sender's address.
    pub from: SocketAddr,
    /// The payload, whole.
    pub payload: Vec<u8>,
}

impl Datagram {
    /// Writes the receiver's line for this datagram, `SENDER_ADDR: TEXT`. TEXT is the payload as it came
    /// (Chinese stays intact), or with `escape`, with control characters and invalid UTF-8 as escapes, so
    /// a payload holding newlines stays one line.
    pub fn write_line(&self, out: &mut impl Write, escape: bool) -> io::Result<()> {
        write!(out, "{}: ", self.from)?;
        if escape {
            out.write_all(wire::escape_bytes(&self.payload).as_bytes())?;
        } else {
            out.write_all(&self.payload)?;
        }
        out.write_all(b"\n")
    }
}

/// The handle of a spawned UDP receiver: [`Handle::stop`] (or [`Handle::wait`] with a count) returns
/// every [`Datagram`] received, in order.
pub type UdpHandle = Handle<Vec<Datagram>>;

/// A bound UDP receiver.
///
/// ```
/// use sockspec::peers::udp::{UdpConfig, UdpReceiver, UdpSender};
///
/// let receiver = UdpReceiver::bind("127.0.0.1:0".parse()?, UdpConfig::default())?.spawn()?;
/// let sender = UdpSender::new(receiver.local_addr())?;
/// sender.send("你好，UDP".as_bytes())?;
/// sender.send(b"")?;
/// // On loopback a datagram is queued at the receiver before send returns: stop takes what is queued.
/// let got = receiver.stop()?;
/// assert_eq!(got.len(), 2);
/// assert_eq!(got[0].payload, "你好，UDP".as_bytes());
/// assert_eq!(got[1].from, sender.local_addr());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct UdpReceiver {
    socket: UdpSocket,
    addr: SocketAddr,
    config: UdpConfig,
}

impl UdpReceiver {
    /// Binds `addr`, asking the kernel for a receive buffer of [`wire::UDP_RECV_BUFFER`] so that bursts
    /// are queued instead of dropped.
    pub fn bind(addr: SocketAddr, config: UdpConfig) -> Result<Self> {
        let socket = wire::bind_udp(addr, Some(wire::UDP_RECV_BUFFER))?;
        let addr = socket
            .local_addr()
            .map_err(|e| Error::io("cannot read the bound address", e))?;
        Ok(UdpReceiver {
            socket,
            addr,
            config,
        })
    }

    /// The address the receiver is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The receive buffer the kernel granted (it caps the request at `net.core.rmem_max`).
    pub fn recv_buffer_size(&self) -> Result<usize> {
        wire::udp_recv_buffer(&self.socket)
            .map_err(|e| Error::io("cannot read the receive buffer size", e))
    }

    /// Receives one datagram into `buf`, or `None` once the deadline passes. Give a buffer of
    /// [`RECV_BUFFER`] bytes: the part of a datagram that does not fit is lost.
    pub fn recv(&self, buf: &mut [u8], deadline: Deadline) -> Result<Option<(usize, SocketAddr)>> {
        loop {
            let Some(left) = deadline.remaining() else {
                return Ok(None);
            };
            self.socket
                .set_read_timeout(Some(left))
                .map_err(|e| Error::io("cannot configure the socket", e))?;
            match self.socket.recv_from(buf) {
                Ok(got) => return Ok(Some(got)),
                // The loop checks the deadline again: a timeout can fire a little early.
                Err(e) if wire::is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.recv_err(e)),
            }
        }
    }

    /// Receives in this thread until the configured count (for ever without one), calling
    /// `on_datagram` for each as it arrives; an error from it ends the run. Returns the count.
    pub fn run(self, mut on_datagram: impl FnMut(&Datagram) -> Result<()>) -> Result<u64> {
        self.receive_until(&Stop::never(), |d| on_datagram(&d))
    }

    /// Receives on a thread of its own until the count or a stop; see [`UdpHandle`].
    pub fn spawn(self) -> Result<UdpHandle> {
        Handle::spawn("UDP receiver", self.addr, move |stop| {
            let mut got = Vec::new();
            self.receive_until(&stop, |d| {
                got.push(d);
                Ok(())
            })?;
            Ok(got)
        })
    }

    fn receive_until(
        &self,
        stop: &Stop,
        mut on_datagram: impl FnMut(Datagram) -> Result<()>,
    ) -> Result<u64> {
        self.socket
            .set_nonblocking(true)
            .map_err(|e| Error::io("cannot configure the socket", e))?;
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut received = 0u64;
        // Once a stop came: how many more datagrams may still be taken.
        let mut draining: Option<u64> = None;
        while self.config.count.is_none_or(|count| received < count) {
            match &mut draining {
                None => match wait_any(&[self.socket.as_raw_fd()], stop, None)
                    .map_err(|e| self.recv_err(e))?
                {
                    // What is queued already was sent before the stop: it is still taken.
                    Wake::Stopped => draining = Some(MAX_DRAIN),
                    Wake::Ready(_) | Wake::TimedOut => {}
                },
                Some(0) => break,
                Some(left) => *left -= 1,
            }
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    received += 1;
                    on_datagram(Datagram {
                        from,
                        payload: buf[..n].to_vec(),
                    })?;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && draining.is_some() => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(self.recv_err(e)),
            }
        }
        Ok(received)
    }

    fn recv_err(&self, e: io::Error) -> Error {
        Error::io(format!("cannot receive on {}", self.addr), e)
    }
}

/// A UDP socket connected to one receiver.
pub struct UdpSender {
    socket: UdpSocket,
    addr: SocketAddr,
    local: SocketAddr,
}

impl UdpSender {
    /// Binds an ephemeral port (on loopback when `addr` is loopback) and connects to `addr`, so that
    /// only datagrams from `addr` are accepted and a refusal from `addr` is reported.
    pub fn new(addr: SocketAddr) -> Result<Self> {
        let ip: IpAddr = match (addr.ip().is_loopback(), addr.is_ipv4()) {
            (true, true) => Ipv4Addr::LOCALHOST.into(),
            (true, false) => Ipv6Addr::LOCALHOST.into(),
            (false, true) => Ipv4Addr::UNSPECIFIED.into(),
            (false, false) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let bind = SocketAddr::new(ip, 0);
        let socket = wire::bind_udp(bind, None)?;
        socket
            .connect(addr)
            .map_err(|source| Error::Connect { addr, source })?;
        let local = socket
            .local_addr()
            .map_err(|e| Error::io("cannot read the bound address", e))?;
        Ok(UdpSender {
            socket,
            addr,
            local,
        })
    }

    /// The address the datagrams come from (what the receiver reports as their sender).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Sends `payload` as one datagram. A payload above [`wire::MAX_UDP_PAYLOAD`] is refused, never split.
    pub fn send(&self, payload: &[u8]) -> Result<()> {
        if payload.len() > wire::MAX_UDP_PAYLOAD {
            return Err(Error::Usage(format!(
                "a datagram of {} bytes is too large: UDP carries at most {} bytes, \
                 and sockspec never splits one",
                payload.len(),
                wire::MAX_UDP_PAYLOAD
            )));
        }
        match self.socket.send(payload) {
            Ok(_) => self.check(),
            Err(e) => Err(self.send_err(e)),
        }
    }

    /// Fails when an ICMP error came back for a datagram already sent: on loopback the "port
    /// unreachable" for a datagram nobody takes is queued on the socket before `send` returns.
    pub fn check(&self) -> Result<()> {
        match self.socket.take_error() {
            Ok(None) => Ok(()),
            Ok(Some(e)) | Err(e) => Err(self.send_err(e)),
        }
    }

    fn send_err(&self, e: io::Error) -> Error {
        match e.kind() {
            // An ICMP "port unreachable" comes back on a connected socket.
            io::ErrorKind::ConnectionRefused => Error::Refused { addr: self.addr },
            _ => Error::io(format!("cannot send to {}", self.addr), e),
        }
    }
}

/// Sends one datagram per line of `input`, without its line ending; stops at an empty line or the end of
/// input. Returns the number of datagrams sent.
pub fn run_sender(addr: SocketAddr, mut input: impl BufRead) -> Result<u64> {
    let sender = UdpSender::new(addr)?;
    let mut line = Vec::new();
    let mut sent = 0u64;
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("cannot read standard input", e))?;
        strip_line_ending(&mut line);
        if n == 0 || line.is_empty() {
            // A refusal of the last datagram may come back only now.
            sender.check()?;
            return Ok(sent);
        }
        sender.send(&line)?;
        sent += 1;
    }
}
