//! The HTTP server: files byte for byte with their headers, keep-alive and pipelining, errors, request
//! bodies skipped, and nothing served from outside its directory.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use sockspec::peers::http::client::{self, Framing, Response};
use sockspec::peers::http::{HttpConfig, HttpHandle, HttpServer};
use sockspec::wire::{self, Deadline, ReadEnd};

use crate::util::{any_local_addr, connect, Rng, TestResult, WAIT};

/// A served directory with an index, a binary image, a nested page, and a secret beside it (outside),
/// reachable from inside by a symlink.
struct Site {
    dir: tempfile::TempDir,
    image: Vec<u8>,
    server: HttpHandle,
}

impl Site {
    fn new(test: &str) -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let www = dir.path().join("www");
        std::fs::create_dir_all(www.join("img")).unwrap();
        std::fs::create_dir_all(www.join("docs")).unwrap();
        std::fs::write(www.join("index.html"), "<h1>你好，HTTP</h1>\n").unwrap();
        std::fs::write(www.join("docs/index.html"), "docs\n").unwrap();
        let mut image = vec![0u8; 300 * 1024 + 7];
        Rng::from_env(test).fill(&mut image);
        image[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
        std::fs::write(www.join("img/cat.png"), &image).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "TOP-SECRET\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), www.join("leak.txt")).unwrap();
        let server = HttpServer::bind(any_local_addr(), HttpConfig::new(&www))
            .and_then(HttpServer::spawn)
            .expect("server");
        Site { dir, image, server }
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

fn send(stream: &mut TcpStream, request: &str) {
    stream
        .write_all(request.as_bytes())
        .expect("request written");
}

fn response(stream: &mut TcpStream, buf: &mut Vec<u8>, to_head: bool) -> Response {
    client::read_response(stream, buf, Deadline::after(WAIT), to_head, 1 << 24)
        .unwrap_or_else(|e| panic!("no response: {e}"))
}

fn get(addr: SocketAddr, target: &str) -> Response {
    let mut stream = connect(addr);
    send(
        &mut stream,
        &format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"),
    );
    response(&mut stream, &mut Vec::new(), false)
}

#[test]
fn files_arrive_byte_for_byte_with_their_type_and_length() {
    let site = Site::new("files_arrive_byte_for_byte");
    let index = get(site.addr(), "/");
    assert_eq!(
        (index.minor, index.status, index.reason.as_str()),
        (1, 200, "OK")
    );
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.body, "<h1>你好，HTTP</h1>\n".as_bytes());
    assert_eq!(index.framing, Framing::Length(index.body.len() as u64));
    assert!(index.header("date").is_some());
    let image = get(site.addr(), "/img/cat.png");
    assert_eq!(image.header("content-type"), Some("image/png"));
    assert!(image.body == site.image, "the image arrives byte-identical");
    assert_eq!(get(site.addr(), "/docs/").body, b"docs\n");
    let moved = get(site.addr(), "/docs");
    assert_eq!(
        (moved.status, moved.header("location")),
        (301, Some("/docs/"))
    );
}

#[test]
fn head_sends_the_headers_of_get_and_no_body() {
    let site = Site::new("head");
    let mut stream = connect(site.addr());
    send(&mut stream, "HEAD /img/cat.png HTTP/1.1\r\nHost: t\r\n\r\n");
    send(
        &mut stream,
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let mut buf = Vec::new();
    let head = response(&mut stream, &mut buf, true);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(site.image.len().to_string().as_str())
    );
    // Had HEAD sent a body, the next response would start inside it.
    let next = response(&mut stream, &mut buf, false);
    assert_eq!(
        next.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&next.head)
    );
}

#[test]
fn keep_alive_serves_requests_in_turn_and_pipelined_and_in_slices() {
    let site = Site::new("keep_alive");
    let mut stream = connect(site.addr());
    let mut buf = Vec::new();
    send(&mut stream, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let first = response(&mut stream, &mut buf, false);
    assert!(!first.closes());
    // Two at once in one write, then one a byte at a time: the same connection answers all, in order.
    send(
        &mut stream,
        "GET /img/cat.png HTTP/1.1\r\nHost: t\r\n\r\nGET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert!(response(&mut stream, &mut buf, false).body == site.image);
    assert_eq!(response(&mut stream, &mut buf, false).status, 404);
    wire::write_in_slices(
        &mut stream,
        b"GET /docs/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        1,
    )
    .unwrap();
    let last = response(&mut stream, &mut buf, false);
    assert_eq!(last.body, b"docs\n");
    assert!(last.closes());
    let mut rest = Vec::new();
    let end = wire::read_to_end(&mut stream, &mut rest, Deadline::after(WAIT)).unwrap();
    assert_eq!(
        (end, rest.len()),
        (ReadEnd::Eof, 0),
        "closed after Connection: close"
    );
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let site = Site::new("http_1_0");
    let mut stream = connect(site.addr());
    send(&mut stream, "GET / HTTP/1.0\r\n\r\n");
    let response = response(&mut stream, &mut Vec::new(), false);
    assert_eq!((response.minor, response.status), (0, 200));
    assert!(response.closes());
}

#[test]
fn errors_have_their_status_and_a_body_that_says_why() {
    let site = Site::new("errors");
    let missing = get(site.addr(), "/nope.html");
    assert_eq!(missing.status, 404);
    assert!(String::from_utf8_lossy(&missing.body).starts_with("404 Not Found"));
    let mut stream = connect(site.addr());
    send(
        &mut stream,
        "DELETE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let refused = response(&mut stream, &mut Vec::new(), false);
    assert_eq!(
        (refused.status, refused.header("allow")),
        (405, Some("GET, HEAD"))
    );
    for garbage in [
        "ECHO：你好\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/9.9\r\nHost: t\r\n\r\n",
    ] {
        let mut stream = connect(site.addr());
        send(&mut stream, garbage);
        let mut buf = Vec::new();
        let bad = response(&mut stream, &mut buf, false);
        assert_eq!(bad.status, 400, "{garbage:?}");
        assert!(bad.closes());
        let end = wire::read_to_end(&mut stream, &mut buf, Deadline::after(WAIT)).unwrap();
        assert_eq!(end, ReadEnd::Eof, "{garbage:?}: closed after 400");
    }
}

#[test]
fn request_bodies_are_skipped_and_the_connection_goes_on() {
    let site = Site::new("bodies");
    let mut stream = connect(site.addr());
    let mut buf = Vec::new();
    send(
        &mut stream,
        "POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nname=张",
    );
    // The body's last bytes come later, in their own write.
    send(&mut stream, "三");
    assert_eq!(response(&mut stream, &mut buf, false).status, 405);
    send(
        &mut stream,
        "PUT /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert_eq!(response(&mut stream, &mut buf, false).status, 405);
    send(&mut stream, "GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(response(&mut stream, &mut buf, false).status, 200);
}

#[test]
fn nothing_outside_the_directory_is_served() {
    let site = Site::new("traversal");
    for target in [
        "/../secret.txt",
        "/img/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/img/..%2f..%2fsecret.txt",
        "/leak.txt",
        "http://test/../secret.txt",
    ] {
        let response = get(site.addr(), target);
        assert_eq!(response.status, 403, "{target}");
        assert!(
            !String::from_utf8_lossy(&response.body).contains("TOP-SECRET"),
            "{target}"
        );
    }
    assert!(Path::new(&site.dir.path().join("secret.txt")).exists());
}

#[test]
fn stop_returns_what_was_served() -> TestResult {
    let site = Site::new("stats");
    get(site.addr(), "/");
    get(site.addr(), "/nope");
    let stats = site.server.stop()?;
    assert_eq!((stats.connections, stats.responses), (2, 2));
    Ok(())
}
