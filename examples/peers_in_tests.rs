//! Testing your own socket code against sockspec's reference peers, as another project's `tests/` would.
//!
//! The code under test is `relay`: it sends a line to an ECHO server and forwards the reply, in one
//! datagram, to a UDP monitor. The tests start a real echo server and a real UDP receiver from the
//! library on 127.0.0.1 port 0, run `relay` against their addresses, and assert on what it returned and on
//! what the peers saw. Every wait has a deadline, so a broken `relay` fails instead of hanging.
//!
//!     cargo test --example peers_in_tests     # as tests
//!     cargo run --example peers_in_tests      # the same checks, as a program

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use sockspec::peers::echo::{EchoConfig, EchoServer, Mode};
use sockspec::peers::udp::{UdpConfig, UdpReceiver};

/// The longest any step may take; only a failing test waits this long.
const WAIT: Duration = Duration::from_secs(10);

/// The code under test: asks the echo server at `echo` to echo `line`, sends the reply to `monitor` as
/// one datagram, and returns it.
fn relay(echo: SocketAddr, monitor: SocketAddr, line: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(echo)?;
    stream.set_read_timeout(Some(WAIT))?;
    writeln!(stream, "{line}")?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply)?;
    let reply = reply.trim_end_matches('\n').to_string();
    UdpSocket::bind("127.0.0.1:0")?.send_to(reply.as_bytes(), monitor)?;
    Ok(reply)
}

#[cfg_attr(test, test)]
fn relay_forwards_the_echo_to_the_monitor() -> Result<(), Box<dyn Error>> {
    let any_port = "127.0.0.1:0".parse()?;
    let echo = EchoServer::bind(any_port, EchoConfig::default())?.spawn()?;
    let monitor = UdpReceiver::bind(any_port, UdpConfig::default().count(1))?.spawn()?;

    let reply = relay(echo.local_addr(), monitor.local_addr(), "你好")?;

    assert_eq!(reply, "ECHO：你好");
    // The receiver stops by itself after its one datagram; `wait` returns what it got.
    let datagrams = monitor.wait(WAIT)?;
    assert_eq!(datagrams[0].payload, "ECHO：你好".as_bytes());
    // `stop` ends the server and returns its counts.
    let served = echo.stop()?;
    assert_eq!((served.clients, served.lines), (1, 1));
    Ok(())
}

#[cfg_attr(test, test)]
fn relay_keeps_another_prefix_and_closes_its_connection() -> Result<(), Box<dyn Error>> {
    let any_port: SocketAddr = "127.0.0.1:0".parse()?;
    // A `single` server serves one client and ends when that client closes.
    let config = EchoConfig::default().mode(Mode::Single).prefix("回声：");
    let echo = EchoServer::bind(any_port, config)?.spawn()?;
    let monitor = UdpReceiver::bind(any_port, UdpConfig::default())?.spawn()?;

    let reply = relay(echo.local_addr(), monitor.local_addr(), "hello")?;

    assert_eq!(reply, "回声：hello");
    // Had `relay` kept its connection open, this would fail after WAIT instead of hanging.
    assert_eq!(echo.wait(WAIT)?.lines, 1);
    // Without a count the receiver runs until stopped; datagrams already queued are still returned.
    let datagrams = monitor.stop()?;
    assert_eq!(datagrams.len(), 1);
    assert_eq!(datagrams[0].payload, "回声：hello".as_bytes());
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    relay_forwards_the_echo_to_the_monitor()?;
    relay_keeps_another_prefix_and_closes_its_connection()?;
    println!("peers_in_tests: 2 checks passed");
    Ok(())
}
