//! Checks of an HTTP server serving a directory (`CMD {port} {dir}`): the grader writes a small site
//! into `{dir}` (an HTML page with Chinese text, a binary image whose bytes break text mode) and a secret
//! beside it, outside; then plays the browser.

use std::io;
use std::path::Path;
use std::time::Duration;

use super::Mix;
use crate::grade::conn::Conn;
use crate::grade::ctx::Ctx;
use crate::grade::procfs::Proto;
use crate::grade::suite::HttpCase;
use crate::grade::verdict::{CheckResult, Failure, Outcome};
use crate::grade::words;
use crate::i18n::{key, Arg, Message};
use crate::peers::http::client::{self, Framing, Response, ResponseError};
use crate::wire::Deadline;

/// The served directory, inside the launch's working directory.
pub const SITE_DIR: &str = "www";
/// Beside the served directory, so `{dir}/../secret.txt` names it.
const SECRET_FILE: &str = "secret.txt";
const IMAGE_PATH: &str = "/images/photo.png";
/// The largest body the grader reads.
const MAX_BODY: usize = 4 << 20;
/// Slices of a request sent in pieces, and the pause between them (long enough that each is read alone).
const SLICE: usize = 5;
const SLICE_PAUSE: Duration = Duration::from_millis(15);
/// After a response to a request with `Connection: close`, how long extra bytes are watched for.
const AFTER_RESPONSE: Duration = Duration::from_millis(300);

/// What the grader serves through the program, made from the check's seed.
pub struct Site {
    index: Vec<u8>,
    image: Vec<u8>,
    secret: Vec<u8>,
}

impl Site {
    /// The site for a check's `seed`: its page, its image, and a secret file beside `{dir}` that
    /// must never be served.
    pub fn new(seed: u64) -> Site {
        let mut mix = Mix::new(seed);
        let token = mix.next_u64();
        let index = format!(
            "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>套接字编程</title></head>\n\
             <body>\n<h1>你好，HTTP！</h1>\n<p>这是服务器发来的网页。Page {token:016x}.</p>\n\
             <img src=\"/images/photo.png\">\n</body>\n</html>\n"
        )
        .into_bytes();
        // A PNG signature, then bytes that text mode changes or refuses: CR LF, NUL, bytes invalid in
        // UTF-8, and noise; over 40 KiB, so it takes many recv(1024)/send() rounds.
        let mut image = b"\x89PNG\r\n\x1a\n".to_vec();
        image.extend_from_slice(b"\0\0\0\rIHDR\r\n\n\r\xff\xfe\x80\xc3");
        while image.len() < 40 * 1024 + 17 {
            image.extend_from_slice(&mix.next_u64().to_le_bytes());
        }
        let secret =
            format!("SOCKSPEC-SECRET {token:016x}: outside the served directory\n").into_bytes();
        Site {
            index,
            image,
            secret,
        }
    }

    /// Writes `SITE_DIR/index.html`, `SITE_DIR/images/photo.png`, and the secret beside `SITE_DIR`.
    pub fn write(&self, workdir: &Path) -> io::Result<()> {
        let site = workdir.join(SITE_DIR);
        std::fs::create_dir_all(site.join("images"))?;
        std::fs::write(site.join("index.html"), &self.index)?;
        std::fs::write(site.join(&IMAGE_PATH[1..]), &self.image)?;
        std::fs::write(workdir.join(SECRET_FILE), &self.secret)
    }
}

pub(crate) fn run(ctx: &mut Ctx, case: HttpCase) -> CheckResult {
    let site = Site::new(ctx.seed);
    let addr = ctx.launch_server(Proto::Tcp)?;
    let host = format!("127.0.0.1:{}", addr.port());
    let get = |target: &str, connection: &str| {
        format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{connection}\r\n").into_bytes()
    };
    let close = "Connection: close\r\n";
    match case {
        HttpCase::Index => {
            let request = get("/", close);
            let mut conn = ctx.connect(addr, "browser")?;
            let response = fetch(ctx, &mut conn, &request, false)?;
            judge_page(&response, &site.index).map_err(|f| f.with_input(request))
        }
        HttpCase::Binary => {
            let request = get(IMAGE_PATH, close);
            let mut conn = ctx.connect(addr, "browser")?;
            let response = fetch(ctx, &mut conn, &request, false)?;
            judge_status(&response, 200, IMAGE_PATH)
                .and_then(|()| judge_binary(&response, &site.image))
                .map_err(|f| f.with_input(request))
        }
        HttpCase::NotFound => {
            let request = get("/no-such-page.html", close);
            let mut conn = ctx.connect(addr, "browser")?;
            let response = fetch(ctx, &mut conn, &request, false).map_err(|f| {
                f.with_message_after(Message::new(key::HTTP_MISSING_STILL_ANSWERED))
            })?;
            judge_status(&response, 404, "/no-such-page.html").map_err(|f| f.with_input(request))
        }
        HttpCase::Slices => {
            let request = get("/", close);
            let mut conn = ctx.connect(addr, "browser")?;
            if let Err(broke) = conn.send_slices(&request, SLICE, SLICE_PAUSE) {
                // The server answered or closed before the request was whole: show what it said.
                let answer = receive(ctx, &mut conn, false)
                    .map(|r| {
                        Message::new(key::HTTP_ANSWERED)
                            .arg("status", r.status)
                            .arg("reason", r.reason)
                    })
                    .unwrap_or_else(|_| Message::new(key::HTTP_CLOSED_THE_CONNECTION));
                let message = Message::new(key::HTTP_ANSWERED_BEFORE_WHOLE)
                    .arg("answer", answer)
                    .arg("why", broke.said_message());
                return Err(Failure::said(Outcome::Fail, message).with_input(request));
            }
            let response = receive(ctx, &mut conn, false)
                .map_err(|f| f.with_message_after(Message::new(key::HTTP_REQUEST_IN_PIECES)))?;
            judge_body(&response, &site.index).map_err(|f| {
                f.with_input(request)
                    .with_message_after(Message::new(key::HTTP_PIECES_OF_FIVE))
            })
        }
        HttpCase::KeepAlive => {
            let first = get("/", "");
            let second = get(IMAGE_PATH, close);
            let mut conn = ctx.connect(addr, "browser")?;
            let response = fetch(ctx, &mut conn, &first, false)?;
            judge_body(&response, &site.index).map_err(|f| f.with_input(first.clone()))?;
            if response.framing == Framing::UntilClose {
                return Err(Failure::said(
                    Outcome::Fail,
                    Message::new(key::HTTP_FIRST_UNTIL_CLOSE),
                )
                .with_input(first));
            }
            let said_close = response.closes();
            let again = fetch(ctx, &mut conn, &second, false).map_err(|f| {
                let why = Message::new(if said_close {
                    key::HTTP_SAID_CLOSE
                } else {
                    key::HTTP_DID_NOT_SAY_CLOSE
                });
                f.with_message_after(Message::new(key::HTTP_KEEP_ALIVE).arg("why", why))
            })?;
            judge_status(&again, 200, IMAGE_PATH)
                .and_then(|()| judge_binary(&again, &site.image))
                .map_err(|f| f.with_input([first, second].concat()))
        }
        HttpCase::Body => {
            let body = "name=张三&message=".to_string() + &"你好，服务器！".repeat(160);
            let request = format!(
                "POST /form HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded; \
                 charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes();
            let mut conn = ctx.connect(addr, "browser")?;
            let response = fetch(ctx, &mut conn, &request, false).map_err(|f| {
                f.with_message_after(Message::new(key::HTTP_BODY_UNREAD).arg("len", body.len()))
            })?;
            if !(200..600).contains(&response.status) {
                let message = Message::new(key::HTTP_NO_STATUS).arg("status", response.status);
                return Err(Failure::said(Outcome::Fail, message).with_input(request));
            }
            // Nothing may follow: not a second response (the body taken for a request), not a reset
            // (the body left unread when the server closed).
            let wait = ctx.wait().min(AFTER_RESPONSE);
            match conn.read_more_within(wait) {
                Ok(extra) if !extra.is_empty() => {
                    let message =
                        Message::new(key::HTTP_MORE_AFTER_RESPONSE).arg("count", extra.len());
                    return Err(Failure::said(Outcome::Fail, message)
                        .with_input(request)
                        .with_actual(extra));
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    let message =
                        Message::new(key::HTTP_RESET_AFTER_RESPONSE).arg("len", body.len());
                    return Err(Failure::said(Outcome::Fail, message).with_input(request));
                }
                _ => {}
            }
            drop(conn);
            let next = get("/", close);
            let mut conn = ctx.connect(addr, "browser 2")?;
            let response = fetch(ctx, &mut conn, &next, false)
                .map_err(|f| f.with_message_after(Message::new(key::HTTP_NEXT_AFTER_BODY)))?;
            judge_body(&response, &site.index).map_err(|f| f.with_input(next))
        }
        HttpCase::Concurrent => {
            let request = get("/", close);
            let (head, tail) = request.split_at(8);
            let mut idle = ctx.connect(addr, "browser 1")?;
            idle.send(head)?;
            let mut conn = ctx.connect(addr, "browser 2")?;
            let response = fetch(ctx, &mut conn, &request, false)
                .map_err(|f| f.with_message_after(Message::new(key::HTTP_NOT_AT_ONCE)))?;
            judge_body(&response, &site.index).map_err(|f| f.with_input(request.clone()))?;
            idle.send(tail)?;
            let response = receive(ctx, &mut idle, false)?;
            judge_body(&response, &site.index).map_err(|f| f.with_input(request))
        }
        HttpCase::Traversal => {
            for target in [
                "/../secret.txt",
                "/images/../../secret.txt",
                "/%2e%2e/secret.txt",
                "/..%2fsecret.txt",
            ] {
                let request = get(target, close);
                let mut conn = ctx.connect(addr, "attacker").map_err(|f| {
                    f.with_message_after(Message::new(key::HTTP_STOPPED_AFTER_EARLIER_DOTDOT))
                })?;
                conn.send(&request)?;
                let response = match conn.read_http(Deadline::after(ctx.wait()), false, MAX_BODY) {
                    Ok(response) => response,
                    // Closing without a response refuses too; a crash shows in the next connection.
                    Err(ResponseError::Closed { .. } | ResponseError::Io(_)) => continue,
                    Err(e) => return Err(response_failure(e, &mut conn, ctx.wait())),
                };
                if client::contains(&response.body, &site.secret)
                    || (200..300).contains(&response.status)
                {
                    let secret = if client::contains(&response.body, &site.secret) {
                        Message::new(key::HTTP_WITH_SECRET).into()
                    } else {
                        Arg::from("")
                    };
                    let message = Message::new(key::HTTP_TRAVERSAL)
                        .arg("target", target)
                        .arg("status", response.status)
                        .arg("reason", response.reason.as_str())
                        .arg("secret", secret);
                    return Err(Failure::said(Outcome::Fail, message)
                        .with_input(request)
                        .with_actual(response.head.clone()));
                }
            }
            // Still a server after all that.
            let request = get("/", close);
            let mut conn = ctx
                .connect(addr, "browser")
                .map_err(|f| f.with_message_after(Message::new(key::HTTP_STOPPED_AFTER_DOTDOT)))?;
            let response = fetch(ctx, &mut conn, &request, false)?;
            judge_body(&response, &site.index).map_err(|f| f.with_input(request))
        }
    }
}

/// A sentence added to a failure's message: what the failure means for an HTTP server.
trait Explain {
    fn with_message_after(self, advice: Message) -> Self;
}

impl Explain for Failure {
    fn with_message_after(mut self, advice: Message) -> Self {
        // A failure of the grader itself needs no advice to the student.
        if !self.harness {
            let why = self.said_message();
            self.reword(
                Message::new(key::HTTP_ADVICE)
                    .arg("why", why)
                    .arg("advice", advice),
            );
        }
        self
    }
}

/// What [`ResponseError`] says, as a message: the same English words.
fn said_error(error: &ResponseError) -> Message {
    match error {
        ResponseError::Deadline { arrived: 0 } => Message::new(key::HTTP_NO_RESPONSE_IN_TIME),
        ResponseError::Deadline { arrived } => {
            Message::new(key::HTTP_INCOMPLETE_IN_TIME).arg("count", *arrived)
        }
        ResponseError::Closed { arrived: 0 } => Message::new(key::HTTP_CLOSED_WITHOUT_RESPONSE),
        ResponseError::Closed { arrived } => {
            Message::new(key::HTTP_CLOSED_INSIDE_RESPONSE).arg("count", *arrived)
        }
        ResponseError::Malformed { why } => {
            Message::new(key::HTTP_MALFORMED).arg("why", why.as_str())
        }
        ResponseError::Io(e) => {
            Message::new(key::HTTP_CONNECTION_FAILED).arg("error", e.to_string())
        }
    }
}

/// Sends `request` and reads one response.
fn fetch(ctx: &Ctx, conn: &mut Conn, request: &[u8], to_head: bool) -> CheckResult<Response> {
    conn.send(request)
        .map_err(|f| f.with_input(request.to_vec()))?;
    receive(ctx, conn, to_head).map_err(|f| f.with_input(request.to_vec()))
}

fn receive(ctx: &Ctx, conn: &mut Conn, to_head: bool) -> CheckResult<Response> {
    let wait = ctx.wait();
    conn.read_http(Deadline::after(wait), to_head, MAX_BODY)
        .map_err(|e| response_failure(e, conn, wait))
}

/// The failure for a response that did not come whole, with what did arrive and what its head says.
fn response_failure(error: ResponseError, conn: &mut Conn, wait: Duration) -> Failure {
    let got = conn.take_pending();
    let declared = match client::parse_head(&got) {
        Ok(Some((head, len))) => head
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > got.len() - len)
            .map(|n| (n, got.len() - len)),
        _ => None,
    };
    let mut message = said_error(&error);
    if let Some((n, followed)) = declared {
        message = Message::new(key::HTTP_DECLARED_SHORT)
            .arg("why", message)
            .arg("n", n)
            .arg("got", followed);
    }
    let failure = match error {
        ResponseError::Deadline { .. } => {
            let message = Message::new(key::HTTP_DEADLINE)
                .arg("why", message)
                .arg("secs", words::secs(wait));
            Failure::said(Outcome::Timeout, message).after_waiting()
        }
        ResponseError::Io(ref e) if e.kind() == io::ErrorKind::ConnectionReset => Failure::said(
            Outcome::Fail,
            Message::new(key::HTTP_RESET).arg("why", message),
        ),
        _ => Failure::said(Outcome::Fail, message),
    };
    if got.is_empty() {
        failure
    } else {
        failure.with_actual(got)
    }
}

fn judge_status(response: &Response, want: u16, target: &str) -> CheckResult {
    if response.status == want {
        return Ok(());
    }
    let message = Message::new(key::HTTP_WRONG_STATUS)
        .arg("target", target)
        .arg("status", response.status)
        .arg("reason", response.reason.as_str())
        .arg("want", want)
        .arg("expected", crate::peers::http::reason(want));
    Err(Failure::said(Outcome::Fail, message)
        .with_expected(format!(
            "HTTP/1.1 {want} {}\r\n",
            crate::peers::http::reason(want)
        ))
        .with_actual(response.head.clone()))
}

/// The page arrived: 200 and its bytes. What the head says about it is `basic/index`'s question alone,
/// so one header bug fails one check.
fn judge_body(response: &Response, page: &[u8]) -> CheckResult {
    judge_status(response, 200, "/")?;
    if response.body != page {
        let cut = match response.framing {
            Framing::Length(n) if page.starts_with(&response.body) => {
                Message::new(key::HTTP_BODY_CUT)
                    .arg("n", n)
                    .arg("len", page.len())
                    .into()
            }
            _ => Arg::from(""),
        };
        let message = Message::new(key::HTTP_BODY_NOT_INDEX).arg("cut", cut);
        return Err(Failure::said(Outcome::Fail, message)
            .with_expected(page.to_vec())
            .with_actual(response.body.clone()));
    }
    Ok(())
}

/// The page served right: 200, lines ending in CRLF, a Content-Type of text/html, a Content-Length that
/// counts the body's bytes, and the file's bytes.
fn judge_page(response: &Response, page: &[u8]) -> CheckResult {
    let kind = "text/html";
    judge_status(response, 200, "/")?;
    let head = &response.head;
    if head
        .windows(2)
        .enumerate()
        .any(|(i, w)| w[1] == b'\n' && (w[0] != b'\r' || i == 0 && head[0] == b'\n'))
    {
        return Err(
            Failure::said(Outcome::Fail, Message::new(key::HTTP_BARE_LF)).with_actual(head.clone()),
        );
    }
    match response.header("content-type") {
        Some(t) if t.to_ascii_lowercase().starts_with(kind) => {}
        Some(t) => {
            let message = Message::new(key::HTTP_WRONG_CONTENT_TYPE)
                .arg("got", format!("{t:?}"))
                .arg("want", kind);
            return Err(Failure::said(Outcome::Fail, message).with_actual(head.clone()));
        }
        None => {
            let message = Message::new(key::HTTP_NO_CONTENT_TYPE).arg("want", kind);
            return Err(Failure::said(Outcome::Fail, message).with_actual(head.clone()));
        }
    }
    match response.framing {
        Framing::Length(n) if n as usize == page.len() => {}
        Framing::Length(n) => {
            let chars = String::from_utf8_lossy(page).chars().count();
            let hint = if n as usize == chars {
                Message::new(key::HTTP_LENGTH_IS_CHARS).into()
            } else {
                Arg::from("")
            };
            let message = Message::new(key::HTTP_WRONG_LENGTH)
                .arg("n", n)
                .arg("len", page.len())
                .arg("hint", hint);
            return Err(Failure::said(Outcome::Fail, message)
                .with_expected(format!("Content-Length: {}", page.len()))
                .with_actual(head.clone()));
        }
        Framing::Chunked => {}
        Framing::UntilClose | Framing::NoBody => {
            return Err(
                Failure::said(Outcome::Fail, Message::new(key::HTTP_NO_CONTENT_LENGTH))
                    .with_actual(head.clone()),
            );
        }
    }
    judge_body(response, page)
}

/// The image arrived byte for byte.
fn judge_binary(response: &Response, image: &[u8]) -> CheckResult {
    if response.body == image {
        return Ok(());
    }
    let at = crate::grade::verdict::first_difference(&response.body, image).unwrap_or(0);
    let message = Message::new(key::HTTP_IMAGE_CHANGED)
        .arg("got", response.body.len())
        .arg("len", image.len())
        .arg("at", at);
    Err(Failure::said(Outcome::Fail, message)
        .with_expected(image.to_vec())
        .with_actual(response.body.clone()))
}
