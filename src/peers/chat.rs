//! The lesson's chat: one server, one client, taking turns. The client speaks first; each side prints
//! what the other said and answers with a line of its own input.
//!
//! Either side ends the chat by an empty line or the end of its input, which closes the connection; the
//! other side then sees the close and ends too, even while it waits for its own input. Both endings are
//! clean (exit 0); a reset is an error.
//!
//! On our turn we wait on the input and the connection at once: the input is copied by a thread of its
//! own into one end of a socket pair, whose other end can be polled next to the connection. A message the
//! other side sends out of turn is printed as it comes.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
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
    /// from `input`, and so on until either side ends. `input` is read on a thread of its own until it
    /// ends (a read error counts as its end).
    pub fn serve(
        self,
        input: impl BufRead + Send + 'static,
        mut output: impl Write,
    ) -> Result<ChatEnd> {
        let mut input = Input::spawn(input)?;
        let (stream, peer) = super::accept_one(&self.listener, self.config.wait)
            .map_err(|e| Error::io(format!("no client connected to {}", self.addr), e))?;
        // One client per chat: later ones are refused instead of queued for nothing.
        drop(self.listener);
        let mut chat = Conversation::new(stream, peer, self.config)?;
        loop {
            if chat.relay_message(&mut output)? == Some(ChatEnd::PeerClosed) {
                return Ok(ChatEnd::PeerClosed);
            }
            if let Some(end) = chat.answer_from(&mut input, &mut output)? {
                return Ok(end);
            }
        }
    }
}

/// The chat client with default settings: send a line of `input`, print the answer to `output`, and so on.
/// `input` is read on a thread of its own until it ends.
pub fn run_client(
    addr: SocketAddr,
    input: impl BufRead + Send + 'static,
    output: impl Write,
) -> Result<ChatEnd> {
    run_client_with(addr, &ChatConfig::default(), input, output)
}

pub fn run_client_with(
    addr: SocketAddr,
    config: &ChatConfig,
    input: impl BufRead + Send + 'static,
    mut output: impl Write,
) -> Result<ChatEnd> {
    let stream = wire::connect(addr, Deadline::after(CONNECT_TIMEOUT))?;
    let mut input = Input::spawn(input)?;
    let mut chat = Conversation::new(stream, addr, config.clone())?;
    loop {
        if let Some(end) = chat.answer_from(&mut input, &mut output)? {
            return Ok(end);
        }
        if chat.relay_message(&mut output)? == Some(ChatEnd::PeerClosed) {
            return Ok(ChatEnd::PeerClosed);
        }
    }
}

/// Our side's input as a socket that `poll` can watch: a thread copies the lines into the other end.
struct Input {
    reader: BufReader<UnixStream>,
    /// The input ended after a last line without a newline, which was sent: the next turn ends the chat.
    ended: bool,
}

impl Input {
    fn spawn(mut source: impl BufRead + Send + 'static) -> Result<Input> {
        let (ours, mut theirs) =
            UnixStream::pair().map_err(|e| Error::io("cannot create the input socket pair", e))?;
        std::thread::Builder::new()
            .name("chat-input".into())
            // Ends at the end of the input, or when the chat is over and our end is gone (a broken pipe).
            // Dropping `theirs` is what the chat reads as the end of the input.
            .spawn(move || drop(io::copy(&mut source, &mut theirs)))
            .map_err(|e| Error::io("cannot start the input thread", e))?;
        Ok(Input {
            reader: BufReader::new(ours),
            ended: false,
        })
    }

    fn fd(&self) -> RawFd {
        self.reader.get_ref().as_raw_fd()
    }
}

/// What woke a turn up.
enum Ready {
    Input,
    Connection,
}

/// Waits until `input` (when given) or `connection` can be read: data, an end, or an error.
fn wait_either(input: Option<RawFd>, connection: RawFd, deadline: Deadline) -> io::Result<Ready> {
    let wanted = libc::POLLIN | libc::POLLHUP | libc::POLLERR;
    loop {
        let Some(left) = deadline.remaining() else {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        };
        let mut fds = [
            libc::pollfd {
                fd: connection,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                // A negative descriptor is skipped by poll.
                fd: input.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: two valid pollfds that outlive the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        // The connection first: a close or a message out of turn is news before our next line.
        if fds[0].revents & wanted != 0 {
            return Ok(Ready::Connection);
        }
        if fds[1].revents & wanted != 0 {
            return Ok(Ready::Input);
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
    /// of input. Meanwhile watches the connection: the other side's close ends the chat, and a message it
    /// sends out of turn is written to `output`.
    fn answer_from(
        &mut self,
        input: &mut Input,
        output: &mut impl Write,
    ) -> Result<Option<ChatEnd>> {
        self.line.clear();
        let mut eof = input.ended;
        let deadline = Deadline::after(FOREVER);
        // Bounded: each turn takes input bytes, relays a message, or reaches the end; `deadline` bounds
        // the waits.
        while !eof {
            if input.reader.buffer().is_empty() {
                let ready = wait_either(Some(input.fd()), self.stream.as_raw_fd(), deadline)
                    .map_err(|e| Error::io("cannot wait for input", e))?;
                if let Ready::Connection = ready {
                    if self.relay_message(output)? == Some(ChatEnd::PeerClosed) {
                        return Ok(Some(ChatEnd::PeerClosed));
                    }
                    continue;
                }
            }
            let buf = input
                .reader
                .fill_buf()
                .map_err(|e| Error::io("cannot read standard input", e))?;
            if buf.is_empty() {
                eof = true;
                continue;
            }
            let (take, complete) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            self.line.extend_from_slice(&buf[..take]);
            input.reader.consume(take);
            if complete {
                break;
            }
        }
        // A last line without a newline is still sent; the turn after it ends the chat.
        input.ended = eof;
        strip_line_ending(&mut self.line);
        if self.line.is_empty() {
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
    let end = server.serve(BufReader::new(io::stdin()), io::stdout().lock())?;
    note_end(end);
    Ok(exit::OK)
}

/// `sockspec chat HOST PORT`: sends stdin lines, prints the server's answers.
pub fn cli_connect(args: &ClientArgs) -> Result<u8> {
    let end = run_client(
        args.addr()?,
        BufReader::new(io::stdin()),
        io::stdout().lock(),
    )?;
    note_end(end);
    Ok(exit::OK)
}

/// Tells a person at the terminal why the program stopped; stdout carries only the messages.
fn note_end(end: ChatEnd) {
    if end == ChatEnd::PeerClosed {
        eprintln!("sockspec: the other side closed the chat");
    }
}
