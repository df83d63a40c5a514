//! `sockspec serve chat` and `sockspec chat` talking through their stdin and stdout.

use crate::util::Proc;

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
