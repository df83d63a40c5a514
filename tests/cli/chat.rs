//! `sockspec serve chat` and `sockspec chat` talking through their stdin and stdout.

use std::io::Write;
use std::net::{TcpListener, TcpStream};

use sockspec::wire::{self, Deadline};

use crate::util::{Proc, TestResult, WAIT};

#[test]
fn a_chat_in_turns_ended_by_the_client() {
    let (mut server, addr) = Proc::serve(&["serve", "chat"]);
    let mut client = Proc::spawn(&["chat", "127.0.0.1", &addr.port().to_string()]);

    client.type_in("你好，服务器\n");
    assert_eq!(server.expect_line(), "你好，服务器");
    server.type_in("你好，客户端\n");
    assert_eq!(client.expect_line(), "你好，客户端");
    client.type_in("bye\n");
    assert_eq!(server.expect_line(), "bye");
    server.type_in("bye too\n");
    assert_eq!(client.expect_line(), "bye too");

    // The end of the client's input closes the connection, which ends the server as well.
    client.close_stdin();
    client.assert_exits_ok();
    assert!(client.rest().is_empty(), "{}", client.describe());
    server.assert_exits_ok();
    assert!(server.rest().is_empty(), "{}", server.describe());
}

#[test]
fn the_server_ending_ends_the_client_waiting_for_its_answer() {
    let (mut server, addr) = Proc::serve(&["serve", "chat"]);
    let mut client = Proc::spawn(&["chat", "127.0.0.1", &addr.port().to_string()]);

    client.type_in("hello\n");
    assert_eq!(server.expect_line(), "hello");
    // An empty line on the server's side ends its chat instead of answering.
    server.type_in("\n");
    server.assert_exits_ok();

    // The client was waiting for the answer: it sees the close and ends cleanly, without more input.
    client.assert_exits_ok();
    assert!(client.rest().is_empty(), "{}", client.describe());
    assert!(client.stderr().contains("closed"), "{}", client.describe());
}

#[test]
fn the_client_closing_ends_the_server_waiting_for_its_input() -> TestResult {
    let (mut server, addr) = Proc::serve(&["serve", "chat"]);
    let mut client = TcpStream::connect(addr)?;
    client.write_all(b"hi there\n")?;
    assert_eq!(server.expect_line(), "hi there");
    // The server now waits for a line on its stdin, which stays open.
    drop(client);
    server.assert_exits_ok();
    assert!(server.rest().is_empty(), "{}", server.describe());
    assert!(server.stderr().contains("closed"), "{}", server.describe());
    Ok(())
}

#[test]
fn the_server_closing_ends_the_client_waiting_for_its_input() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut client = Proc::spawn(&[
        "chat",
        "127.0.0.1",
        &listener.local_addr()?.port().to_string(),
    ]);
    let (mut server, _) = wire::accept(&listener, Deadline::after(WAIT))?
        .unwrap_or_else(|| panic!("the client did not connect\n{}", client.describe()));
    // Out of turn: the client is waiting for its stdin, and prints this meanwhile.
    server.write_all(b"early\n")?;
    assert_eq!(client.expect_line(), "early");
    drop(server);
    client.assert_exits_ok();
    assert!(client.rest().is_empty(), "{}", client.describe());
    Ok(())
}
