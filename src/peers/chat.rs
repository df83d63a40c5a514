//! The lesson's chat: one server, one client, taking turns. The client speaks first; each side prints
//! what the other said and answers with a line of its own input.
//!
//! Either side ends the chat by an empty line or the end of its input, which closes the connection; the
//! other side then sees the close and ends too. Both endings are clean (exit 0); a reset is an error.

use std::io::{self, BufRead, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::cli::{self, ClientArgs, ListenArgs};
use crate::error::{Error, Result};
use crate::exit;
use crate::wire::{self, Deadline, ReadEnd};

/// How long the client waits for the connection to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Stands for "no deadline": a person may take days to answer, yet every wait stays bounded.
const FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How a chat ended; both are a clean end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatEnd {
    /// Our input ended (EOF or an empty line), so we closed the connection.
    InputEnded,
    /// The other side closed the connection.
    PeerClosed,
}

/// Settings shared by the chat server and client.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// The longest wait for the other side's message (and for the server, for the client to connect).
    /// `None`, the default, waits as long as it takes: a person types slowly.
    pub wait: Option<Duration>,
    /// A message without a newline ends after this long with nothing more (peers that send bare text).
    pub quiet_gap: Duration,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            wait: None,
            quiet_gap: Duration::from_millis(300),
        }
    }
}

/// A bound chat server, not yet talking.
pub struct ChatServer {
    listener: TcpListener,
    addr: SocketAddr,
    config: ChatConfig,
}

impl ChatServer {
    pub fn bind(addr: SocketAddr) -> Result<Self> {
        Self::bind_with(addr, ChatConfig::default())
    }

    pub fn bind_with(addr: SocketAddr, config: ChatConfig) -> Result<Self> {
        let listener = wire::listen_tcp(addr, wire::LISTEN_BACKLOG)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        Ok(ChatServer {
            listener,
            addr,
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts one client, then takes turns: print the client's message to `output`, send a line read
    /// from `input`, and so on until either side ends.
    pub fn serve(self, mut input: impl BufRead, mut output: impl Write) -> Result<ChatEnd> {
        let (stream, peer) = super::accept_one(&self.listener, self.config.wait)
            .map_err(|e| Error::io(format!("no client connected to {}", self.addr), e))?;
        // One client per chat: later ones are refused instead of queued for nothing.
        drop(self.listener);
        let mut chat = Conversation::new(stream, peer, self.config)?;
        loop {
            if chat.relay_message(&mut output)? == Some(ChatEnd::PeerClosed) {
                return Ok(ChatEnd::PeerClosed);
            }
            if let Some(end) = chat.answer_from(&mut input)? {
                return Ok(end);
            }
        }
    }
}

/// The chat client with default settings: send a line of `input`, print the answer to `output`, and so on.
pub fn run_client(addr: SocketAddr, input: impl BufRead, output: impl Write) -> Result<ChatEnd> {
    run_client_with(addr, &ChatConfig::default(), input, output)
}

pub fn run_client_with(
    addr: SocketAddr,
    config: &ChatConfig,
    mut input: impl BufRead,
    mut output: impl Write,
) -> Result<ChatEnd> {
    let stream = wire::connect(addr, Deadline::after(CONNECT_TIMEOUT))?;
    let mut chat = Conversation::new(stream, addr, config.clone())?;
    loop {
        if let Some(end) = chat.answer_from(&mut input)? {
            return Ok(end);
        }
        if chat.relay_message(&mut output)? == Some(ChatEnd::PeerClosed) {
            return Ok(ChatEnd::PeerClosed);
        }
    }
}

/// One side of a connected chat.
struct Conversation {
    stream: TcpStream,
    peer: SocketAddr,
    config: ChatConfig,
    /// Bytes received past the end of the last message.
    pending: Vec<u8>,
    line: Vec<u8>,
}

impl Conversation {
    fn new(stream: TcpStream, peer: SocketAddr, config: ChatConfig) -> Result<Self> {
        stream
            .set_nodelay(true)
            .map_err(|e| Error::io("cannot configure the connection", e))?;
        Ok(Conversation {
            stream,
            peer,
            config,
            pending: Vec::new(),
            line: Vec::new(),
        })
    }

    /// Waits for the other side's message and writes it to `output` as a line. Returns `PeerClosed` when
    /// the other side closed (after writing any last message it sent without a newline).
    fn relay_message(&mut self, output: &mut impl Write) -> Result<Option<ChatEnd>> {
        let wait = self.config.wait.unwrap_or(FOREVER);
        let (end, len) = wire::read_message(
            &mut self.stream,
            &mut self.pending,
            Deadline::after(wait),
            self.config.quiet_gap,
        )
        .map_err(|e| Error::io(format!("the connection with {} broke", self.peer), e))?;
        if len == 0 {
            return match end {
                ReadEnd::Eof => Ok(Some(ChatEnd::PeerClosed)),
                _ => Err(Error::io(
                    format!(
                        "{} sent nothing within {:.1} s",
                        self.peer,
                        wait.as_secs_f64()
                    ),
                    io::Error::from(io::ErrorKind::TimedOut),
                )),
            };
        }
        let mut message: Vec<u8> = self.pending.drain(..len).collect();
        strip_line_ending(&mut message);
        output
            .write_all(&message)
            .and_then(|_| output.write_all(b"\n"))
            .and_then(|_| output.flush())
            .map_err(|e| Error::io("cannot write standard output", e))?;
        Ok((end == ReadEnd::Eof).then_some(ChatEnd::PeerClosed))
    }

    /// Reads a line of `input` and sends it. Ends the chat (closing our side) at an empty line or the end
    /// of input, and reports the other side's close if it came while we were waiting for input.
    fn answer_from(&mut self, input: &mut impl BufRead) -> Result<Option<ChatEnd>> {
        self.line.clear();
        let n = input
            .read_until(b'\n', &mut self.line)
            .map_err(|e| Error::io("cannot read standard input", e))?;
        strip_line_ending(&mut self.line);
        if n == 0 || self.line.is_empty() {
            let _ = wire::finish_sending(&self.stream);
            return Ok(Some(ChatEnd::InputEnded));
        }
        // Writing to a peer that already closed would only earn a reset; look first.
        if self.peer_has_closed()? {
            return Ok(Some(ChatEnd::PeerClosed));
        }
        self.line.push(b'\n');
        self.stream
            .write_all(&self.line)
            .map_err(|e| Error::io(format!("cannot send to {}", self.peer), e))?;
        Ok(None)
    }

    /// True when the other side's close is already queued (and no message before it).
    fn peer_has_closed(&mut self) -> Result<bool> {
        if !self.pending.is_empty() {
            return Ok(false);
        }
        let err = |e| Error::io(format!("the connection with {} broke", self.peer), e);
        self.stream.set_nonblocking(true).map_err(err)?;
        let peeked = self.stream.peek(&mut [0u8; 1]);
        self.stream.set_nonblocking(false).map_err(err)?;
        match peeked {
            Ok(0) => Ok(true),
            Ok(_) => Ok(false),
            Err(e) if wire::is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(err(e)),
        }
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

/// `sockspec serve chat`: prints `listening on ADDR`, then the client's messages; answers from stdin.
pub fn cli_serve(args: &ListenArgs) -> Result<u8> {
    let server = ChatServer::bind(args.addr()?)?;
    cli::announce(server.local_addr())?;
    let end = server.serve(io::stdin().lock(), io::stdout().lock())?;
    note_end(end);
    Ok(exit::OK)
}

/// `sockspec chat HOST PORT`: sends stdin lines, prints the server's answers.
pub fn cli_connect(args: &ClientArgs) -> Result<u8> {
    let end = run_client(args.addr()?, io::stdin().lock(), io::stdout().lock())?;
    note_end(end);
    Ok(exit::OK)
}

/// Tells a person at the terminal why the program stopped; stdout carries only the messages.
fn note_end(end: ChatEnd) {
    if end == ChatEnd::PeerClosed {
        eprintln!("sockspec: the other side closed the chat");
    }
}
