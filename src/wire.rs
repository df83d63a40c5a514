//! Socket helpers shared by the reference peers, the tests and the grader.
//!
//! Every wait here has a deadline: "nothing arrived" is a deadline that passed, never a sleep.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::grade::procfs::Proto;
use crate::inspect::sockets::port_holder;

/// The largest UDP payload that fits one IPv4 datagram (65,535 - 8 UDP header - 20 IP header).
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// Receive buffer asked for by UDP receivers. Loopback drops datagrams once the default 208 KiB buffer
/// overflows (measured 1-14% loss above ~100k datagrams/s); 4 MiB, the usual `rmem_max`, loses none.
pub const UDP_RECV_BUFFER: usize = 4 * 1024 * 1024;

/// Backlog of the reference TCP listeners: large enough that a burst of clients is never refused.
pub const LISTEN_BACKLOG: i32 = 1024;

/// Raises this process's soft limit on open files to its hard limit, so a server can hold as many
/// connections as the system lets it; returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            }
        }
    }
    limit.rlim_cur
}

/// A point in time after which a wait gives up.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        Deadline {
            at: Instant::now() + timeout,
        }
    }

    /// Time left, or `None` once the deadline has passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    pub fn passed(&self) -> bool {
        self.remaining().is_none()
    }

    pub fn instant(&self) -> Instant {
        self.at
    }
}

/// Resolves `host` (a name or an address) with `port`, preferring IPv4 as the lesson does.
pub fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    // Digits and dots are meant as an address: `999.1.1.1` is a typo to point out, not a name to look up.
    let looks_numeric = !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if looks_numeric && host.parse::<std::net::Ipv4Addr>().is_err() {
        return Err(Error::Usage(format!(
            "{host:?} is not a valid IPv4 address"
        )));
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|source| Error::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| Error::Resolve {
            host: host.to_string(),
            source: io::Error::new(io::ErrorKind::NotFound, "no address found"),
        })
}

/// Opens a TCP listener. SO_REUSEADDR lets a server restart while old connections sit in TIME_WAIT; it
/// does not let two programs listen on one port, which still fails with [`Error::AddrInUse`] (naming
/// the process holding the port when `/proc` shows it).
pub fn listen_tcp(addr: SocketAddr, backlog: i32) -> Result<TcpListener> {
    let bind_err = |source: io::Error| match source.kind() {
        io::ErrorKind::AddrInUse => Error::AddrInUse {
            addr,
            holder: port_holder(Proto::Tcp, addr),
        },
        _ => Error::Bind { addr, source },
    };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.listen(backlog).map_err(bind_err)?;
    Ok(socket.into())
}

/// Binds a UDP socket, asking for a receive buffer of `recv_buffer` bytes when given (the kernel may
/// grant less; [`udp_recv_buffer`] tells what it granted).
pub fn bind_udp(addr: SocketAddr, recv_buffer: Option<usize>) -> Result<UdpSocket> {
    let bind_err = |source: io::Error| match source.kind() {
        io::ErrorKind::AddrInUse => Error::AddrInUse {
            addr,
            holder: port_holder(Proto::Udp, addr),
        },
        _ => Error::Bind { addr, source },
    };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    if let Some(size) = recv_buffer {
        // Best effort: an unprivileged process is capped at rmem_max, which is not an error.
        let _ = socket.set_recv_buffer_size(size);
    }
    socket.bind(&addr.into()).map_err(bind_err)?;
    Ok(socket.into())
}

/// The receive buffer the kernel granted a UDP socket.
pub fn udp_recv_buffer(socket: &UdpSocket) -> io::Result<usize> {
    socket2::SockRef::from(socket).recv_buffer_size()
}

/// Connects within the deadline, telling "nobody listens" apart from other failures.
pub fn connect(addr: SocketAddr, deadline: Deadline) -> Result<TcpStream> {
    let Some(timeout) = deadline.remaining() else {
        return Err(Error::ConnectTimeout { addr, secs: 0.0 });
    };
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(stream) => Ok(stream),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Error::Refused { addr }),
        Err(e) if e.kind() == io::ErrorKind::TimedOut || e.kind() == io::ErrorKind::WouldBlock => {
            Err(Error::ConnectTimeout {
                addr,
                secs: timeout.as_secs_f64(),
            })
        }
        Err(source) => Err(Error::Connect { addr, source }),
    }
}

/// Accepts one connection, or returns `None` when the deadline passes first.
pub fn accept(
    listener: &TcpListener,
    deadline: Deadline,
) -> io::Result<Option<(TcpStream, SocketAddr)>> {
    use std::os::fd::AsRawFd;
    loop {
        let Some(left) = deadline.remaining() else {
            return Ok(None);
        };
        let mut fds = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd that outlives the call.
        let ready = unsafe { libc::poll(&mut fds, 1, ms) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if ready > 0 {
            let (stream, peer) = listener.accept()?;
            stream.set_nonblocking(false)?;
            return Ok(Some((stream, peer)));
        }
    }
}

/// The longest message [`read_message`] collects before returning it whole.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Why a bounded read stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEnd {
    /// The condition asked for holds.
    Done,
    /// The peer closed its side.
    Eof,
    /// The deadline passed first.
    Deadline,
    /// Bytes arrived, then nothing more for the quiet gap.
    Quiet,
}

/// Reads from `stream`, appending to `buf`, until `done(buf)` holds, the peer closes or the deadline passes.
/// A reset connection is returned as the error it is.
pub fn read_until(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Deadline,
    mut done: impl FnMut(&[u8]) -> bool,
) -> io::Result<ReadEnd> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if done(buf) {
            return Ok(ReadEnd::Done);
        }
        let Some(left) = deadline.remaining() else {
            return Ok(ReadEnd::Deadline);
        };
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(ReadEnd::Eof),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => return Ok(ReadEnd::Deadline),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads one message: bytes up to and including a newline, or, for peers that send without one, what
/// arrived before `quiet` passed with nothing more. Bytes after the newline stay in `buf` past the
/// returned length, for the next call.
pub fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Deadline,
    quiet: Duration,
) -> io::Result<(ReadEnd, usize)> {
    let newline = |b: &[u8]| b.iter().position(|&c| c == b'\n').map(|i| i + 1);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(len) = newline(buf) {
            return Ok((ReadEnd::Done, len));
        }
        // A peer that floods without a newline must not fill memory: past the cap, that is the message.
        if buf.len() >= MAX_MESSAGE {
            return Ok((ReadEnd::Done, buf.len()));
        }
        let Some(left) = deadline.remaining() else {
            return Ok((ReadEnd::Deadline, buf.len()));
        };
        // Once something has arrived, a gap of `quiet` ends the message.
        let wait = if buf.is_empty() {
            left
        } else {
            left.min(quiet)
        };
        stream.set_read_timeout(Some(wait))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Ok((ReadEnd::Eof, buf.len())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => {
                if !buf.is_empty() && deadline.remaining().is_some() {
                    return Ok((ReadEnd::Quiet, buf.len()));
                }
                return Ok((ReadEnd::Deadline, buf.len()));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads everything until the peer closes, or the deadline passes (then `Ok(ReadEnd::Deadline)`).
pub fn read_to_end(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Deadline,
) -> io::Result<ReadEnd> {
    read_until(stream, buf, deadline, |_| false)
}

/// Writes `bytes` as a series of separate `write` calls of at most `slice` bytes each, with Nagle off so
/// each slice leaves as its own segment: the way a slow network or a trickling client delivers a message.
pub fn write_in_slices(stream: &mut TcpStream, bytes: &[u8], slice: usize) -> io::Result<()> {
    stream.set_nodelay(true)?;
    for piece in bytes.chunks(slice.max(1)) {
        stream.write_all(piece)?;
        stream.flush()?;
    }
    Ok(())
}

/// Closes the connection with a reset (SO_LINGER 0) instead of the orderly four-way close.
pub fn reset(stream: TcpStream) -> io::Result<()> {
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
    drop(stream);
    Ok(())
}

/// Half-closes the sending side: the peer reads EOF, while replies can still be read.
pub fn finish_sending(stream: &TcpStream) -> io::Result<()> {
    match stream.shutdown(Shutdown::Write) {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// True for the errors a read or write timeout produces.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex sha256 of everything `reader` yields, read in bounded chunks.
pub fn sha256_reader(mut reader: impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((hex(&hasher.finalize()), total))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Shows bytes as text a person can read: valid UTF-8 stays as it is (Chinese included), control
/// characters and invalid bytes become escapes (`\n`, `\r`, `\t`, `\0`, `\xNN`), and `\` becomes `\\`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\0' => out.push_str("\\0"),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{b:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// The bytes that [`escape_bytes`] shows as `text` (a stored report gives back what it was made from). A `\`
/// that starts no escape of that form stays as it is.
pub fn unescape_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'n')) => Some((b'\n', 2)),
            (b'\\', Some(b'r')) => Some((b'\r', 2)),
            (b'\\', Some(b't')) => Some((b'\t', 2)),
            (b'\\', Some(b'0')) => Some((0, 2)),
            (b'\\', Some(b'\\')) => Some((b'\\', 2)),
            (b'\\', Some(b'x')) => text
                .get(i + 2..i + 4)
                .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .map(|b| (b, 4)),
            _ => None,
        };
        match escaped {
            Some((b, len)) => {
                out.push(b);
                i += len;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    out
}

/// Hex dump lines (`offset  hex bytes  |ascii|`) of at most `max` bytes, for binary data in reports.
pub fn hex_dump(bytes: &[u8], max: usize) -> String {
    hex_dump_at(bytes, 0, max)
}

/// Hex dump lines of at most `max` bytes of `bytes` from offset `from`, labelled with their offsets in
/// `bytes`; a last line counts the bytes of `bytes` left after the dump.
pub fn hex_dump_at(bytes: &[u8], from: usize, max: usize) -> String {
    let from = from.min(bytes.len());
    let end = from.saturating_add(max).min(bytes.len());
    let mut out = String::new();
    for (row, line) in bytes[from..end].chunks(16).enumerate() {
        let _ = write!(out, "{:08x}  ", from + row * 16);
        for i in 0..16 {
            match line.get(i) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
        }
        out.push('|');
        for &b in line {
            out.push(if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            });
        }
        out.push_str("|\n");
    }
    if bytes.len() > end {
        let _ = writeln!(out, "... {} more bytes", bytes.len() - end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_gives_back_the_escaped_bytes() {
        let samples: [&[u8]; 5] = [
            "ECHO：你好\n".as_bytes(),
            b"a\xff\x00\\x41\\\\",
            b"\x1b[0m\r\n\t",
            &"你好".as_bytes()[..4],
            b"\\n is not a newline",
        ];
        for bytes in samples {
            assert_eq!(unescape_bytes(&escape_bytes(bytes)), bytes, "{bytes:?}");
        }
        let every_byte: Vec<u8> = (0..=255).collect();
        assert_eq!(unescape_bytes(&escape_bytes(&every_byte)), every_byte);
    }

    #[test]
    fn escape_keeps_chinese_and_escapes_controls() {
        assert_eq!(escape_bytes("ECHO：你好\n".as_bytes()), "ECHO：你好\\n");
        assert_eq!(escape_bytes(b"a\xff\x00\\"), "a\\xff\\0\\\\");
        assert_eq!(escape_bytes(b"\x1b["), "\\x1b[");
    }

    #[test]
    fn sha256_of_empty_input_is_the_known_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let (hex, len) = sha256_reader(&b"abc"[..]).unwrap();
        assert_eq!(len, 3);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_dump_marks_the_cut() {
        let dump = hex_dump(&[0u8; 40], 32);
        assert!(dump.starts_with("00000000  00 00"));
        assert!(dump.ends_with("... 8 more bytes\n"));
    }

    #[test]
    fn hex_dump_at_an_offset_labels_and_counts_in_the_whole_value() {
        let bytes: Vec<u8> = (0..=255).collect();
        let dump = hex_dump_at(&bytes, 0x40, 20);
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 3, "{dump}");
        assert!(lines[0].starts_with("00000040  40 41 "), "{dump}");
        assert!(lines[1].starts_with("00000050  50 51 52 53 "), "{dump}");
        assert_eq!(lines[2], "... 172 more bytes");
        assert_eq!(
            hex_dump_at(&bytes, 250, 64).lines().count(),
            1,
            "no count when nothing is left"
        );
    }

    #[test]
    fn a_numeric_host_must_be_a_valid_ipv4_address() {
        for bad in ["999.1.1.1", "1.2.3", "127.1", "1..2.3"] {
            match resolve(bad, 80) {
                Err(Error::Usage(message)) => {
                    assert!(message.contains("not a valid IPv4"), "{message}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(
            resolve("127.0.0.1", 80).unwrap(),
            "127.0.0.1:80".parse().unwrap()
        );
    }

    #[test]
    fn deadline_in_the_past_has_no_time_left() {
        let d = Deadline::after(Duration::ZERO);
        assert!(d.passed());
        assert!(Deadline::after(Duration::from_secs(60))
            .remaining()
            .is_some());
    }
}
