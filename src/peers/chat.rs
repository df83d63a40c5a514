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
//!
//! ```
//! use std::time::Duration;
//! use sockspec::peers::chat::{self, ChatConfig, ChatEnd, ChatServer};
//!
//! // Bounded waits: a test fails instead of hanging when the other side goes missing.
//! let config = ChatConfig::default().wait(Duration::from_secs(10));
//! let server = ChatServer::bind("127.0.0.1:0".parse()?, config.clone())?
//!     .spawn("你好，客户端\n".as_bytes())?;
//! let client = chat::converse(server.local_addr(), &config, "hello\n".as_bytes())?;
//! assert_eq!(client.received(), ["你好，客户端"]);
//! assert_eq!(client.end, ChatEnd::InputEnded);
//!
//! // The client's input ended, so it closed; the server sees that and ends by itself.
//! let server = server.wait(Duration::from_secs(10))?;
//! assert_eq!(server.received(), ["hello"]);
//! assert_eq!(server.sent(), ["你好，客户端"]);
//! assert_eq!(server.end, ChatEnd::PeerClosed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::{strip_line_ending, wait_any, Handle, Stop, Wake, Watched};
use crate::error::{Error, Result};
use crate::wire::{self, Deadline, ReadEnd};

/// How long the client waits for the connection to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Stands for "no deadline": a person may take days to answer, yet every wait stays bounded.
const FOREVER: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How a chat ended. The first two are a clean end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatEnd {
    /// Our input ended (EOF or an empty line), so we closed the connection.
    InputEnded,
    /// The other side closed the connection.
    PeerClosed,
    /// The handle of a spawned server stopped it.
    Stopped,
}

/// Settings shared by the chat server and client: [`ChatConfig::default`] and the setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
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

impl ChatConfig {
    /// Waits at most `wait` for the other side (tests want this: a missing peer then fails, not hangs).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// Sets how long a message without a newline may pause before it counts as whole.
    pub fn quiet_gap(mut self, gap: Duration) -> Self {
        self.quiet_gap = gap;
        self
    }
}

/// Who said a message of a [`Transcript`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// This side: a line of our input, sent.
    Local,
    /// The other side: a message received.
    Remote,
}

/// One message of a chat, without its line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// Who said it.
    pub from: Speaker,
    /// What was said, as bytes (a peer may send anything).
    pub text: Vec<u8>,
}

/// A whole chat as one side saw it: every message in the order it was sent or received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transcript {
    /// The other side's address; `None` when a server was stopped before anyone connected.
    pub peer: Option<SocketAddr>,
    /// Every message, ours and theirs, in the order sent or received.
    pub messages: Vec<Message>,
    /// How the chat ended.
    pub end: ChatEnd,
}

impl Transcript {
    /// The messages received, as text (invalid UTF-8 replaced; [`Transcript::messages`] has the bytes).
    pub fn received(&self) -> Vec<String> {
        self.texts(Speaker::Remote)
    }

    /// The lines sent, as text.
    pub fn sent(&self) -> Vec<String> {
        self.texts(Speaker::Local)
    }

    fn texts(&self, from: Speaker) -> Vec<String> {
        self.messages
            .iter()
            .filter(|m| m.from == from)
            .map(|m| String::from_utf8_lossy(&m.text).into_owned())
            .collect()
    }
}

/// The handle of a spawned chat server: [`Handle::stop`] returns its [`Transcript`].
pub type ChatHandle = Handle<Transcript>;

/// A bound chat server, not yet talking. See the [module](self) for an example.
pub struct ChatServer {
    listener: TcpListener,
    addr: SocketAddr,
    config: ChatConfig,
}

impl ChatServer {
    /// Listens on `addr` (port 0: a free port, see [`local_addr`](ChatServer::local_addr)).
    pub fn bind(addr: SocketAddr, config: ChatConfig) -> Result<Self> {
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

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts one client, then takes turns: print the client's message to `output`, send a line read
    /// from `input`, and so on until either side ends. `input` is read on a thread of its own until it
    /// ends (a read error counts as its end).
    pub fn serve(
        self,
        input: impl BufRead + Send + 'static,
        output: impl Write,
    ) -> Result<ChatEnd> {
        Ok(self.talk(input, output, &Stop::never(), false)?.end)
    }

    /// Chats on a thread of its own, answering with the lines of `input` (`"hi\nbye\n".as_bytes()`);
    /// the handle's [`stop`](Handle::stop) or [`wait`](Handle::wait) returns the [`Transcript`].
    pub fn spawn(self, input: impl BufRead + Send + 'static) -> Result<ChatHandle> {
        Handle::spawn("chat server", self.addr, move |stop| {
            self.talk(input, io::sink(), &stop, true)
        })
    }

    fn talk(
        self,
        input: impl BufRead + Send + 'static,
        mut output: impl Write,
        stop: &Stop,
        record: bool,
    ) -> Result<Transcript> {
        let mut input = Input::spawn(input)?;
        let accepted = super::accept_one(&self.listener, self.config.wait, stop)
            .map_err(|e| Error::io(format!("no client connected to {}", self.addr), e))?;
        let Some((stream, peer)) = accepted else {
            return Ok(Transcript {
                peer: None,
                messages: Vec::new(),
                end: ChatEnd::Stopped,
            });
        };
        // One client per chat: later ones are refused instead of queued for nothing.
        drop(self.listener);
        let mut chat = Session::new(stream, peer, self.config, stop, record)?;
        // The client speaks first.
        let end = match chat.relay_message(&mut output) {
            Ok(Some(end)) => Ok(end),
            Ok(None) => chat.take_turns(&mut input, &mut output),
            Err(e) => Err(e),
        };
        chat.finish(end)
    }
}

/// The chat client: send a line of `input`, print the answer to `output`, and so on until either side
/// ends. `input` is read on a thread of its own until it ends.
pub fn run_client(
    addr: SocketAddr,
    config: &ChatConfig,
    input: impl BufRead + Send + 'static,
    output: impl Write,
) -> Result<ChatEnd> {
    Ok(client(addr, config, input, output, false)?.end)
}

/// Runs the chat client against `addr` with `input` as what it types, and returns the chat as it saw
/// it. See the [module](self) for an example.
pub fn converse(
    addr: SocketAddr,
    config: &ChatConfig,
    input: impl BufRead + Send + 'static,
) -> Result<Transcript> {
    client(addr, config, input, io::sink(), true)
}

fn client(
    addr: SocketAddr,
    config: &ChatConfig,
    input: impl BufRead + Send + 'static,
    mut output: impl Write,
    record: bool,
) -> Result<Transcript> {
    let stream = wire::connect(addr, Deadline::after(CONNECT_TIMEOUT))?;
    let mut input = Input::spawn(input)?;
    let stop = Stop::never();
    let mut chat = Session::new(stream, addr, config.clone(), &stop, record)?;
    let end = chat.take_turns(&mut input, &mut output);
    chat.finish(end)
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
}

/// One side of a connected chat.
struct Session<'a> {
    stream: Watched,
    peer: SocketAddr,
    config: ChatConfig,
    stop: &'a Stop,
    /// Bytes received past the end of the last message.
    pending: Vec<u8>,
    line: Vec<u8>,
    /// Every message so far, when the caller wants a transcript.
    transcript: Option<Vec<Message>>,
}

impl<'a> Session<'a> {
    fn new(
        stream: TcpStream,
        peer: SocketAddr,
        config: ChatConfig,
        stop: &'a Stop,
        record: bool,
    ) -> Result<Self> {
        stream
            .set_nodelay(true)
            .map_err(|e| Error::io("cannot configure the connection", e))?;
        // A stop shuts the connection down, which ends any read or write blocked on it; the other side
        // sees the chat closed.
        let stream = stop.watch(stream, Shutdown::Both);
        Ok(Session {
            stream,
            peer,
            config,
            stop,
            pending: Vec::new(),
            line: Vec::new(),
            transcript: record.then(Vec::new),
        })
    }

    /// Our turn, then theirs, until either side ends.
    fn take_turns(&mut self, input: &mut Input, output: &mut impl Write) -> Result<ChatEnd> {
        loop {
            if let Some(end) = self.answer_from(input, output)? {
                return Ok(end);
            }
            if let Some(end) = self.relay_message(output)? {
                return Ok(end);
            }
        }
    }

    /// The transcript of a chat that ended with `end`. What a stop cut short (the shut-down connection
    /// reads as a close, or fails) is a stop.
    fn finish(&mut self, end: Result<ChatEnd>) -> Result<Transcript> {
        let end = match end {
            _ if self.stop.requested() => ChatEnd::Stopped,
            other => other?,
        };
        Ok(Transcript {
            peer: Some(self.peer),
            messages: self.transcript.take().unwrap_or_default(),
            end,
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
        if let Some(messages) = &mut self.transcript {
            messages.push(Message {
                from: Speaker::Remote,
                text: message.clone(),
            });
        }
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
                // The connection first: a close or a message out of turn is news before our next line.
                let fds = [self.stream.as_raw_fd(), input.reader.get_ref().as_raw_fd()];
                match wait_any(&fds, self.stop, Some(deadline))
                    .map_err(|e| Error::io("cannot wait for input", e))?
                {
                    Wake::Ready(0) => {
                        if let Some(end) = self.relay_message(output)? {
                            return Ok(Some(end));
                        }
                        continue;
                    }
                    Wake::Ready(_) => {}
                    Wake::Stopped => return Ok(Some(ChatEnd::Stopped)),
                    Wake::TimedOut => {
                        return Err(Error::io(
                            "no input for ten years",
                            io::Error::from(io::ErrorKind::TimedOut),
                        ))
                    }
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
        if let Some(messages) = &mut self.transcript {
            messages.push(Message {
                from: Speaker::Local,
                text: self.line.clone(),
            });
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
