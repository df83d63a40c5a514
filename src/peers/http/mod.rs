//! A static file server over HTTP/1.1, the reference for the lesson's next topic: GET and HEAD of the
//! files under one directory with Content-Type and Content-Length, keep-alive (and pipelined requests),
//! 400 for a malformed request, 404, 405 for other methods, binary files byte for byte, and nothing from
//! outside the directory (see `files`).
//!
//! Request heads are parsed by `httparse`; connections are tokio tasks, so many clients are served at
//! once. Every wait has a deadline: a head must arrive within [`HttpConfig::idle_timeout`], and a response
//! must make progress within [`HttpConfig::write_timeout`] per write, or the connection is closed.

pub mod client;
mod files;
mod request;

pub use files::{content_type, INDEX};

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use self::files::Resolved;
use self::request::{Body, Chunk, Head, Parsed};
use super::{Handle, Stop, StopSignal};
use crate::error::{Error, Result};
use crate::wire;

/// Bytes read from a file and written at once.
const CHUNK: usize = 64 * 1024;
/// A request body is read and dropped (the server only serves files); past this it is refused with 413.
const MAX_BODY: u64 = 16 * 1024 * 1024;
/// How long a stop waits for the responses being written to be counted (see [`HttpStats`]); a client
/// that stopped reading holds its response no longer than this.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Settings of the HTTP server: `HttpConfig::new("www")`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpConfig {
    /// The directory served; nothing outside it is.
    pub root: PathBuf,
    /// How long a connection may wait for (the rest of) a request head before it is closed.
    pub idle_timeout: Duration,
    /// How long one write of a response may wait for the client to read.
    pub write_timeout: Duration,
    /// Requests answered on one connection before it is closed (`Connection: close` on the last).
    pub max_requests: u32,
}

impl HttpConfig {
    /// Serves `root` with the default deadlines (10 s idle, 30 s per write, 1000 requests per connection).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        HttpConfig {
            root: root.into(),
            idle_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_requests: 1000,
        }
    }

    /// Sets how long a connection may stay idle between requests.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }
}

/// One answered request, for the caller's access log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Served {
    /// The client.
    pub peer: SocketAddr,
    /// `GET`; empty when the request could not be parsed.
    pub method: String,
    /// The request target as sent (`/img/cat.png`).
    pub target: String,
    /// The status sent.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
}

/// Something that happened to a running HTTP server; the server itself prints nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpEvent {
    /// A response was sent (or, for a client that left, begun).
    Served(Served),
    /// A connection failed: a reset, a write that stalled past its deadline.
    ConnectionFailed {
        /// The client.
        peer: SocketAddr,
        /// What failed.
        error: io::Error,
    },
    /// Accepting failed; the server goes on.
    AcceptFailed {
        /// What failed.
        error: io::Error,
    },
}

/// What an HTTP server did, counted when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HttpStats {
    /// Connections accepted.
    pub connections: u64,
    /// Responses sent, errors included.
    pub responses: u64,
}

/// The handle of a spawned HTTP server: [`Handle::stop`] returns its [`HttpStats`].
pub type HttpHandle = Handle<HttpStats>;

type EventSink = Arc<dyn Fn(&HttpEvent) + Send + Sync>;

/// A bound HTTP server, not yet serving.
///
/// ```
/// use std::io::{Read, Write};
/// use sockspec::peers::http::{HttpConfig, HttpServer};
///
/// let www = tempfile::tempdir()?;
/// std::fs::write(www.path().join("index.html"), "<h1>你好</h1>")?;
/// let server = HttpServer::bind("127.0.0.1:0".parse()?, HttpConfig::new(www.path()))?.spawn()?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut response = String::new();
/// client.read_to_string(&mut response)?;
/// assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(response.contains("\r\nContent-Length: 15\r\n")); // "你好" is 6 bytes in UTF-8
/// assert!(response.ends_with("\r\n\r\n<h1>你好</h1>"));
/// server.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct HttpServer {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    root: PathBuf,
    config: HttpConfig,
    events: Option<EventSink>,
}

impl HttpServer {
    /// Listens on `addr` and serves `config.root`, which must be a directory.
    pub fn bind(addr: SocketAddr, config: HttpConfig) -> Result<Self> {
        let root = config
            .root
            .canonicalize()
            .map_err(|source| Error::ReadFile {
                path: config.root.clone(),
                source,
            })?;
        if !root.is_dir() {
            return Err(Error::Usage(format!(
                "{} is not a directory: give the directory to serve",
                config.root.display()
            )));
        }
        let listener = wire::listen_tcp(addr, wire::LISTEN_BACKLOG)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        Ok(HttpServer {
            listener,
            addr,
            root,
            config,
            events: None,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The directory served, as its real path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Calls `on_event` for every response and failure (from the server's threads: keep it quick).
    pub fn on_event(mut self, on_event: impl Fn(&HttpEvent) + Send + Sync + 'static) -> Self {
        self.events = Some(Arc::new(on_event));
        self
    }

    /// Serves in this thread until the process ends.
    pub fn run(self) -> Result<HttpStats> {
        self.run_until(Stop::never())
    }

    /// Serves on a thread of its own until stopped.
    pub fn spawn(self) -> Result<HttpHandle> {
        Handle::spawn("http server", self.addr, move |stop| self.run_until(stop))
    }

    fn run_until(self, mut stop: Stop) -> Result<HttpStats> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::io("cannot start the async runtime", e))?;
        let wake = stop.take_wake();
        let result = runtime.block_on(self.serve(wake));
        runtime.shutdown_timeout(Duration::from_secs(1));
        result
    }

    async fn serve(self, wake: Option<std::os::unix::net::UnixStream>) -> Result<HttpStats> {
        self.listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("cannot configure the listener", e))?;
        let listener = tokio::net::TcpListener::from_std(self.listener)
            .map_err(|e| Error::io("cannot register the listener", e))?;
        let stop = StopSignal::new(wake)?.stopped();
        tokio::pin!(stop);
        let shared = Arc::new(Shared {
            root: self.root,
            config: self.config,
            events: self.events,
            responses: AtomicU64::new(0),
            writing: AtomicU64::new(0),
            written: tokio::sync::Notify::new(),
        });
        let mut connections = 0u64;
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        shared.emit(HttpEvent::AcceptFailed { error });
                        // A persistent EMFILE must not spin.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                _ = &mut stop => {
                    return Ok(HttpStats {
                        connections,
                        responses: shared.responses_counted(STOP_GRACE).await,
                    })
                }
            };
            connections += 1;
            let shared = shared.clone();
            tokio::spawn(async move {
                if let Err(error) = Connection::new(stream, peer, &shared).serve().await {
                    shared.emit(HttpEvent::ConnectionFailed { peer, error });
                }
            });
        }
    }
}

/// What every connection of a server shares.
struct Shared {
    root: PathBuf,
    config: HttpConfig,
    events: Option<EventSink>,
    responses: AtomicU64,
    /// Responses being written now, and the wake-up of a stop waiting for them to be counted.
    writing: AtomicU64,
    written: tokio::sync::Notify,
}

/// A response being written: counted in [`Shared::writing`] until dropped.
struct Writing<'a>(&'a Shared);

impl<'a> Writing<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.writing.fetch_add(1, Ordering::SeqCst);
        Writing(shared)
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if self.0.writing.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.written.notify_waiters();
        }
    }
}

impl Shared {
    /// Waits, at most `grace`, until no response is being written: a client that has read its whole
    /// response may stop the server before the task that wrote it has counted it.
    async fn responses_counted(&self, grace: Duration) -> u64 {
        let settled = async {
            loop {
                // Made before the count is read: a wake-up between the two is not lost.
                let written = self.written.notified();
                if self.writing.load(Ordering::SeqCst) == 0 {
                    return;
                }
                written.await;
            }
        };
        let _ = tokio::time::timeout(grace, settled).await;
        self.responses.load(Ordering::Relaxed)
    }

    fn emit(&self, event: HttpEvent) {
        if let Some(events) = &self.events {
            events(&event);
        }
    }
}

/// One client's connection: its bytes read but not yet used (a pipelined next request).
struct Connection<'a> {
    stream: TcpStream,
    peer: SocketAddr,
    shared: &'a Shared,
    buf: Vec<u8>,
}

/// How a response ends the exchange.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    KeepOpen,
    Close,
}

impl<'a> Connection<'a> {
    fn new(stream: TcpStream, peer: SocketAddr, shared: &'a Shared) -> Self {
        Connection {
            stream,
            peer,
            shared,
            buf: Vec::new(),
        }
    }

    async fn serve(mut self) -> io::Result<()> {
        self.stream.set_nodelay(true)?;
        for served in 1..=self.shared.config.max_requests {
            let head = match self.read_head().await? {
                None => return Ok(()),
                Some(Ok(head)) => head,
                Some(Err((status, why))) => {
                    let _writing = Writing::new(self.shared);
                    self.respond_error("", "", status, why, After::Close)
                        .await?;
                    return Ok(());
                }
            };
            self.buf.drain(..head.len);
            let body_ok = match head.body {
                Body::None => Ok(()),
                Body::Length(n) if n > MAX_BODY => Err((413, "the request body is too large")),
                Body::Length(n) => self.skip(n).await.map(|()| Ok(()))?,
                Body::Chunked => self.skip_chunked().await?,
            };
            let _writing = Writing::new(self.shared);
            if let Err((status, why)) = body_ok {
                self.respond_error(&head.method, &head.target, status, why, After::Close)
                    .await?;
                return Ok(());
            }
            let after = if head.keep_alive && served < self.shared.config.max_requests {
                After::KeepOpen
            } else {
                After::Close
            };
            if self.respond(&head, after).await? == After::Close {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The next request head: `None` when the client closed or went idle between requests;
    /// `Some(Err(status, why))` for a head that cannot be served.
    async fn read_head(
        &mut self,
    ) -> io::Result<Option<std::result::Result<Head, (u16, &'static str)>>> {
        let idle = self.shared.config.idle_timeout;
        let deadline = tokio::time::Instant::now() + idle;
        loop {
            match request::parse(&self.buf) {
                Parsed::Complete(head) => return Ok(Some(Ok(head))),
                Parsed::Invalid(why) => return Ok(Some(Err((400, why)))),
                Parsed::TooLarge => return Ok(Some(Err((431, "the request head is too large")))),
                Parsed::Partial => {}
            }
            let read = tokio::time::timeout_at(deadline, self.read_more()).await;
            match read {
                Ok(Ok(0)) if self.buf.is_empty() => return Ok(None),
                Ok(Ok(0)) => {
                    return Ok(Some(Err((
                        400,
                        "the connection ended inside a request head",
                    ))))
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                // Idle between requests: close quietly; inside one: say so.
                Err(_) if self.buf.is_empty() => return Ok(None),
                Err(_) => return Ok(Some(Err((408, "the request head did not arrive in time")))),
            }
        }
    }

    async fn read_more(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads and drops `n` body bytes, within the idle deadline.
    async fn skip(&mut self, mut n: u64) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + self.shared.config.idle_timeout;
        loop {
            let have = (self.buf.len() as u64).min(n);
            self.buf.drain(..have as usize);
            n -= have;
            if n == 0 {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, self.read_more()).await {
                Ok(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(io::ErrorKind::TimedOut.into()),
            }
        }
    }

    /// Reads and drops a chunked body with its trailers.
    async fn skip_chunked(&mut self) -> io::Result<std::result::Result<(), (u16, &'static str)>> {
        let mut total = 0u64;
        // A bounded number of chunks: a body of a million one-byte chunks is refused.
        for _ in 0..100_000 {
            match request::chunk(&self.buf) {
                Chunk::Invalid => return Ok(Err((400, "a malformed chunked body"))),
                Chunk::Partial => {}
                Chunk::Data { line, size } => {
                    total += size;
                    if total > MAX_BODY {
                        return Ok(Err((413, "the request body is too large")));
                    }
                    self.buf.drain(..line);
                    self.skip(size).await?;
                    self.expect_crlf().await?;
                    continue;
                }
                Chunk::Last { line } => {
                    self.buf.drain(..line);
                    return self.skip_trailers().await;
                }
            }
            if self.read_more_in_time().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(Err((413, "too many chunks")))
    }

    async fn skip_trailers(&mut self) -> io::Result<std::result::Result<(), (u16, &'static str)>> {
        for _ in 0..1024 {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                self.buf.drain(..end + 2);
                if end == 0 {
                    return Ok(Ok(()));
                }
                continue;
            }
            if self.buf.len() > request::MAX_HEAD {
                return Ok(Err((431, "the trailers are too large")));
            }
            if self.read_more_in_time().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(Err((431, "too many trailers")))
    }

    async fn expect_crlf(&mut self) -> io::Result<()> {
        while self.buf.len() < 2 {
            if self.read_more_in_time().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        if &self.buf[..2] != b"\r\n" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a chunk without its CRLF",
            ));
        }
        self.buf.drain(..2);
        Ok(())
    }

    async fn read_more_in_time(&mut self) -> io::Result<usize> {
        match timeout(self.shared.config.idle_timeout, self.read_more()).await {
            Ok(read) => read,
            Err(_) => Err(io::ErrorKind::TimedOut.into()),
        }
    }

    /// Answers a parsed request; says whether the connection stays open.
    async fn respond(&mut self, head: &Head, after: After) -> io::Result<After> {
        let is_head = head.method == "HEAD";
        if head.method != "GET" && !is_head {
            return self
                .respond_error(
                    &head.method,
                    &head.target,
                    405,
                    "only GET and HEAD are served",
                    after,
                )
                .await;
        }
        let path = match files::resolve(&self.shared.root, &head.target) {
            Resolved::File(path) => path,
            Resolved::Redirect { location } => {
                let body = format!("moved to {location}\n");
                let extra = [("Location", location)];
                return self
                    .send(
                        head,
                        301,
                        &extra,
                        "text/plain; charset=utf-8",
                        body.as_bytes(),
                        after,
                    )
                    .await;
            }
            Resolved::NotFound => {
                return self
                    .respond_error(&head.method, &head.target, 404, "no such file", after)
                    .await
            }
            Resolved::Forbidden => {
                return self
                    .respond_error(
                        &head.method,
                        &head.target,
                        403,
                        "outside the served directory, or not a file",
                        after,
                    )
                    .await
            }
            Resolved::BadRequest => {
                return self
                    .respond_error(
                        &head.method,
                        &head.target,
                        400,
                        "the target is not a path",
                        After::Close,
                    )
                    .await
            }
        };
        let (file, len) = match files::open(&path) {
            Ok(opened) => opened,
            Err(_) => {
                return self
                    .respond_error(&head.method, &head.target, 403, "cannot be read", after)
                    .await
            }
        };
        let modified = file.metadata().and_then(|m| m.modified()).ok();
        let mut headers = vec![];
        if let Some(modified) = modified {
            headers.push(("Last-Modified", httpdate::fmt_http_date(modified)));
        }
        let response_head =
            response_head(head.minor, 200, content_type(&path), len, &headers, after);
        self.write(&response_head).await?;
        let mut sent = 0u64;
        if !is_head {
            sent = self.stream_file(file, len).await?;
        }
        self.served(head, 200, sent);
        Ok(after)
    }

    /// Writes `len` bytes of `file`; a file that shrank meanwhile ends the connection (the length sent
    /// can no longer be kept).
    async fn stream_file(&mut self, file: std::fs::File, len: u64) -> io::Result<u64> {
        let mut file = tokio::fs::File::from_std(file);
        let mut buf = vec![0u8; CHUNK.min(len.max(1) as usize)];
        let mut sent = 0u64;
        while sent < len {
            let want = buf.len().min((len - sent) as usize);
            let n = file.read(&mut buf[..want]).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                ));
            }
            self.write(&buf[..n]).await?;
            sent += n as u64;
        }
        Ok(sent)
    }

    async fn send(
        &mut self,
        head: &Head,
        status: u16,
        extra: &[(&str, String)],
        content_type: &str,
        body: &[u8],
        after: After,
    ) -> io::Result<After> {
        let mut bytes = response_head(
            head.minor,
            status,
            content_type,
            body.len() as u64,
            extra,
            after,
        );
        if head.method != "HEAD" {
            bytes.extend_from_slice(body);
        }
        self.write(&bytes).await?;
        self.served(
            head,
            status,
            if head.method == "HEAD" {
                0
            } else {
                body.len() as u64
            },
        );
        Ok(after)
    }

    /// A short text response for an error: `404 Not Found: no such file`.
    async fn respond_error(
        &mut self,
        method: &str,
        target: &str,
        status: u16,
        why: &str,
        after: After,
    ) -> io::Result<After> {
        let body = format!("{status} {}: {why}\n", reason(status));
        let extra = if status == 405 {
            vec![("Allow", "GET, HEAD".to_string())]
        } else {
            vec![]
        };
        let head = Head {
            method: method.to_string(),
            target: target.to_string(),
            minor: 1,
            keep_alive: after == After::KeepOpen,
            body: Body::None,
            len: 0,
        };
        self.send(
            &head,
            status,
            &extra,
            "text/plain; charset=utf-8",
            body.as_bytes(),
            after,
        )
        .await
    }

    /// Writes all of `bytes`, each write within the write deadline.
    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match timeout(
            self.shared.config.write_timeout,
            self.stream.write_all(bytes),
        )
        .await
        {
            Ok(written) => written,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            )),
        }
    }

    fn served(&self, head: &Head, status: u16, bytes: u64) {
        self.shared.responses.fetch_add(1, Ordering::Relaxed);
        self.shared.emit(HttpEvent::Served(Served {
            peer: self.peer,
            method: head.method.clone(),
            target: head.target.clone(),
            status,
            bytes,
        }));
    }
}

/// The status line and headers of a response, blank line included.
fn response_head(
    minor: u8,
    status: u16,
    content_type: &str,
    len: u64,
    extra: &[(&str, String)],
    after: After,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.{minor} {status} {}\r\nDate: {}\r\nServer: sockspec/{}\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n",
        reason(status),
        httpdate::fmt_http_date(SystemTime::now()),
        env!("CARGO_PKG_VERSION"),
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match (after, minor) {
        (After::Close, _) => head.push_str("Connection: close\r\n"),
        // An HTTP/1.0 client keeps the connection only when told it may.
        (After::KeepOpen, 0) => head.push_str("Connection: keep-alive\r\n"),
        (After::KeepOpen, _) => {}
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// The reason phrase of the statuses this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        _ => "",
    }
}
