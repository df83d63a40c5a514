//! `sockspec serve udp` and `sockspec send-udp`, end to end.

use sockspec::peers::udp::UdpSender;

use crate::util::{run, Proc, TestResult};

#[test]
fn lines_sent_are_printed_with_the_senders_address() {
    let (mut server, addr) = Proc::serve(&["serve", "udp", "--count", "2"]);
    let run = run(
        &["send-udp", "127.0.0.1", &addr.port().to_string()],
        "你好，UDP\nsecond\n\nnot sent\n".as_bytes(),
    );
    run.assert_success();
    assert_eq!(run.stdout(), "", "{}", run.describe());

    let first = server.expect_line();
    let second = server.expect_line();
    server.assert_exits_ok();
    let (from, text) = first.split_once(": ").expect("ADDR: TEXT");
    assert!(from.starts_with("127.0.0.1:"), "{}", server.describe());
    assert_eq!(text, "你好，UDP");
    assert_eq!(second, format!("{from}: second"), "{}", server.describe());
}

#[test]
fn escape_keeps_a_datagram_with_newlines_on_one_line() -> TestResult {
    let (mut server, addr) = Proc::serve(&["serve", "udp", "--count", "1", "--escape"]);
    let sender = UdpSender::new(addr)?;
    sender.send(b"two\nlines\xff")?;
    assert_eq!(
        server.expect_line(),
        format!("{}: two\\nlines\\xff", sender.local_addr())
    );
    server.assert_exits_ok();
    Ok(())
}

#[test]
fn one_line_to_a_port_nobody_listens_on_fails() -> TestResult {
    // The port stays held, yet nobody takes our datagrams: a connected socket accepts only its peer's.
    let holder = std::net::UdpSocket::bind("127.0.0.1:0")?;
    holder.connect("127.0.0.1:9")?;
    let port = holder.local_addr()?.port().to_string();
    run(&["send-udp", "127.0.0.1", &port], b"hello\n")
        .assert_error(sockspec::exit::CONNECT, &["nobody is listening", &port]);
    Ok(())
}

#[test]
fn the_count_of_datagrams_is_said_in_good_english() -> TestResult {
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let port = receiver.local_addr()?.port().to_string();
    let one = run(&["send-udp", "127.0.0.1", &port], b"hello\n");
    one.assert_success();
    assert!(
        one.stderr().starts_with("sent 1 datagram to "),
        "{}",
        one.describe()
    );
    let two = run(&["send-udp", "127.0.0.1", &port], b"a\nb\n");
    two.assert_success();
    assert!(
        two.stderr().starts_with("sent 2 datagrams to "),
        "{}",
        two.describe()
    );
    Ok(())
}
