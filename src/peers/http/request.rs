//! A request head, parsed by `httparse`, and how its body is framed.

/// The most a request head may take; a longer one gets 431.
pub(super) const MAX_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// What the server needs of a request head.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub method: String,
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Whether the client wants the connection kept after the response.
    pub keep_alive: bool,
    pub body: Body,
    /// Bytes of the head, blank line included.
    pub len: usize,
}

/// How the request's body is framed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body {
    None,
    Length(u64),
    Chunked,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    Complete(Head),
    /// More bytes are needed.
    Partial,
    /// Not HTTP/1.x, or a framing that cannot be trusted: 400, then close.
    Invalid(&'static str),
    /// The head is over [`MAX_HEAD`]: 431, then close.
    TooLarge,
}

/// Parses the head at the start of `buf`.
pub(super) fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Parsed::TooLarge,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::TooLarge,
        Err(_) => return Parsed::Invalid("not an HTTP/1.x request head"),
    };
    if len > MAX_HEAD {
        return Parsed::TooLarge;
    }
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Parsed::Invalid("incomplete request line");
    };
    let mut connection = Vec::new();
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut host = false;
    for header in request.headers.iter() {
        let value = String::from_utf8_lossy(header.value);
        let value = value.trim();
        if header.name.eq_ignore_ascii_case("connection") {
            connection.extend(value.split(',').map(|t| t.trim().to_ascii_lowercase()));
        } else if header.name.eq_ignore_ascii_case("content-length") {
            let Ok(n) = value.parse::<u64>() else {
                return Parsed::Invalid("a Content-Length that is not a number");
            };
            if length.is_some_and(|m| m != n) {
                return Parsed::Invalid("two different Content-Length headers");
            }
            length = Some(n);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only `chunked` as the last coding frames a request body (RFC 9112, 6.3).
            if !value.to_ascii_lowercase().trim_end().ends_with("chunked") {
                return Parsed::Invalid("a Transfer-Encoding other than chunked");
            }
            chunked = true;
        } else if header.name.eq_ignore_ascii_case("host") {
            host = true;
        }
    }
    if minor == 1 && !host {
        return Parsed::Invalid("an HTTP/1.1 request without a Host header");
    }
    let body = match (chunked, length) {
        // Both at once is how requests are smuggled: refuse.
        (true, Some(_)) => return Parsed::Invalid("both Transfer-Encoding and Content-Length"),
        (true, None) => Body::Chunked,
        (false, Some(0) | None) => Body::None,
        (false, Some(n)) => Body::Length(n),
    };
    let keep_alive = match minor {
        1 => !connection.iter().any(|t| t == "close"),
        _ => connection.iter().any(|t| t == "keep-alive"),
    };
    Parsed::Complete(Head {
        method: method.to_string(),
        target: target.to_string(),
        minor,
        keep_alive,
        body,
        len,
    })
}

/// Where a chunked body being skipped stands.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Chunk {
    /// `size` data bytes (and their CRLF) follow a size line of `line` bytes.
    Data {
        line: usize,
        size: u64,
    },
    /// The last chunk's size line, of `line` bytes: trailers and a blank line follow.
    Last {
        line: usize,
    },
    Partial,
    Invalid,
}

/// Reads one chunk-size line at the start of `buf`.
pub(super) fn chunk(buf: &[u8]) -> Chunk {
    match httparse::parse_chunk_size(buf) {
        Ok(httparse::Status::Complete((line, 0))) => Chunk::Last { line },
        Ok(httparse::Status::Complete((line, size))) => Chunk::Data { line, size },
        Ok(httparse::Status::Partial) if buf.len() > 1024 => Chunk::Invalid,
        Ok(httparse::Status::Partial) => Chunk::Partial,
        Err(_) => Chunk::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Head {
        match parse(text.as_bytes()) {
            Parsed::Complete(head) => head,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        assert!(head("GET / HTTP/1.1\r\nHost: a\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    }

    #[test]
    fn bodies_are_framed_or_refused() {
        let h = head("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!((h.body, h.len), (Body::Length(5), 48));
        let h = head("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(h.body, Body::Chunked);
        for bad in [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "HELLO\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Parsed::Invalid(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn heads_arrive_in_pieces_and_have_a_limit() {
        assert_eq!(parse(b"GET / HT"), Parsed::Partial);
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(parse(long.as_bytes()), Parsed::TooLarge);
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk(b"5\r\nhello"), Chunk::Data { line: 3, size: 5 });
        assert_eq!(chunk(b"0\r\n\r\n"), Chunk::Last { line: 3 });
        assert_eq!(chunk(b"1"), Chunk::Partial);
        assert_eq!(chunk(b"zz\r\n"), Chunk::Invalid);
    }
}
