//! Every spawned peer has the same handle: `stop` ends it and returns what it saw, `wait` lets it end by
//! itself, and dropping it stops the peer and joins its thread, within a deadline even while a client is
//! connected.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::mpsc;

use sockspec::peers::chat::{ChatConfig, ChatEnd, ChatServer};
use sockspec::peers::echo::{EchoConfig, EchoServer, Mode};
use sockspec::peers::file::{FileReceiver, ReceiverConfig};
use sockspec::peers::udp::{UdpConfig, UdpReceiver, UdpSender};
use sockspec::peers::Handle;
use sockspec::wire::{self, Deadline};
use sockspec::Error;

use crate::util::{any_local_addr, connect, recv_reply, send_line, TestResult, SILENCE, WAIT};

/// Runs `f` on a thread of its own and fails the test when it has not returned within [`WAIT`]: what
/// "does not hang" means here.
#[track_caller]
fn within_deadline<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    done.recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{what} did not return within {WAIT:?}"))
}

/// Drops `handle` within the deadline.
#[track_caller]
fn drop_within_deadline<T: Send + 'static>(handle: Handle<T>) {
    within_deadline("dropping the handle", move || drop(handle));
}

/// Asserts that the peer closed `stream`: EOF or a reset within the deadline, never data.
#[track_caller]
fn assert_closed_by_peer(stream: &mut TcpStream) {
    let mut got = Vec::new();
    match wire::read_to_end(stream, &mut got, Deadline::after(WAIT)) {
        Ok(wire::ReadEnd::Eof) | Err(_) => {}
        Ok(end) => panic!("the connection stayed open ({end:?}), got {got:?}"),
    }
    assert!(got.is_empty(), "unexpected bytes {got:?}");
}

/// Asserts that nobody listens at `addr` any more: the peer's socket is closed.
#[track_caller]
fn assert_not_listening(addr: SocketAddr) {
    match wire::connect(addr, Deadline::after(WAIT)) {
        Err(Error::Refused { .. }) => {}
        other => panic!("{addr} still takes connections: {other:?}"),
    }
}

#[track_caller]
fn assert_empty_dir(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir)
        .expect("read the directory")
        .map(|e| e.expect("an entry").file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn echo_server_dropped_with_idle_clients_closes_them_and_its_listener() -> TestResult {
    for mode in [Mode::Concurrent, Mode::Sequential] {
        let server =
            EchoServer::bind(any_local_addr(), EchoConfig::default().mode(mode))?.spawn()?;
        let addr = server.local_addr();
        let mut served = connect(addr);
        send_line(&mut served, b"hello\n");
        recv_reply(&mut served, &mut Vec::new(), WAIT).expect("a reply");
        // Sequential: this one waits in the backlog behind `served`.
        let mut queued = connect(addr);
        drop_within_deadline(server);
        assert_closed_by_peer(&mut served);
        assert_closed_by_peer(&mut queued);
        assert_not_listening(addr);
    }
    Ok(())
}

#[test]
fn echo_server_stopped_before_any_client_returns_zero_counts() -> TestResult {
    let server = EchoServer::bind(any_local_addr(), EchoConfig::default())?.spawn()?;
    assert!(!server.is_finished());
    let served = within_deadline("stop", move || server.stop())?;
    assert_eq!((served.clients, served.lines), (0, 0));
    Ok(())
}

#[test]
fn wait_on_a_peer_that_does_not_end_times_out_and_stops_it() -> TestResult {
    let server = EchoServer::bind(any_local_addr(), EchoConfig::default())?.spawn()?;
    let addr = server.local_addr();
    match server.wait(SILENCE) {
        Err(Error::Io { source, .. }) => assert_eq!(source.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("want a timeout, got {other:?}"),
    }
    assert_not_listening(addr);
    Ok(())
}

#[test]
fn chat_server_stopped_before_a_client_returns_an_empty_transcript() -> TestResult {
    let config = ChatConfig::default().wait(WAIT);
    let server = ChatServer::bind(any_local_addr(), config)?.spawn("never said\n".as_bytes())?;
    let addr = server.local_addr();
    let heard = within_deadline("stop", move || server.stop())?;
    assert_eq!(heard.end, ChatEnd::Stopped);
    assert_eq!(heard.peer, None);
    assert!(heard.messages.is_empty());
    assert_not_listening(addr);
    Ok(())
}

#[test]
fn chat_server_stopped_mid_chat_returns_what_was_said() -> TestResult {
    // No deadline of its own: only the stop can end this server's waits.
    let server = ChatServer::bind(any_local_addr(), ChatConfig::default())?
        .spawn("first answer\n".as_bytes())?;
    let mut client = connect(server.local_addr());
    let me = client.local_addr()?;
    send_line(&mut client, "问题\n".as_bytes());
    let answer = recv_reply(&mut client, &mut Vec::new(), WAIT).expect("an answer");
    assert_eq!(answer, b"first answer\n");
    // The server now waits for the client's next message, which never comes.
    let heard = within_deadline("stop", move || server.stop())?;
    assert_eq!(heard.end, ChatEnd::Stopped);
    assert_eq!(heard.peer, Some(me));
    assert_eq!(heard.received(), ["问题"]);
    assert_eq!(heard.sent(), ["first answer"]);
    assert_closed_by_peer(&mut client);
    Ok(())
}

#[test]
fn chat_server_dropped_while_waiting_for_its_own_input_does_not_hang() -> TestResult {
    use std::os::unix::net::UnixStream;
    // An input that stays open, as a terminal's does: the server waits for a line that never comes.
    let (_held, input) = UnixStream::pair()?;
    let server = ChatServer::bind(any_local_addr(), ChatConfig::default())?
        .spawn(std::io::BufReader::new(input))?;
    let mut client = connect(server.local_addr());
    send_line(&mut client, b"your turn\n");
    // Nothing comes back: the server is waiting for its input.
    assert!(recv_reply(&mut client, &mut Vec::new(), SILENCE).is_none());
    drop_within_deadline(server);
    assert_closed_by_peer(&mut client);
    Ok(())
}

#[test]
fn file_receiver_dropped_mid_transfer_leaves_no_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = ReceiverConfig::new(dir.path().join("never.bin"));
    let receiver = FileReceiver::bind(any_local_addr(), config)?.spawn()?;
    let mut sender = connect(receiver.local_addr());
    sender.write_all(&[0x42; 100_000])?;
    // The sender neither sends more nor closes: the receiver waits for ever, until dropped.
    drop_within_deadline(receiver);
    assert_empty_dir(dir.path());
    // The sender learns that its bytes were not kept: a reset, never the orderly close that a sender
    // waiting for it would take for "delivered".
    sender.set_read_timeout(Some(WAIT))?;
    let heard = sender.read(&mut [0u8; 16]).map_err(|e| e.kind());
    assert_eq!(heard, Err(std::io::ErrorKind::ConnectionReset));
    Ok(())
}

#[test]
fn file_receiver_stopped_before_a_sender_fails_and_leaves_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = ReceiverConfig::new(dir.path().join("never.bin"));
    let receiver = FileReceiver::bind(any_local_addr(), config)?.spawn()?;
    let addr = receiver.local_addr();
    match within_deadline("stop", move || receiver.stop()) {
        Err(Error::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::Interrupted)
        }
        other => panic!("want an interrupted receive, got {other:?}"),
    }
    assert_empty_dir(dir.path());
    assert_not_listening(addr);
    Ok(())
}

#[test]
fn udp_receiver_stop_returns_every_datagram_queued_before_it() -> TestResult {
    let receiver = UdpReceiver::bind(any_local_addr(), UdpConfig::default())?.spawn()?;
    let one = UdpSender::new(receiver.local_addr())?;
    let two = UdpSender::new(receiver.local_addr())?;
    one.send("一".as_bytes())?;
    two.send(b"two")?;
    one.send(b"")?;
    let got = within_deadline("stop", move || receiver.stop())?;
    let seen: Vec<(SocketAddr, &[u8])> =
        got.iter().map(|d| (d.from, d.payload.as_slice())).collect();
    assert_eq!(
        seen,
        [
            (one.local_addr(), "一".as_bytes()),
            (two.local_addr(), &b"two"[..]),
            (one.local_addr(), &b""[..]),
        ]
    );
    Ok(())
}

#[test]
fn udp_receiver_with_a_count_ends_by_itself() -> TestResult {
    let receiver = UdpReceiver::bind(any_local_addr(), UdpConfig::default().count(2))?.spawn()?;
    let sender = UdpSender::new(receiver.local_addr())?;
    sender.send(b"a")?;
    sender.send(b"b")?;
    // The receiver may have ended and closed its socket already, which refuses this one: either way
    // it is not taken.
    let _ = sender.send(b"not taken");
    let got = receiver.wait(WAIT)?;
    let payloads: Vec<&[u8]> = got.iter().map(|d| d.payload.as_slice()).collect();
    assert_eq!(payloads, [&b"a"[..], b"b"]);
    Ok(())
}

#[test]
fn udp_receiver_dropped_while_waiting_does_not_hang() -> TestResult {
    let receiver = UdpReceiver::bind(any_local_addr(), UdpConfig::default())?.spawn()?;
    drop_within_deadline(receiver);
    Ok(())
}
