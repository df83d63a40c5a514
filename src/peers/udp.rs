//! The lesson's UDP sender and receiver: one datagram per line typed, printed by the receiver with the
//! sender's address.
//!
//! A datagram is never split or merged: the sender refuses a payload above [`wire::MAX_UDP_PAYLOAD`], and
//! the receiver reads into a buffer larger than any datagram, so each arrives whole.

use std::io::{self, BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use crate::cli::{self, ClientArgs, ServeUdpArgs};
use crate::error::{Error, Result};
use crate::exit;
use crate::wire::{self, Deadline};

/// A receive buffer that holds the largest datagram whole (65,535 minus the headers, rounded up).
pub const RECV_BUFFER: usize = 65_536;

/// A bound UDP receiver.
pub struct UdpReceiver {
    socket: UdpSocket,
    addr: SocketAddr,
}

impl UdpReceiver {
    /// Binds `addr`, asking the kernel for a receive buffer of [`wire::UDP_RECV_BUFFER`] so that bursts
    /// are queued instead of dropped.
    pub fn bind(addr: SocketAddr) -> Result<Self> {
        let socket = wire::bind_udp(addr, Some(wire::UDP_RECV_BUFFER))?;
        let addr = socket
            .local_addr()
            .map_err(|e| Error::io("cannot read the bound address", e))?;
        Ok(UdpReceiver { socket, addr })
    }

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

    /// Receives one datagram, waiting for as long as it takes.
    fn recv_blocking(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        self.socket
            .set_read_timeout(None)
            .map_err(|e| Error::io("cannot configure the socket", e))?;
        loop {
            match self.socket.recv_from(buf) {
                Ok(got) => return Ok(got),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.recv_err(e)),
            }
        }
    }

    fn recv_err(&self, e: io::Error) -> Error {
        Error::io(format!("cannot receive on {}", self.addr), e)
    }
}

/// Prints one line per datagram, `SENDER_ADDR: TEXT`, until `count` datagrams arrived (for ever when
/// `None`). TEXT is the payload as it came (Chinese stays intact), or with `escape`, control characters
/// and invalid UTF-8 as escapes, so a payload holding newlines stays one line. Returns the count.
pub fn run_receiver(
    receiver: &UdpReceiver,
    count: Option<u64>,
    escape: bool,
    mut out: impl Write,
) -> Result<u64> {
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut received = 0u64;
    while count.is_none_or(|count| received < count) {
        let (n, from) = receiver.recv_blocking(&mut buf)?;
        let payload = &buf[..n];
        write!(out, "{from}: ")
            .and_then(|_| {
                if escape {
                    out.write_all(wire::escape_bytes(payload).as_bytes())
                } else {
                    out.write_all(payload)
                }
            })
            .and_then(|_| out.write_all(b"\n"))
            .and_then(|_| out.flush())
            .map_err(|e| Error::io("cannot write standard output", e))?;
        received += 1;
    }
    Ok(received)
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

fn strip_line_ending(line: &mut Vec<u8>) {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
}

/// `sockspec serve udp`: prints `listening on ADDR`, then one line per datagram.
pub fn cli_serve(args: &ServeUdpArgs) -> Result<u8> {
    let receiver = UdpReceiver::bind(args.listen.addr()?)?;
    cli::announce(receiver.local_addr())?;
    run_receiver(&receiver, args.count, args.escape, io::stdout().lock())?;
    Ok(exit::OK)
}

/// `sockspec send-udp HOST PORT`: one datagram per stdin line; the count goes to stderr.
pub fn cli_send(args: &ClientArgs) -> Result<u8> {
    let addr = args.addr()?;
    let sent = run_sender(addr, io::stdin().lock())?;
    let plural = if sent == 1 { "" } else { "s" };
    eprintln!("sent {sent} datagram{plural} to {addr}");
    Ok(exit::OK)
}
