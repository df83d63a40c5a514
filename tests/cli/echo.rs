//! `sockspec serve echo` and `sockspec echo`, end to end.

use sockspec::peers::echo::DEFAULT_PREFIX;
use sockspec::wire;

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::util::{run, Proc, TestResult, SILENCE, WAIT};

#[test]
fn echo_client_prints_each_reply_and_stops_at_an_empty_line() -> TestResult {
    let (_server, addr) = Proc::serve(&["serve", "echo"]);
    let port = addr.port().to_string();
    let run = run(
        &["echo", "127.0.0.1", &port],
        "你好，服务器\nsecond line\n\nnever sent\n".as_bytes(),
    );
    run.assert_success();
    assert_eq!(
        run.stdout(),
        "ECHO：你好，服务器\nECHO：second line\n",
        "{}",
        run.describe()
    );
    assert_eq!(run.stderr(), "", "{}", run.describe());
    Ok(())
}

#[test]
fn single_mode_server_exits_after_its_client() {
    let (mut server, addr) = Proc::serve(&["serve", "echo", "--mode", "single", "--prefix", "> "]);
    let port = addr.port().to_string();
    let run = run(&["echo", "127.0.0.1", &port], b"one\ntwo\n");
    run.assert_success();
    assert_eq!(run.stdout(), "> one\n> two\n", "{}", run.describe());
    server.assert_exits_ok();
    assert!(server.rest().is_empty(), "{}", server.describe());
}

#[test]
fn sequential_server_serves_clients_one_after_another() -> TestResult {
    let (_server, addr) = Proc::serve(&["serve", "echo", "--mode", "sequential"]);
    let port = addr.port().to_string();
    let mut first = TcpStream::connect(addr)?;
    first.set_read_timeout(Some(WAIT))?;
    first.write_all(b"client 1\n")?;
    let mut reply = vec![0u8; "ECHO：client 1\n".len()];
    first.read_exact(&mut reply)?;
    assert_eq!(reply, "ECHO：client 1\n".as_bytes());

    // The first client stays connected: the second waits in the backlog, unanswered.
    let mut second = Proc::spawn(&["echo", "127.0.0.1", &port]);
    second.type_in("client 2\n");
    second.expect_no_line(SILENCE);

    drop(first);
    assert_eq!(second.expect_line(), "ECHO：client 2");
    second.close_stdin();
    second.assert_exits_ok();

    // And a third, after both.
    let third = run(&["echo", "127.0.0.1", &port], b"client 3\n");
    third.assert_success();
    assert_eq!(third.stdout(), "ECHO：client 3\n", "{}", third.describe());
    Ok(())
}

/// Larger than any socket buffer and than the 16 MiB a reply used to be cut at.
const LONG_LINE: usize = 20 << 20;

#[test]
fn a_line_longer_than_the_socket_buffers_is_echoed_whole_and_the_next_one_too() {
    let (_server, addr) = Proc::serve(&["serve", "echo"]);
    let line: Vec<u8> = b"0123456789abcdef\xe4\xbd\xa0"
        .iter()
        .copied()
        .cycle()
        .take(LONG_LINE)
        .collect();
    let mut input = line.clone();
    input.extend_from_slice(b"\nsecond\n");
    let mut want = Vec::new();
    for reply in [&line[..], b"second"] {
        want.extend_from_slice(DEFAULT_PREFIX.as_bytes());
        want.extend_from_slice(reply);
        want.push(b'\n');
    }

    let run = run(&["echo", "127.0.0.1", &addr.port().to_string()], &input);
    run.assert_success();
    let got = &run.output.stdout;
    assert_eq!(got.len(), want.len(), "stderr: {}", run.stderr());
    assert_eq!(wire::sha256_hex(got), wire::sha256_hex(&want));
    assert!(got.ends_with("ECHO：second\n".as_bytes()));
}

#[test]
fn a_carriage_return_in_the_reply_is_kept() {
    let (_server, addr) = Proc::serve(&["serve", "echo"]);
    let run = run(
        &["echo", "127.0.0.1", &addr.port().to_string()],
        b"crlf\r\nplain\n",
    );
    run.assert_success();
    assert_eq!(
        run.stdout(),
        "ECHO：crlf\r\nECHO：plain\n",
        "{}",
        run.describe()
    );
}
