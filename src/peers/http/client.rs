//! Reading HTTP/1.1 responses off a connection, with a deadline, as the grader and tests need them: the
//! status, the headers, the body framed as the response says (Content-Length, chunked, or until the
//! server closes), and the bytes left over for the next response on a kept-alive connection.

use std::fmt;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};

use crate::wire::{self, Deadline, ReadEnd};

/// The most a response head may take.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// A response as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The status code (`200`).
    pub status: u16,
    /// The reason phrase as sent (`OK`).
    pub reason: String,
    /// Every header in order, names as sent, values as text (invalid UTF-8 replaced).
    pub headers: Vec<(String, String)>,
    /// How the body was delimited.
    pub framing: Framing,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The bytes of the status line and headers, blank line included.
    pub head: Vec<u8>,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the server said it closes the connection after this response.
    pub fn closes(&self) -> bool {
        let listed = |token: &str| {
            self.header("connection")
                .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        };
        listed("close") || (self.minor == 0 && !listed("keep-alive"))
    }
}

/// How a response's body was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// By `Content-Length`.
    Length(u64),
    /// By `Transfer-Encoding: chunked`.
    Chunked,
    /// By the server closing the connection: neither header was sent.
    UntilClose,
    /// No body by definition: a response to HEAD, a 1xx, 204 or 304.
    NoBody,
}

/// Why no whole response could be read; the bytes that did arrive stay in the caller's buffer.
#[derive(Debug)]
pub enum ResponseError {
    /// The deadline passed first, after `arrived` bytes.
    Deadline {
        /// Bytes of the response that had arrived.
        arrived: usize,
    },
    /// The server closed before the response was whole (or, `arrived` 0, before it began).
    Closed {
        /// Bytes of the response that had arrived.
        arrived: usize,
    },
    /// What arrived is not an HTTP/1.x response.
    Malformed {
        /// What is wrong with it, as a sentence.
        why: String,
    },
    /// The connection failed (a reset).
    Io(io::Error),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Deadline { arrived: 0 } => write!(f, "no response arrived in time"),
            ResponseError::Deadline { arrived } => write!(
                f,
                "the response was not complete in time ({arrived} bytes arrived)"
            ),
            ResponseError::Closed { arrived: 0 } => {
                write!(f, "the server closed the connection without a response")
            }
            ResponseError::Closed { arrived } => write!(
                f,
                "the server closed the connection inside the response ({arrived} bytes arrived)"
            ),
            ResponseError::Malformed { why } => write!(f, "not an HTTP response: {why}"),
            ResponseError::Io(e) => write!(f, "the connection failed: {e}"),
        }
    }
}

impl std::error::Error for ResponseError {}

/// The head of a response, parsed from the start of `buf`, and its length: `Ok(None)` when more bytes
/// are needed, `Err` with why when the bytes are no HTTP response.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Response, usize)>, String> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(format!("no end of the head in {MAX_HEAD} bytes"))
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let parsed = Response {
        minor: response.version.unwrap_or(1),
        status: response.code.unwrap_or(0),
        reason: response.reason.unwrap_or("").to_string(),
        headers: response
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_string(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect(),
        framing: Framing::UntilClose,
        body: Vec::new(),
        head: buf[..len].to_vec(),
    };
    Ok(Some((parsed, len)))
}

/// A chunked body at the start of `buf`, de-chunked: `Ok(None)` when more bytes are needed, else the
/// body and the bytes it took (trailers included).
fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let (line, size) = match httparse::parse_chunk_size(&buf[at..]) {
            Ok(httparse::Status::Complete(pair)) => pair,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err("a malformed chunk size line".to_string()),
        };
        at += line;
        if size == 0 {
            // Trailers, each ending in CRLF, then an empty line.
            loop {
                let Some(end) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                at += end + 2;
                if end == 0 {
                    return Ok(Some((body, at)));
                }
            }
        }
        let size = usize::try_from(size).map_err(|_| "a chunk too large".to_string())?;
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[at..at + size]);
        at += size;
        if &buf[at..at + 2] != b"\r\n" {
            return Err("a chunk not followed by CRLF".to_string());
        }
        at += 2;
    }
}

/// Reads one response from `stream` into `buf` (which may already hold bytes of it) and removes it from
/// `buf`, leaving whatever follows. `to_head`: the request was HEAD, so no body follows. Bodies longer
/// than `max_body` are cut there.
pub fn read_response(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Deadline,
    to_head: bool,
    max_body: usize,
) -> Result<Response, ResponseError> {
    let (response, taken) = read_response_at(stream, buf, deadline, to_head, max_body)?;
    buf.drain(..taken);
    Ok(response)
}

/// As [`read_response`], but leaves `buf` whole (everything read stays in it, for a transcript) and
/// returns how many of its bytes the response took.
pub fn read_response_at(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Deadline,
    to_head: bool,
    max_body: usize,
) -> Result<(Response, usize), ResponseError> {
    let malformed = |why: String| ResponseError::Malformed { why };
    let end = wire::read_until(stream, buf, deadline, |b| {
        !matches!(parse_head(b), Ok(None)) || b.len() > MAX_HEAD
    })
    .map_err(ResponseError::Io)?;
    let (mut response, head_len) = match parse_head(buf) {
        Ok(Some(pair)) => pair,
        Ok(None) => return Err(ended(end, buf.len())),
        Err(why) => return Err(malformed(why)),
    };
    let no_body = to_head || matches!(response.status, 100..=199 | 204 | 304);
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = response.header("content-length").map(str::parse::<u64>);
    response.framing = match (no_body, chunked, length) {
        (true, ..) => Framing::NoBody,
        (false, true, _) => Framing::Chunked,
        (false, false, Some(Ok(n))) => Framing::Length(n),
        (false, false, Some(Err(_))) => {
            return Err(malformed("a Content-Length that is not a number".into()))
        }
        (false, false, None) => Framing::UntilClose,
    };
    let taken = match response.framing {
        Framing::NoBody => head_len,
        Framing::Length(n) => {
            let want = head_len + usize::try_from(n).unwrap_or(usize::MAX).min(max_body);
            let end = wire::read_until(stream, buf, deadline, |b| b.len() >= want)
                .map_err(ResponseError::Io)?;
            if buf.len() < want {
                return Err(ended(end, buf.len()));
            }
            response.body = buf[head_len..want].to_vec();
            want
        }
        Framing::Chunked => {
            let mut failed = None;
            let end = wire::read_until(stream, buf, deadline, |b| match dechunk(&b[head_len..]) {
                Ok(None) => b.len() > head_len + max_body,
                Ok(Some(_)) => true,
                Err(why) => {
                    failed = Some(why);
                    true
                }
            })
            .map_err(ResponseError::Io)?;
            if let Some(why) = failed {
                return Err(malformed(why));
            }
            match dechunk(&buf[head_len..]) {
                Ok(Some((body, used))) => {
                    response.body = body;
                    head_len + used
                }
                _ => return Err(ended(end, buf.len())),
            }
        }
        Framing::UntilClose => {
            let end = wire::read_until(stream, buf, deadline, |b| b.len() >= head_len + max_body)
                .map_err(ResponseError::Io)?;
            if end == ReadEnd::Deadline {
                return Err(ResponseError::Deadline { arrived: buf.len() });
            }
            let take = buf.len().min(head_len + max_body);
            response.body = buf[head_len..take].to_vec();
            take
        }
    };
    Ok((response, taken))
}

/// True when `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn ended(end: ReadEnd, arrived: usize) -> ResponseError {
    match end {
        ReadEnd::Eof => ResponseError::Closed { arrived },
        _ => ResponseError::Deadline { arrived },
    }
}

/// Fetches `path` from `addr` with one `GET` (`Connection: close`), within `deadline`: the simplest
/// client, for a test of your own server.
///
/// ```
/// use std::time::Duration;
/// use sockspec::peers::http::{client, HttpConfig, HttpServer};
/// use sockspec::wire::Deadline;
///
/// let www = tempfile::tempdir()?;
/// std::fs::write(www.path().join("index.html"), "hi")?;
/// let server = HttpServer::bind("127.0.0.1:0".parse()?, HttpConfig::new(www.path()))?.spawn()?;
/// let response = client::get(server.local_addr(), "/", Deadline::after(Duration::from_secs(10)))?;
/// assert_eq!((response.status, response.body.as_slice()), (200, &b"hi"[..]));
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
pub fn get(
    addr: SocketAddr,
    path: &str,
    deadline: Deadline,
) -> Result<Response, Box<dyn std::error::Error + Send + Sync>> {
    let mut stream = wire::connect(addr, deadline)?;
    stream.set_write_timeout(deadline.remaining())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    Ok(read_response(
        &mut stream,
        &mut buf,
        deadline,
        false,
        usize::MAX / 2,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined_and_measured() {
        let wire = b"5\r\nhello\r\n7\r\n, world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (body, used) = dechunk(wire).unwrap().unwrap();
        assert_eq!(body, b"hello, world");
        assert_eq!(&wire[used..], b"NEXT");
        assert_eq!(dechunk(b"5\r\nhel").unwrap(), None);
        assert!(dechunk(b"5\r\nhelloXX").is_err());
    }

    #[test]
    fn heads_are_parsed_with_their_headers() {
        let (r, len) = parse_head(b"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.minor, r.status, r.reason.as_str(), len),
            (0, 404, "Not Found", 45)
        );
        assert_eq!(r.header("content-length"), Some("3"));
        assert!(r.closes());
        assert!(parse_head(b"ECHO: hi\n\r\n").is_err());
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap(), None);
    }
}
