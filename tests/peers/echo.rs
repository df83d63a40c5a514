//! The echo server replies exactly `ECHO：` + line to every line, whatever the bytes and however they
//! arrive, keeps clients apart, and takes its clients as its mode says.

use std::net::TcpStream;
use std::sync::{Arc, Barrier};

use proptest::collection::vec;
use proptest::prelude::*;
use sockspec::peers::echo::{
    run_client, ClientConfig, EchoConfig, EchoHandle, EchoServer, Mode, DEFAULT_PREFIX,
};
use sockspec::wire::{self, Deadline, ReadEnd};

use crate::util::{
    any_local_addr, connect, exchange, recv_reply, send_line, TestResult, SILENCE, WAIT,
};

/// Socket round trips are slow next to pure functions: few cases, each with many lines.
const CASES: u32 = 24;

/// The longest line generated: 1 MiB.
const MAX_LINE: usize = 1 << 20;

#[track_caller]
fn start_server(mode: Mode) -> EchoHandle {
    EchoServer::bind(any_local_addr(), EchoConfig::default().mode(mode))
        .and_then(EchoServer::spawn)
        .expect("start the echo server")
}

/// A line without its newline: Chinese text, any printable text, arbitrary (non-UTF-8) bytes, nothing,
/// or a long line built from a short pattern (cheap to generate and to shrink).
fn line() -> impl Strategy<Value = Vec<u8>> {
    let not_newline = any::<u8>().prop_map(|b| if b == b'\n' { b'N' } else { b });
    prop_oneof![
        3 => "[你好世界中文测试，。：！？ ECHO]{0,40}".prop_map(String::into_bytes),
        2 => "[^\n]{0,40}".prop_map(String::into_bytes),
        3 => vec(not_newline.clone(), 0..200),
        1 => Just(Vec::new()),
        1 => (vec(not_newline, 1..32), 0..=MAX_LINE).prop_map(|(pattern, len)| {
            pattern.iter().copied().cycle().take(len).collect()
        }),
    ]
}

fn lines() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(line(), 0..8)
}

fn with_newline(line: &[u8]) -> Vec<u8> {
    let mut framed = line.to_vec();
    framed.push(b'\n');
    framed
}

fn expected_replies(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut all = Vec::new();
    for line in lines {
        all.extend_from_slice(DEFAULT_PREFIX.as_bytes());
        all.extend_from_slice(&with_newline(line));
    }
    all
}

/// Compares replies without dumping megabytes on failure: the first differing offset and its bytes.
fn assert_replies(got: &[u8], want: &[u8]) -> Result<(), TestCaseError> {
    if got == want {
        return Ok(());
    }
    let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
    let from = at.saturating_sub(16);
    Err(TestCaseError::fail(format!(
        "replies differ at byte {at} (got {} bytes, want {}):\ngot:\n{}want:\n{}",
        got.len(),
        want.len(),
        wire::hex_dump(&got[from..], 64),
        wire::hex_dump(&want[from..], 64),
    )))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn every_line_gets_exactly_prefix_and_line(lines in lines()) {
        let server = start_server(Mode::Concurrent);
        let pieces = lines.iter().map(|l| with_newline(l)).collect();
        let got = exchange(server.local_addr(), pieces, Vec::new())?;
        assert_replies(&got, &expected_replies(&lines))?;
    }

    #[test]
    fn lines_written_in_small_slices_get_the_same_replies(
        lines in lines(),
        slices in vec(1usize..=512, 1..8),
    ) {
        let server = start_server(Mode::Concurrent);
        let pieces = lines.iter().map(|l| with_newline(l)).collect();
        let got = exchange(server.local_addr(), pieces, slices)?;
        assert_replies(&got, &expected_replies(&lines))?;
    }

    #[test]
    fn lines_coalesced_into_one_write_get_the_same_replies(lines in lines()) {
        let server = start_server(Mode::Concurrent);
        let all: Vec<u8> = lines.iter().flat_map(|l| with_newline(l)).collect();
        let got = exchange(server.local_addr(), vec![all], Vec::new())?;
        assert_replies(&got, &expected_replies(&lines))?;
    }
}

/// Clients that all talk at once.
const CLIENTS: usize = 100;
/// Messages each of them sends, one at a time.
const MESSAGES: usize = 20;

#[test]
fn concurrent_clients_each_get_exactly_their_own_replies() -> TestResult {
    let server = start_server(Mode::Concurrent);
    let addr = server.local_addr();
    // Everyone connects before anyone speaks, so the conversations interleave on the server.
    let ready = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let ready = ready.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let connected = wire::connect(addr, Deadline::after(WAIT));
                // Every thread reaches the barrier, connected or not, so one failure cannot leave the
                // others waiting for ever.
                ready.wait();
                let mut stream = connected.map_err(|e| format!("client {id}: {e}"))?;
                let mut pending = Vec::new();
                for n in 0..MESSAGES {
                    let line = format!("客户 {id} message {n}\n");
                    send_line(&mut stream, line.as_bytes());
                    let reply = recv_reply(&mut stream, &mut pending, WAIT)
                        .ok_or_else(|| format!("client {id}: no reply to message {n}"))?;
                    let want = format!("{DEFAULT_PREFIX}{line}");
                    if reply != want.as_bytes() {
                        return Err(format!(
                            "client {id} got {:?}, want {want:?}",
                            String::from_utf8_lossy(&reply)
                        ));
                    }
                }
                if !pending.is_empty() {
                    return Err(format!("client {id} got extra bytes {pending:?}"));
                }
                Ok(())
            })
        })
        .collect();
    let failures: Vec<String> = clients
        .into_iter()
        .filter_map(|c| c.join().expect("client thread panicked").err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} clients failed: {failures:#?}",
        failures.len()
    );
    Ok(())
}

/// Sends `line` and expects its echo within the deadline.
#[track_caller]
fn assert_echoed(stream: &mut TcpStream, line: &str) {
    send_line(stream, line.as_bytes());
    let mut pending = Vec::new();
    let reply = recv_reply(stream, &mut pending, WAIT).expect("a reply within the deadline");
    assert_eq!(
        String::from_utf8_lossy(&reply),
        format!("{DEFAULT_PREFIX}{line}")
    );
}

#[test]
fn sequential_server_takes_the_next_client_only_after_the_first_closes() {
    let server = start_server(Mode::Sequential);
    let mut first = connect(server.local_addr());
    assert_echoed(&mut first, "first\n");

    // The second connection is queued in the backlog: it opens, but nobody reads it yet.
    let mut second = connect(server.local_addr());
    send_line(&mut second, b"second\n");
    let mut pending = Vec::new();
    let early = recv_reply(&mut second, &mut pending, SILENCE);
    assert!(
        early.is_none() && pending.is_empty(),
        "the second client was served while the first was connected: {early:?} {pending:?}"
    );

    drop(first);
    let reply = recv_reply(&mut second, &mut pending, WAIT).expect("served once the first closed");
    assert_eq!(
        String::from_utf8_lossy(&reply),
        format!("{DEFAULT_PREFIX}second\n")
    );
}

#[test]
fn concurrent_server_serves_a_second_client_while_the_first_stays_idle() {
    let server = start_server(Mode::Concurrent);
    let mut first = connect(server.local_addr());
    assert_echoed(&mut first, "first\n");
    let mut second = connect(server.local_addr());
    assert_echoed(&mut second, "second\n");
    // The first is still served after its idle spell.
    assert_echoed(&mut first, "first again\n");
}

#[test]
fn single_server_stops_after_its_client() -> TestResult {
    let server = start_server(Mode::Single);
    let mut only = connect(server.local_addr());
    assert_echoed(&mut only, "only\n");
    drop(only);

    // Either the listener is already gone (refused), or this client sits in a backlog that is dropped
    // with the listener (reset or EOF): never an answer.
    match wire::connect(server.local_addr(), Deadline::after(WAIT)) {
        Err(sockspec::Error::Refused { .. }) => {}
        Err(other) => return Err(other.into()),
        Ok(mut late) => {
            let _ = late.set_nodelay(true);
            let _ = std::io::Write::write_all(&mut late, b"late\n");
            let mut got = Vec::new();
            match wire::read_to_end(&mut late, &mut got, Deadline::after(WAIT)) {
                Ok(ReadEnd::Eof) | Err(_) => {}
                Ok(end) => panic!("late client: {end:?} with {got:?}"),
            }
            assert!(got.is_empty(), "the late client was answered: {got:?}");
        }
    }
    // Its work done, the server thread ended by itself, with its counts.
    let served = server.wait(WAIT)?;
    assert_eq!((served.clients, served.lines), (1, 1));
    Ok(())
}

/// A server that answers each line with `got: ` + the line without its newline, the way a course
/// server that strips the line does; it serves one client.
fn start_stripping_server() -> std::io::Result<(std::net::SocketAddr, std::thread::JoinHandle<()>)>
{
    let listener = std::net::TcpListener::bind(any_local_addr())?;
    let addr = listener.local_addr()?;
    let thread = std::thread::spawn(move || {
        let Ok(Some((mut stream, _))) = wire::accept(&listener, Deadline::after(WAIT)) else {
            return;
        };
        let mut pending = Vec::new();
        while let Some(line) = recv_reply(&mut stream, &mut pending, WAIT) {
            let reply = [b"got: ", &line[..line.len() - 1]].concat();
            if std::io::Write::write_all(&mut stream, &reply).is_err() {
                return;
            }
        }
    });
    Ok((addr, thread))
}

#[test]
fn echo_client_ends_a_reply_without_newline_after_the_quiet_gap() -> TestResult {
    let (addr, server) = start_stripping_server()?;
    let config = ClientConfig::default().reply_timeout(WAIT);
    let mut printed = Vec::new();
    let replies = run_client(
        addr,
        &config,
        std::io::Cursor::new("one\r\n二\n"),
        &mut printed,
    )?;
    server.join().expect("server thread");
    assert_eq!(replies, 2);
    assert_eq!(String::from_utf8(printed)?, "got: one\r\ngot: 二\n");
    Ok(())
}

#[test]
fn send_lines_returns_each_reply_without_its_newline() -> TestResult {
    let server = start_server(Mode::Concurrent);
    let config = ClientConfig::default().reply_timeout(WAIT);
    let replies = sockspec::peers::echo::send_lines(
        server.local_addr(),
        &config,
        ["first", "第二", "", "after the empty line"],
    )?;
    // The empty line ends the client, as it ends the lesson's.
    assert_eq!(
        replies,
        [
            format!("{DEFAULT_PREFIX}first").into_bytes(),
            format!("{DEFAULT_PREFIX}第二").into_bytes()
        ]
    );
    Ok(())
}

#[test]
fn stop_returns_the_clients_and_lines_served() -> TestResult {
    let server = start_server(Mode::Concurrent);
    let mut one = connect(server.local_addr());
    assert_echoed(&mut one, "a\n");
    assert_echoed(&mut one, "b\n");
    let mut two = connect(server.local_addr());
    assert_echoed(&mut two, "c\n");
    let served = server.stop()?;
    assert_eq!((served.clients, served.lines), (2, 3));
    Ok(())
}

#[test]
fn events_tell_of_each_connection_and_its_end() -> TestResult {
    use sockspec::peers::echo::EchoEvent;
    use std::sync::mpsc;

    let (tx, events) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = EchoServer::bind(any_local_addr(), EchoConfig::default())?
        .on_event(move |event| {
            let said = match event {
                EchoEvent::Connected { .. } => "connected".to_string(),
                EchoEvent::Closed { lines, .. } => format!("closed after {lines}"),
                other => format!("{other:?}"),
            };
            let _ = tx.lock().unwrap().send(said);
        })
        .spawn()?;
    let mut client = connect(server.local_addr());
    assert_echoed(&mut client, "one\n");
    drop(client);
    assert_eq!(events.recv_timeout(WAIT)?, "connected");
    assert_eq!(events.recv_timeout(WAIT)?, "closed after 1");
    Ok(())
}
