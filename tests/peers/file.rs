//! The file peers move every byte unchanged, and a broken transfer leaves nothing behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rstest::rstest;
use sockspec::peers::file::{send_file, Existing, FileHandle, FileReceiver, ReceiverConfig};
use sockspec::{exit, wire, Error};

use crate::util::{any_local_addr, connect, Rng, TestResult, WAIT};

/// The largest random size tried: 16 MiB, several times the socket buffers.
const MAX_RANDOM_SIZE: u64 = 16 << 20;

/// What the file to send holds.
#[derive(Debug, Clone, Copy)]
enum Content {
    /// Random bytes, this many.
    Random(usize),
    /// Random bytes, a random number of them up to [`MAX_RANDOM_SIZE`].
    RandomSize,
    /// Every byte value 0 to 255, four times over.
    AllByteValues,
    /// Text line endings that a text-mode copy would mangle.
    CrLfRuns,
    /// NUL bytes, which C strings would cut at.
    NulRuns,
}

impl Content {
    fn bytes(self, rng: &mut Rng) -> Vec<u8> {
        match self {
            Content::Random(len) => random(rng, len),
            Content::RandomSize => {
                let len = rng.up_to(MAX_RANDOM_SIZE) as usize;
                random(rng, len)
            }
            Content::AllByteValues => (0..4).flat_map(|_| 0..=255u8).collect(),
            Content::CrLfRuns => b"\r\n\r\r\n\n\r".repeat(10_000),
            Content::NulRuns => [&[0u8; 5000][..], b"x", &[0u8; 70_000]].concat(),
        }
    }
}

fn random(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes);
    bytes
}

/// Names in `dir`, sorted: what a transfer left there.
#[track_caller]
fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read the output directory")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Starts a receiver into `out` on a thread of its own; bounded: if the sender never comes, the test
/// fails instead of hanging.
#[track_caller]
fn start_receiver(out: &Path) -> FileHandle {
    FileReceiver::bind(any_local_addr(), ReceiverConfig::new(out).wait(WAIT))
        .and_then(FileReceiver::spawn)
        .expect("start the file receiver")
}

#[rstest]
#[case::empty(Content::Random(0))]
#[case::one_byte(Content::Random(1))]
#[case::just_under_1k(Content::Random(1023))]
#[case::exactly_1k(Content::Random(1024))]
#[case::just_over_1k(Content::Random(1025))]
#[case::sixty_four_kib(Content::Random(64 * 1024))]
#[case::random_size_up_to_16_mib(Content::RandomSize)]
#[case::all_byte_values(Content::AllByteValues)]
#[case::crlf_runs(Content::CrLfRuns)]
#[case::nul_runs(Content::NulRuns)]
fn received_file_is_byte_identical(#[case] content: Content) -> TestResult {
    let mut rng = Rng::from_env(&format!("received_file_is_byte_identical {content:?}"));
    let bytes = content.bytes(&mut rng);
    let src_dir = tempfile::tempdir()?;
    let src = src_dir.path().join("sent.bin");
    fs::write(&src, &bytes)?;
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("received.bin");

    let receiver = start_receiver(&out);
    let sent = send_file(receiver.local_addr(), &src)?;
    let got = receiver.wait(WAIT)?;

    assert_eq!(sent, bytes.len() as u64);
    assert_eq!(got.bytes, sent);
    assert_eq!(got.path, out);
    assert_eq!(
        got.sha256,
        Some(wire::sha256_hex(&bytes)),
        "the receiver's sha256"
    );
    let (digest, len) = wire::sha256_reader(fs::File::open(&out)?)?;
    assert_eq!(len, sent);
    assert_eq!(
        digest,
        wire::sha256_hex(&bytes),
        "sha256 of the received file"
    );
    assert_eq!(
        list_dir(out_dir.path()),
        ["received.bin"],
        "only the output is left"
    );
    Ok(())
}

#[test]
fn a_sender_reset_mid_transfer_leaves_no_file() -> TestResult {
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("never.bin");
    let receiver = start_receiver(&out);
    let mut sender = connect(receiver.local_addr());
    let client = sender.local_addr()?;
    let partial = vec![0x5a; 100_000];
    sender.write_all(&partial)?;
    wire::reset(sender)?;

    match receiver.wait(WAIT) {
        Err(Error::Broken { peer, bytes, .. }) => {
            assert_eq!(peer, client, "the error names the sender");
            assert!(bytes <= partial.len() as u64, "{bytes} bytes reported");
        }
        other => panic!("want a broken transfer, got {other:?}"),
    }
    assert!(
        list_dir(out_dir.path()).is_empty(),
        "left behind: {:?}",
        list_dir(out_dir.path())
    );
    Ok(())
}

#[test]
fn an_output_in_a_missing_directory_fails_before_listening() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out: PathBuf = dir.path().join("missing").join("out.bin");
    match FileReceiver::bind(any_local_addr(), ReceiverConfig::new(&out)) {
        Err(err @ Error::WriteFile { .. }) => assert_eq!(err.exit_code(), exit::FILE),
        Err(other) => panic!("want a write error, got {other:?}"),
        Ok(_) => panic!("bound although {} cannot be written", out.display()),
    }
    Ok(())
}

#[test]
fn an_output_that_is_a_directory_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let err = FileReceiver::bind(any_local_addr(), ReceiverConfig::new(dir.path()))
        .err()
        .expect("an error");
    assert!(matches!(err, Error::WriteFile { .. }), "{err:?}");
    assert!(list_dir(dir.path()).is_empty());
    Ok(())
}

#[test]
fn a_missing_file_is_reported_before_connecting() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Nobody listens at this address: the file error must come first.
    let holder = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    holder.bind(&any_local_addr().into())?;
    let addr = holder.local_addr()?.as_socket().expect("an IP address");
    let err = send_file(addr, &dir.path().join("absent.bin")).unwrap_err();
    assert!(matches!(err, Error::ReadFile { .. }), "{err:?}");
    assert_eq!(err.exit_code(), exit::FILE);

    let present = dir.path().join("present.bin");
    fs::write(&present, b"data")?;
    let err = send_file(addr, &present).unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    assert_eq!(err.exit_code(), exit::CONNECT);
    Ok(())
}

#[test]
fn an_existing_output_is_refused_unless_replacing_is_asked_for() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("exists.bin");
    fs::write(&out, b"old")?;
    match FileReceiver::bind(any_local_addr(), ReceiverConfig::new(&out)) {
        Err(err @ Error::OutputExists { .. }) => assert_eq!(err.exit_code(), exit::FILE),
        Err(other) => panic!("want OutputExists, got {other:?}"),
        Ok(_) => panic!("bound although {} exists", out.display()),
    }
    assert_eq!(list_dir(dir.path()), ["exists.bin"]);

    let src = dir.path().join("new.bin");
    fs::write(&src, b"new")?;
    let config = ReceiverConfig::new(&out)
        .existing(Existing::Replace)
        .wait(WAIT);
    let receiver = FileReceiver::bind(any_local_addr(), config)?.spawn()?;
    send_file(receiver.local_addr(), &src)?;
    receiver.wait(WAIT)?;
    assert_eq!(fs::read(&out)?, b"new");
    assert_eq!(list_dir(dir.path()), ["exists.bin", "new.bin"]);
    Ok(())
}

#[test]
fn bytes_sent_from_memory_arrive_with_their_digest() -> TestResult {
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("from_memory.bin");
    let bytes = b"\x00\r\n\xff chunk ".repeat(100_000);
    let receiver = start_receiver(&out);
    let sent = sockspec::peers::file::send_bytes(receiver.local_addr(), &bytes)?;
    let got = receiver.wait(WAIT)?;
    assert_eq!((sent, got.bytes), (bytes.len() as u64, bytes.len() as u64));
    assert_eq!(got.sha256, Some(wire::sha256_hex(&bytes)));
    assert!(
        fs::read(&out)? == bytes,
        "the file differs from the bytes sent"
    );
    Ok(())
}

#[test]
fn a_receiver_without_hashing_reports_no_digest() -> TestResult {
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("plain.bin");
    let config = ReceiverConfig::new(&out).wait(WAIT).sha256(false);
    let receiver = FileReceiver::bind(any_local_addr(), config)?.spawn()?;
    sockspec::peers::file::send_bytes(receiver.local_addr(), b"abc")?;
    let got = receiver.wait(WAIT)?;
    assert_eq!((got.bytes, got.sha256), (3, None));
    assert_eq!(fs::read(&out)?, b"abc");
    Ok(())
}
