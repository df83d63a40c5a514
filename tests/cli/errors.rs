//! Bad input gets one line on stderr and its own exit code, fast, and never a panic or a hang.

use std::net::{TcpListener, UdpSocket};

use rstest::rstest;
use sockspec::exit;

use crate::util::{closed_port, run, TestResult};

#[rstest]
#[case::echo(&["serve", "echo"])]
#[case::chat(&["serve", "chat"])]
#[case::file(&["serve", "file", "OUT"])]
fn a_tcp_port_in_use_is_named(#[case] command: &[&str]) -> TestResult {
    let holder = TcpListener::bind("127.0.0.1:0")?;
    let port = holder.local_addr()?.port().to_string();
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out.bin");
    let mut args: Vec<&str> = command
        .iter()
        .map(|&a| {
            if a == "OUT" {
                out.to_str().expect("UTF-8")
            } else {
                a
            }
        })
        .collect();
    args.extend(["--port", &port]);
    run(&args, b"").assert_error(exit::ADDR_IN_USE, &[&port, "already in use"]);
    Ok(())
}

#[test]
fn a_udp_port_in_use_is_named() -> TestResult {
    let holder = UdpSocket::bind("127.0.0.1:0")?;
    let port = holder.local_addr()?.port().to_string();
    run(&["serve", "udp", "--port", &port], b"")
        .assert_error(exit::ADDR_IN_USE, &[&port, "already in use"]);
    Ok(())
}

#[rstest]
#[case::echo("echo")]
#[case::chat("chat")]
#[case::send_file("send-file")]
#[case::send_udp("send-udp")]
fn nobody_listening_is_said_plainly(#[case] command: &str) -> TestResult {
    let (_holder, port) = closed_port();
    // For UDP: held, yet nobody takes our datagrams (a connected socket accepts only its peer's).
    let udp_holder = std::net::UdpSocket::bind(("127.0.0.1", port))?;
    udp_holder.connect("127.0.0.1:9")?;
    let port = port.to_string();
    let file = tempfile::NamedTempFile::new()?;
    let mut args = vec![command, "127.0.0.1", &port];
    if command == "send-file" {
        args.push(file.path().to_str().expect("UTF-8"));
    }
    run(&args, b"hello\n").assert_error(exit::CONNECT, &["nobody is listening", &port]);
    Ok(())
}

#[test]
fn a_missing_file_to_send_is_a_file_error() -> TestResult {
    let (_holder, port) = closed_port();
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("absent.bin");
    let missing = missing.to_str().expect("UTF-8");
    run(&["send-file", "127.0.0.1", &port.to_string(), missing], b"")
        .assert_error(exit::FILE, &["cannot read", missing]);
    Ok(())
}

#[test]
fn an_output_in_a_missing_directory_is_a_file_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("no such dir").join("out.bin");
    let out = out.to_str().expect("UTF-8");
    run(&["serve", "file", out], b"").assert_error(exit::FILE, &["cannot write", out]);
    assert_eq!(std::fs::read_dir(dir.path())?.count(), 0, "nothing created");
    Ok(())
}

#[rstest]
#[case::echo_client(&["echo", "127.0.0.1", "70000"])]
#[case::chat_client(&["chat", "127.0.0.1", "70000"])]
#[case::send_file(&["send-file", "127.0.0.1", "70000", "x"])]
#[case::send_udp(&["send-udp", "127.0.0.1", "70000"])]
#[case::serve_echo(&["serve", "echo", "--port", "70000"])]
#[case::serve_udp(&["serve", "udp", "--port", "70000"])]
fn an_invalid_port_is_a_usage_error(#[case] args: &[&str]) {
    run(args, b"").assert_error(exit::USAGE, &["70000"]);
}

#[rstest]
#[case::echo_client(&["echo", "bad host!", "7"])]
#[case::chat_client(&["chat", "bad host!", "7"])]
#[case::send_udp(&["send-udp", "bad host!", "7"])]
#[case::serve_echo(&["serve", "echo", "--host", "bad host!"])]
#[case::serve_udp(&["serve", "udp", "--host", "bad host!"])]
fn an_invalid_host_is_a_usage_error(#[case] args: &[&str]) {
    run(args, b"hello\n").assert_error(exit::USAGE, &["cannot resolve host", "bad host!"]);
}

#[test]
fn a_line_too_long_for_one_datagram_is_refused() -> TestResult {
    let receiver = UdpSocket::bind("127.0.0.1:0")?;
    let port = receiver.local_addr()?.port().to_string();
    let line = format!("{}\n", "x".repeat(sockspec::wire::MAX_UDP_PAYLOAD + 1));
    run(&["send-udp", "127.0.0.1", &port], line.as_bytes())
        .assert_error(exit::USAGE, &["65508 bytes", "65507"]);
    Ok(())
}

#[rstest]
#[case::unknown_subcommand(&["serve", "ftp"])]
#[case::missing_argument(&["send-file", "127.0.0.1", "80"])]
#[case::unknown_mode(&["serve", "echo", "--mode", "parallel"])]
#[case::bad_count(&["serve", "udp", "--count", "-1"])]
fn other_usage_errors_fit_on_one_line(#[case] args: &[&str]) {
    run(args, b"").assert_error(exit::USAGE, &["see --help"]);
}

#[test]
fn every_kind_of_failure_has_its_own_exit_code() {
    let codes = [
        exit::OK,
        exit::FAILED,
        exit::USAGE,
        exit::ADDR_IN_USE,
        exit::FILE,
        exit::CONNECT,
        exit::NOT_RESOLVED,
    ];
    let mut distinct = codes.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), codes.len(), "{codes:?}");
    let help = run(&["--help"], b"");
    help.assert_success();
    for code in codes {
        assert!(
            help.stdout().contains(&format!("\n  {code}  ")),
            "--help does not explain exit code {code}\n{}",
            help.describe()
        );
    }
}

#[test]
fn a_fifo_to_send_is_refused_at_once() -> TestResult {
    let (_holder, port) = closed_port();
    let dir = tempfile::tempdir()?;
    let fifo = dir.path().join("pipe");
    let c_path = std::ffi::CString::new(fifo.to_str().expect("UTF-8"))?;
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    let fifo = fifo.to_str().expect("UTF-8");
    // Nobody ever writes to the FIFO: opening it for reading would block until the run's timeout.
    run(&["send-file", "127.0.0.1", &port.to_string(), fifo], b"")
        .assert_error(exit::FILE, &["cannot read", fifo, "not a regular file"]);
    Ok(())
}

#[rstest]
#[case::echo_client(&["echo", "999.1.1.1", "7"])]
#[case::chat_client(&["chat", "999.1.1.1", "7"])]
#[case::send_file(&["send-file", "999.1.1.1", "7", "x"])]
#[case::send_udp(&["send-udp", "999.1.1.1", "7"])]
#[case::serve_echo(&["serve", "echo", "--host", "999.1.1.1"])]
fn a_numeric_host_that_is_no_ipv4_address_is_a_usage_error(#[case] args: &[&str]) {
    run(args, b"hello\n").assert_error(exit::USAGE, &["999.1.1.1", "not a valid IPv4 address"]);
}

#[rstest]
#[case::echo_client(&["echo", "127.0.0.1", "0"])]
#[case::chat_client(&["chat", "127.0.0.1", "0"])]
#[case::send_file(&["send-file", "127.0.0.1", "0", "x"])]
#[case::send_udp(&["send-udp", "127.0.0.1", "0"])]
fn port_0_for_a_client_is_a_usage_error(#[case] args: &[&str]) {
    run(args, b"hello\n").assert_error(exit::USAGE, &["port 0 is not a port you can connect to"]);
}
