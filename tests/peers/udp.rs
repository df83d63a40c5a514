//! UDP datagrams arrive whole, in order per sender, with the right sender address; the size limit holds;
//! the receiver's and sender's line formats.
//!
//! Loopback drops a datagram only when the receive buffer overflows, so the senders are paced by a
//! window sized from the buffer the kernel granted. A missing datagram fails the test: nothing is retried.

use std::collections::HashMap;
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rstest::rstest;
use sockspec::peers::udp::{self, Datagram, UdpConfig, UdpReceiver, UdpSender, RECV_BUFFER};
use sockspec::wire::{Deadline, MAX_UDP_PAYLOAD};
use sockspec::Error;

use crate::util::{any_local_addr, Rng, TestResult, SILENCE, WAIT};

#[track_caller]
fn bind_receiver() -> UdpReceiver {
    UdpReceiver::bind(any_local_addr(), UdpConfig::default()).expect("bind the UDP receiver")
}

#[track_caller]
fn sender_to(receiver: &UdpReceiver) -> UdpSender {
    UdpSender::new(receiver.local_addr()).expect("open a UDP sender")
}

/// The next datagram within the deadline, or a failure that says one was lost.
#[track_caller]
fn recv_datagram(receiver: &UdpReceiver, buf: &mut [u8]) -> (Vec<u8>, SocketAddr) {
    match receiver.recv(buf, Deadline::after(WAIT)) {
        Ok(Some((n, from))) => (buf[..n].to_vec(), from),
        Ok(None) => panic!("a datagram was lost: nothing within {WAIT:?}"),
        Err(e) => panic!("receive: {e}"),
    }
}

#[track_caller]
fn assert_nothing_more(receiver: &UdpReceiver, buf: &mut [u8]) {
    let extra = receiver
        .recv(buf, Deadline::after(SILENCE))
        .expect("receive");
    assert!(extra.is_none(), "an unexpected datagram: {extra:?}");
}

/// Deterministic payload of `len` bytes for datagram `seq` of sender `sender`.
fn payload(sender: usize, seq: usize, len: usize) -> Vec<u8> {
    let mut rng = Rng::seeded((sender as u64) << 32 | seq as u64);
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes);
    bytes
}

#[rstest]
#[case::empty(0)]
#[case::one_byte(1)]
#[case::ethernet_payload(1472)]
#[case::one_past_ethernet(1473)]
#[case::jumbo(9000)]
#[case::largest(MAX_UDP_PAYLOAD)]
fn datagrams_of_every_size_arrive_whole(#[case] len: usize) {
    let receiver = bind_receiver();
    let sender = sender_to(&receiver);
    let mut buf = vec![0u8; RECV_BUFFER];
    // Three in a row, received afterwards: the boundaries between them must survive the queue.
    for seq in 0..3 {
        sender.send(&payload(0, seq, len)).expect("send");
    }
    for seq in 0..3 {
        let (got, from) = recv_datagram(&receiver, &mut buf);
        assert_eq!(from, sender.local_addr());
        assert_eq!(got.len(), len, "datagram {seq}");
        assert!(got == payload(0, seq, len), "datagram {seq} differs");
    }
    assert_nothing_more(&receiver, &mut buf);
}

#[test]
fn a_payload_over_the_limit_is_refused_not_split() {
    let receiver = bind_receiver();
    let sender = sender_to(&receiver);
    let err = sender.send(&vec![0u8; MAX_UDP_PAYLOAD + 1]).unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    assert!(err.to_string().contains("65508"), "{err}");
    assert_nothing_more(&receiver, &mut vec![0u8; RECV_BUFFER]);
}

/// A counting semaphore: at most `permits` datagrams in flight between all senders and the receiver.
struct Window {
    free: Mutex<usize>,
    changed: Condvar,
}

impl Window {
    fn new(permits: usize) -> Self {
        Window {
            free: Mutex::new(permits),
            changed: Condvar::new(),
        }
    }

    /// Takes a permit, waiting for the receiver to free one; false when the deadline passed first.
    fn acquire(&self, deadline: Deadline) -> bool {
        let mut free = self.free.lock().unwrap();
        while *free == 0 {
            let Some(left) = deadline.remaining() else {
                return false;
            };
            free = self.changed.wait_timeout(free, left).unwrap().0;
        }
        *free -= 1;
        true
    }

    fn release(&self) {
        *self.free.lock().unwrap() += 1;
        self.changed.notify_one();
    }
}

/// Senders sending at once.
const SENDERS: usize = 4;
/// Rounds of the size list each sender sends.
const ROUNDS: usize = 4;
/// Each round sends these sizes, the edges first, then a few random ones.
const EDGE_SIZES: [usize; 5] = [0, 1, 1472, 1473, MAX_UDP_PAYLOAD];
const RANDOM_SIZES: usize = 3;

#[test]
fn several_senders_datagrams_arrive_whole_in_order_from_the_right_address() -> TestResult {
    let receiver = bind_receiver();
    let mut rng = Rng::from_env("several_senders");
    let sizes: Vec<usize> = (0..ROUNDS)
        .flat_map(|_| EDGE_SIZES)
        .chain((0..ROUNDS * RANDOM_SIZES).map(|_| rng.up_to(MAX_UDP_PAYLOAD as u64) as usize))
        .collect();

    // Room for a quarter of the granted buffer, counting each datagram at twice its size for the
    // kernel's bookkeeping: far from overflowing, whatever the size mix.
    let granted = receiver.recv_buffer_size()?;
    let window = Arc::new(Window::new((granted / 4 / (2 * RECV_BUFFER)).max(1)));

    let senders: Vec<UdpSender> = (0..SENDERS).map(|_| sender_to(&receiver)).collect();
    let ids: HashMap<SocketAddr, usize> = senders
        .iter()
        .enumerate()
        .map(|(id, s)| (s.local_addr(), id))
        .collect();
    let sending: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(id, sender)| {
            let (window, sizes) = (window.clone(), sizes.clone());
            std::thread::spawn(move || -> Result<(), String> {
                for (seq, &len) in sizes.iter().enumerate() {
                    if !window.acquire(Deadline::after(WAIT)) {
                        return Err(format!(
                            "sender {id}: the receiver stopped taking datagrams"
                        ));
                    }
                    sender
                        .send(&payload(id, seq, len))
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();

    let mut next = vec![0usize; SENDERS];
    let mut buf = vec![0u8; RECV_BUFFER];
    for _ in 0..SENDERS * sizes.len() {
        let got = receiver.recv(&mut buf, Deadline::after(WAIT))?;
        let Some((n, from)) = got else {
            panic!(
                "a datagram was lost: per sender, received {next:?} of {}",
                sizes.len()
            );
        };
        window.release();
        let id = *ids
            .get(&from)
            .unwrap_or_else(|| panic!("a datagram from a stranger, {from}"));
        let seq = next[id];
        assert!(seq < sizes.len(), "sender {id} sent more than it did");
        assert_eq!(n, sizes[seq], "sender {id} datagram {seq}: size");
        assert!(
            buf[..n] == payload(id, seq, n),
            "sender {id} datagram {seq}: content or order"
        );
        next[id] += 1;
    }
    for s in sending {
        s.join().expect("sender thread")?;
    }
    assert_nothing_more(&receiver, &mut buf);
    Ok(())
}

#[test]
fn receiver_prints_one_line_per_datagram_with_its_sender() -> TestResult {
    let receiver = UdpReceiver::bind(any_local_addr(), UdpConfig::default().count(3))?;
    let sender = sender_to(&receiver);
    // Sent before the receiver runs: they wait in its queue, so the run below cannot block for ever.
    for payload in ["你好，世界".as_bytes(), b"two\nlines", b"\xff\x00bin"] {
        sender.send(payload)?;
    }
    let mut got: Vec<Datagram> = Vec::new();
    let count = receiver.run(|datagram| {
        got.push(datagram.clone());
        Ok(())
    })?;
    assert_eq!(count, 3);
    let from = sender.local_addr();
    assert!(got.iter().all(|d| d.from == from), "{got:?}");

    let mut raw = Vec::new();
    got[0].write_line(&mut raw, false)?;
    assert_eq!(raw, format!("{from}: 你好，世界\n").as_bytes());
    let mut escaped = Vec::new();
    for datagram in &got[1..] {
        datagram.write_line(&mut escaped, true)?;
    }
    assert_eq!(
        String::from_utf8(escaped)?,
        format!("{from}: two\\nlines\n{from}: \\xff\\0bin\n")
    );
    Ok(())
}

#[test]
fn sender_sends_one_datagram_per_line_until_an_empty_line() -> TestResult {
    let receiver = bind_receiver();
    let sent = udp::run_sender(
        receiver.local_addr(),
        Cursor::new("第一行\r\nsecond\n\nnot sent\n"),
    )?;
    assert_eq!(sent, 2);
    let mut buf = vec![0u8; RECV_BUFFER];
    let (first, from) = recv_datagram(&receiver, &mut buf);
    assert_eq!(first, "第一行".as_bytes());
    let (second, from_again) = recv_datagram(&receiver, &mut buf);
    assert_eq!(second, b"second");
    assert_eq!(from, from_again, "one socket for the whole run");
    assert_nothing_more(&receiver, &mut buf);
    Ok(())
}

#[test]
fn sender_refuses_a_line_too_long_for_one_datagram() {
    let receiver = bind_receiver();
    let line = format!("{}\n", "x".repeat(MAX_UDP_PAYLOAD + 1));
    let err = udp::run_sender(receiver.local_addr(), Cursor::new(line)).unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    assert_eq!(err.exit_code(), sockspec::exit::USAGE);
}

#[test]
fn recv_returns_none_once_the_deadline_passes() -> TestResult {
    let receiver = bind_receiver();
    let got = receiver.recv(&mut [0u8; 16], Deadline::after(Duration::from_millis(50)))?;
    assert!(got.is_none());
    Ok(())
}

#[test]
fn sending_to_a_port_nobody_listens_on_is_refused() -> TestResult {
    // The port stays held, yet nobody takes our datagrams: a connected socket accepts only its peer's.
    let holder = std::net::UdpSocket::bind(any_local_addr())?;
    holder.connect(any_local_addr().ip().to_string() + ":9")?;
    let addr = holder.local_addr()?;
    let err = udp::run_sender(addr, Cursor::new("only one line\n")).unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    assert_eq!(err.exit_code(), sockspec::exit::CONNECT);
    Ok(())
}

#[test]
fn the_receiver_asks_for_a_larger_buffer_than_a_default_socket_has() -> TestResult {
    let receiver = bind_receiver();
    let plain = std::net::UdpSocket::bind(any_local_addr())?;
    let default = sockspec::wire::udp_recv_buffer(&plain)?;
    let granted = receiver.recv_buffer_size()?;
    assert!(
        granted > default,
        "receive buffer {granted} bytes, a default socket's is {default}"
    );
    Ok(())
}
