//! The chat peers take turns, end cleanly whichever side stops, accept a message without a newline, and
//! report a reset.

use std::io::{BufReader, Cursor, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

use sockspec::peers::chat::{self, ChatConfig, ChatEnd, ChatHandle, ChatServer, Speaker};
use sockspec::wire::{self, Deadline};
use sockspec::Error;

use crate::util::{any_local_addr, connect, recv_reply, TestResult, WAIT};

/// Tests never wait for ever: a peer that goes missing fails the test at the deadline.
fn bounded() -> ChatConfig {
    ChatConfig::default().wait(WAIT)
}

/// Starts a chat server whose typed input is `script`, on a thread of its own.
#[track_caller]
fn start_server(script: &'static str) -> ChatHandle {
    ChatServer::bind(any_local_addr(), bounded())
        .and_then(|server| server.spawn(script.as_bytes()))
        .expect("start the chat server")
}

/// Runs the streaming client with `script` as its input; returns how it ended and what it printed.
fn run_client(addr: SocketAddr, script: &str) -> (sockspec::error::Result<ChatEnd>, String) {
    let mut printed = Vec::new();
    let end = chat::run_client(
        addr,
        &bounded(),
        Cursor::new(script.to_owned()),
        &mut printed,
    );
    (end, String::from_utf8(printed).expect("utf-8 output"))
}

#[test]
fn client_input_ending_ends_the_server_too() -> TestResult {
    let server = start_server("你好，客户端\nsecond answer\nnever sent\n");
    let (client_end, client_printed) = run_client(server.local_addr(), "hello server\n第二句\n");
    let heard = server.wait(WAIT)?;

    assert_eq!(client_end?, ChatEnd::InputEnded);
    assert_eq!(client_printed, "你好，客户端\nsecond answer\n");
    assert_eq!(heard.end, ChatEnd::PeerClosed);
    assert_eq!(heard.received(), ["hello server", "第二句"]);
    assert_eq!(heard.sent(), ["你好，客户端", "second answer"]);
    let turns: Vec<Speaker> = heard.messages.iter().map(|m| m.from).collect();
    use Speaker::{Local, Remote};
    assert_eq!(turns, [Remote, Local, Remote, Local]);
    Ok(())
}

#[test]
fn server_input_ending_ends_the_client_too() -> TestResult {
    let server = start_server("only answer\n");
    let (client_end, client_printed) = run_client(server.local_addr(), "one\ntwo\nthree\n");
    let heard = server.wait(WAIT)?;

    assert_eq!(heard.end, ChatEnd::InputEnded);
    assert_eq!(heard.received(), ["one", "two"]);
    assert_eq!(client_end?, ChatEnd::PeerClosed);
    assert_eq!(client_printed, "only answer\n");
    Ok(())
}

#[test]
fn an_empty_line_ends_the_chat_like_the_end_of_input() -> TestResult {
    let server = start_server("answer\n\nnever sent\n");
    let (client_end, client_printed) = run_client(server.local_addr(), "one\ntwo\n");
    let heard = server.wait(WAIT)?;

    assert_eq!(heard.end, ChatEnd::InputEnded);
    assert_eq!(heard.received(), ["one", "two"]);
    assert_eq!(client_end?, ChatEnd::PeerClosed);
    assert_eq!(client_printed, "answer\n");
    Ok(())
}

#[test]
fn converse_returns_the_chat_as_the_client_saw_it() -> TestResult {
    let server = start_server("一\n二\n");
    let said = chat::converse(server.local_addr(), &bounded(), "a\nb\nc\n".as_bytes())?;
    assert_eq!(said.peer, Some(server.local_addr()));
    assert_eq!(said.sent(), ["a", "b", "c"]);
    assert_eq!(said.received(), ["一", "二"]);
    // The server had no answer to "c": its input ended, so it closed, and the client heard that.
    assert_eq!(said.end, ChatEnd::PeerClosed);
    let heard = server.wait(WAIT)?;
    assert_eq!(heard.end, ChatEnd::InputEnded);
    assert_eq!(heard.received(), ["a", "b", "c"]);
    Ok(())
}

#[test]
fn crlf_input_lines_are_sent_with_a_bare_newline() -> TestResult {
    let server = start_server("answer\r\n");
    let mut client = connect(server.local_addr());
    client.write_all(b"hi\r\n")?;
    let reply = recv_reply(&mut client, &mut Vec::new(), WAIT).expect("an answer");
    assert_eq!(reply, b"answer\n");
    drop(client);
    let heard = server.wait(WAIT)?;
    assert_eq!(heard.end, ChatEnd::PeerClosed);
    assert_eq!(heard.received(), ["hi"]);
    Ok(())
}

#[test]
fn a_message_without_newline_is_taken_after_a_quiet_gap() -> TestResult {
    let server = start_server("got it\n");
    let mut client = connect(server.local_addr());
    // What a Python client does with `send(input().encode())`: no newline at all.
    client.write_all("不带换行".as_bytes())?;
    let reply = recv_reply(&mut client, &mut Vec::new(), WAIT).expect("an answer");
    assert_eq!(reply, b"got it\n");
    drop(client);
    let heard = server.wait(WAIT)?;
    assert_eq!(heard.end, ChatEnd::PeerClosed);
    assert_eq!(heard.received(), ["不带换行"]);
    Ok(())
}

#[test]
fn a_reset_is_reported_as_an_error() -> TestResult {
    let server = start_server("answer\nanother\n");
    let mut client = connect(server.local_addr());
    client.write_all(b"hi\n")?;
    let reply = recv_reply(&mut client, &mut Vec::new(), WAIT).expect("an answer");
    assert_eq!(reply, b"answer\n");
    wire::reset(client)?;
    match server.wait(WAIT) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), ErrorKind::ConnectionReset),
        other => panic!("want a reset error, got {other:?}"),
    }
    Ok(())
}

#[test]
fn a_client_with_nobody_listening_is_refused() {
    // A bound socket that never listens holds the port, so no other test can take it meanwhile.
    let holder = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    holder.bind(&any_local_addr().into()).unwrap();
    let addr = holder.local_addr().unwrap().as_socket().unwrap();
    let (end, printed) = run_client(addr, "hello\n");
    assert!(matches!(end, Err(Error::Refused { .. })), "{end:?}");
    assert_eq!(end.unwrap_err().exit_code(), sockspec::exit::CONNECT);
    assert!(printed.is_empty());
}

/// An input that stays open, as a terminal's does: nothing arrives until the test writes to `held`, and
/// it ends only when `held` is dropped.
fn open_input() -> (BufReader<UnixStream>, UnixStream) {
    let (held, input) = UnixStream::pair().expect("a socket pair");
    (BufReader::new(input), held)
}

#[test]
fn the_client_closing_ends_the_server_waiting_for_its_input() -> TestResult {
    let server = ChatServer::bind(any_local_addr(), bounded())?;
    let addr = server.local_addr();
    let (input, _held) = open_input();
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let mut printed = Vec::new();
        let end = server.serve(input, &mut printed);
        let _ = done_tx.send((end, printed));
    });

    let mut client = connect(addr);
    client.write_all(b"hi there\n")?;
    drop(client);
    let (end, printed) = done
        .recv_timeout(WAIT)
        .expect("the server ended although its input is still open");
    assert_eq!(end?, ChatEnd::PeerClosed);
    assert_eq!(printed, b"hi there\n");
    Ok(())
}

#[test]
fn the_server_closing_ends_the_client_waiting_for_its_input() -> TestResult {
    let listener = TcpListener::bind(any_local_addr())?;
    let addr = listener.local_addr()?;
    let (input, _held) = open_input();
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let mut printed = Vec::new();
        let end = chat::run_client(addr, &bounded(), input, &mut printed);
        let _ = done_tx.send((end, printed));
    });

    let (mut server, _) =
        wire::accept(&listener, Deadline::after(WAIT))?.expect("the client connects");
    // Out of turn: the client is waiting for its own input, and prints this meanwhile.
    server.write_all("先说一句\n".as_bytes())?;
    drop(server);
    let (end, printed) = done
        .recv_timeout(WAIT)
        .expect("the client ended although its input is still open");
    assert_eq!(end?, ChatEnd::PeerClosed);
    assert_eq!(String::from_utf8(printed)?, "先说一句\n");
    Ok(())
}
