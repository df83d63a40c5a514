//! `sockspec handshake`: one real TCP connection on loopback, in a private network namespace, captured
//! segment by segment: the three-way handshake, one message and its answer, the four-way close, and
//! who is left in TIME_WAIT, each with the lesson's reading.
//!
//! - here: the run (namespace, capture, the two ends of the connection, the socket table after);
//! - [`lesson`]: what each segment means (first handshake, ACK of the data, third wave, ...);
//! - [`text`]: the human output.
//!
//! Both ends are sockets of this process, driven one step at a time, so the segments come in the
//! lesson's order on any machine. Two kernel habits are made explicit for that: each end asks for its
//! ACK at once (`TCP_QUICKACK`) after reading, where Linux may delay it by up to 40 ms and send it
//! with the next data; and the side that closes second closes only after that ACK, where a program
//! that closes at once often sends its FIN with the ACK of the other's (a close of three segments).

pub mod lesson;
pub mod text;

use std::io::{self, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::grade::netns::NetNs;
use crate::grade::procfs::{self, Proto};
use crate::packets::{Collect, PacketSocket, Recorder};
use crate::wire::{self, Deadline, ReadEnd};
use lesson::Step;

/// Which end of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The end that connected.
    Client,
    /// The end that listened and accepted.
    Server,
}

impl Side {
    /// The side as the output names it: `client` or `server`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    /// The other end of the connection.
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// What to do on the connection.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server's port (in the private namespace every port is free).
    pub port: u16,
    /// What the client sends; the server answers `ECHO：` + it.
    pub message: Vec<u8>,
    /// Who calls `close()` first.
    pub closes_first: Side,
}

/// The prefix of the server's answer, as the lesson's ECHO server.
pub const ANSWER_PREFIX: &str = crate::peers::echo::DEFAULT_PREFIX;

/// Payload bytes kept per segment: enough to show a message.
const SHOWN_PAYLOAD: usize = 256;
/// The wait for each step of the connection; generous, since the machine may be loaded.
const STEP_WAIT: Duration = Duration::from_secs(5);
/// How often the end of the close is looked for, until [`STEP_WAIT`] passes.
const LOOK_EVERY: Duration = Duration::from_millis(5);

/// The state the side that closed first ends in, as `/proc/net/tcp` names it.
const TIME_WAIT: &str = "TIME_WAIT";

/// One socket of the namespace after the close, as `/proc/net/tcp` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SocketRow {
    /// The socket's own address.
    pub local: SocketAddr,
    /// The address of the other end.
    pub remote: SocketAddr,
    /// The TCP state as `/proc/net/tcp` names it (`TIME_WAIT`, `FIN_WAIT2`, ...).
    pub state: &'static str,
    /// The end this socket belongs to (by its local address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
}

/// Everything one run saw.
#[derive(Debug, Clone, Serialize)]
pub struct Handshake {
    /// The client's address (its port chosen by the kernel).
    pub client: SocketAddr,
    /// The server's listening address.
    pub server: SocketAddr,
    /// The message, as text (escaped where it is not).
    pub message: String,
    /// The server's answer (`ECHO：` + the message), as text like `message`.
    pub answer: String,
    /// Who was asked to close first.
    pub closes_first: Side,
    /// Who sent the first FIN, as captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_first: Option<Side>,
    /// Every captured segment in the order it was seen, each with the lesson's reading.
    pub segments: Vec<Step>,
    /// The TCP sockets of the namespace once the close is over (read from `/proc/net/tcp` there).
    pub sockets_after: Vec<SocketRow>,
    /// The end found in TIME_WAIT, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_wait: Option<Side>,
    /// Why that end, in the lesson's words.
    pub why_time_wait: String,
    /// Frames the kernel dropped before the capture read them (0 on an idle machine).
    pub lost: u64,
    /// The wall-clock time of the first segment, in seconds since the Unix epoch.
    pub started_unix: f64,
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// No namespace or no packet socket: privileges, or a system that forbids them.
    #[error("{0}")]
    CannotCapture(String),
    /// The connection itself went wrong (a loaded machine past every deadline, most likely).
    #[error("{context}")]
    Failed {
        /// The step that failed, as a sentence.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

fn failed(context: &str) -> impl FnOnce(io::Error) -> HandshakeError + '_ {
    move |source| HandshakeError::Failed {
        context: context.to_string(),
        source,
    }
}

/// Makes the namespace and the capture, plays the connection, reads the table after.
pub fn run(settings: &Settings) -> Result<Handshake, HandshakeError> {
    let cannot = |what: &str, e: io::Error| {
        HandshakeError::CannotCapture(format!(
            "{what}: {e} (run as root: sudo sockspec handshake; an ordinary user needs unprivileged \
             user namespaces)"
        ))
    };
    let ns =
        NetNs::create(false).map_err(|e| cannot("cannot make a private network namespace", e))?;
    let snaplen = crate::packets::socket::HEADERS_SNAPLEN + SHOWN_PAYLOAD;
    let socket = ns
        .run(|| PacketSocket::open_lo(snaplen))
        .and_then(|s| s)
        .map_err(|e| cannot("cannot open a packet socket on lo", e))?;
    let mut recorder =
        Recorder::start(socket, Collect::default()).map_err(failed("cannot start the capture"))?;

    let (client, server) = connect(&ns, settings.port)?;
    let client_addr = client.local_addr().map_err(failed("no client address"))?;
    let server_addr = client.peer_addr().map_err(failed("no server address"))?;
    let answer = exchange(&client, &server, &settings.message)?;
    close(client, server, settings.closes_first)?;

    // The close ends with the ACK of the second FIN, and the first closer in TIME_WAIT: wait for both.
    let deadline = Deadline::after(STEP_WAIT);
    let table = loop {
        let done = recorder.with_sink(|c| lesson::close_is_over(&c.segments));
        let table: Vec<SocketRow> = ns
            .run(|| procfs::socket_table(thread_id()))
            .map_err(failed("cannot read the namespace's socket table"))?
            .into_iter()
            .filter(|(_, s)| s.proto == Proto::Tcp)
            .map(|(_, s)| SocketRow {
                local: s.local,
                remote: s.remote,
                state: s.state.tcp_name(),
                side: side_of(s.local, client_addr, server_addr),
            })
            .collect();
        let waiting = table.iter().any(|r| r.state == TIME_WAIT);
        if (done && waiting) || deadline.passed() {
            break table;
        }
        std::thread::sleep(LOOK_EVERY);
    };
    recorder.stop();
    let Collect { segments, lost } = recorder.with_sink(std::mem::take);
    let started_unix = segments
        .first()
        .and_then(|s| s.wall.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        })
        .as_secs_f64();
    let steps = lesson::read(&segments, client_addr, server_addr);
    let closed_first = lesson::first_fin(&steps);
    let time_wait = table
        .iter()
        .find(|r| r.state == TIME_WAIT)
        .and_then(|r| r.side);
    Ok(Handshake {
        client: client_addr,
        server: server_addr,
        message: wire::escape_bytes(&settings.message),
        answer: wire::escape_bytes(&answer),
        closes_first: settings.closes_first,
        closed_first,
        why_time_wait: lesson::why_time_wait(closed_first, time_wait),
        segments: steps,
        sockets_after: table,
        time_wait,
        lost,
        started_unix,
    })
}

/// The client connected to a server listening on `port` in the namespace, and the server's side of it.
/// The listener is closed once it accepted: the table after the close shows only the connection.
fn connect(ns: &NetNs, port: u16) -> Result<(TcpStream, TcpStream), HandshakeError> {
    let listener = ns
        .run(|| TcpListener::bind((Ipv4Addr::LOCALHOST, port)))
        .and_then(|l| l)
        .map_err(failed("cannot listen in the namespace"))?;
    let addr = listener
        .local_addr()
        .map_err(failed("no listening address"))?;
    let client = ns
        .run(|| wire::connect(addr, Deadline::after(STEP_WAIT)))
        .map_err(failed("cannot enter the namespace"))?
        .map_err(|e| HandshakeError::Failed {
            context: format!("cannot connect to {addr}"),
            source: io::Error::other(e.to_string()),
        })?;
    let server = match wire::accept(&listener, Deadline::after(STEP_WAIT)) {
        Ok(Some((stream, _))) => stream,
        Ok(None) => return Err(timed_out("the connection was not accepted")),
        Err(e) => return Err(failed("accept failed")(e)),
    };
    Ok((client, server))
}

/// The client sends `message`; the server reads it and answers `ECHO：` + it; the client reads that.
fn exchange(
    client: &TcpStream,
    server: &TcpStream,
    message: &[u8],
) -> Result<Vec<u8>, HandshakeError> {
    let answer = [ANSWER_PREFIX.as_bytes(), message].concat();
    send(client, message)?;
    receive(server, message.len())?;
    send(server, &answer)?;
    receive(client, answer.len())?;
    Ok(answer)
}

/// `first` closes; the other end reads the end of the stream, acknowledges it, and closes too.
fn close(client: TcpStream, server: TcpStream, first: Side) -> Result<(), HandshakeError> {
    let (first_stream, second_stream) = match first {
        Side::Client => (client, server),
        Side::Server => (server, client),
    };
    drop(first_stream);
    let mut second = second_stream;
    let mut rest = Vec::new();
    match wire::read_until(&mut second, &mut rest, Deadline::after(STEP_WAIT), |_| {
        false
    }) {
        Ok(ReadEnd::Eof) => {}
        Ok(_) => return Err(timed_out("the end of the stream did not arrive")),
        Err(e) => return Err(failed("reading the end of the stream failed")(e)),
    }
    quick_ack(&second)?;
    let _ = second.shutdown(Shutdown::Both);
    drop(second);
    Ok(())
}

fn send(stream: &TcpStream, bytes: &[u8]) -> Result<(), HandshakeError> {
    stream
        .set_write_timeout(Some(STEP_WAIT))
        .and_then(|()| (&*stream).write_all(bytes))
        .map_err(failed("sending failed"))
}

/// Reads `len` bytes, then sends the ACK for them at once.
fn receive(stream: &TcpStream, len: usize) -> Result<(), HandshakeError> {
    let mut buf = Vec::new();
    let mut reader = stream.try_clone().map_err(failed("cannot read"))?;
    match wire::read_until(&mut reader, &mut buf, Deadline::after(STEP_WAIT), |b| {
        b.len() >= len
    }) {
        Ok(ReadEnd::Done) => quick_ack(stream),
        Ok(_) => Err(timed_out("the data did not arrive")),
        Err(e) => Err(failed("receiving failed")(e)),
    }
}

/// Sends a pending ACK now instead of delaying it (see the module documentation).
fn quick_ack(stream: &TcpStream) -> Result<(), HandshakeError> {
    socket2::SockRef::from(stream)
        .set_quickack(true)
        .map_err(failed("cannot ask for a quick ACK"))
}

fn timed_out(what: &str) -> HandshakeError {
    HandshakeError::Failed {
        context: format!("{what} within {} s", STEP_WAIT.as_secs()),
        source: io::Error::from(io::ErrorKind::TimedOut),
    }
}

fn side_of(local: SocketAddr, client: SocketAddr, server: SocketAddr) -> Option<Side> {
    if local == client {
        Some(Side::Client)
    } else if local == server {
        Some(Side::Server)
    } else {
        None
    }
}

/// The calling thread's id: `/proc/TID/net/tcp` is the table of the namespace that thread is in.
fn thread_id() -> i32 {
    // SAFETY: gettid(2) has no preconditions.
    unsafe { libc::gettid() }
}
