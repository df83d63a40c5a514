//! `sockspec serve file` and `sockspec send-file`, end to end, checked by sha256.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;

use rstest::rstest;
use sockspec::wire::{self, Deadline};

use crate::util::{assert_one_line_error, run, Proc, TestResult, WAIT};

/// Several socket buffers' worth, so the transfer takes many reads.
const FILE_SIZE: usize = 3 * 1024 * 1024 + 7;

#[test]
fn a_file_sent_arrives_byte_identical() -> TestResult {
    let src_dir = tempfile::tempdir()?;
    let src = src_dir.path().join("photo.jpg");
    let bytes: Vec<u8> = (0..FILE_SIZE)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&src, &bytes)?;
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("received.jpg");
    let out_arg = out.to_str().expect("a UTF-8 temp path");

    let (mut server, addr) = Proc::serve(&["serve", "file", out_arg]);
    let run = run(
        &[
            "send-file",
            "127.0.0.1",
            &addr.port().to_string(),
            src.to_str().expect("UTF-8"),
        ],
        b"",
    );
    run.assert_success();
    assert_eq!(
        run.stdout(),
        format!("sent {FILE_SIZE} bytes\n"),
        "{}",
        run.describe()
    );

    server.assert_exits_ok();
    let said = server.rest();
    assert_eq!(said.len(), 1, "{}", server.describe());
    assert!(
        said[0].starts_with(&format!("received {FILE_SIZE} bytes from 127.0.0.1:"))
            && said[0].ends_with(&format!(" into {out_arg}")),
        "{}",
        server.describe()
    );
    assert_eq!(wire::sha256_hex(&fs::read(&out)?), wire::sha256_hex(&bytes));
    let left: Vec<_> = fs::read_dir(out_dir.path())?.collect::<Result<_, _>>()?;
    assert_eq!(left.len(), 1, "only the output is left: {left:?}");
    Ok(())
}

#[test]
fn a_broken_transfer_fails_and_leaves_no_file() -> TestResult {
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("never.bin");
    let (mut server, addr) = Proc::serve(&["serve", "file", out.to_str().expect("UTF-8")]);

    let mut sender = std::net::TcpStream::connect(addr)?;
    let partial = vec![0xa5u8; 50_000];
    std::io::Write::write_all(&mut sender, &partial)?;
    wire::reset(sender)?;

    let status = server.wait_exit();
    assert_eq!(
        status.code(),
        Some(sockspec::exit::FAILED.into()),
        "{}",
        server.describe()
    );
    assert_one_line_error(&server.stderr(), &["broke after"], &server.describe());
    assert_eq!(
        fs::read_dir(out_dir.path())?.count(),
        0,
        "nothing left behind"
    );
    Ok(())
}

/// A source far larger than what the socket buffers hold, so the transfer is still running when the
/// sender is killed. Sparse: it costs no disk space.
const HUGE_SIZE: u64 = 2 << 30;

/// How often the output directory is looked at while waiting for the receiver to write.
const POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Waits, within [`WAIT`], until the receiver's temporary `.part` file in `dir` holds some bytes.
#[track_caller]
fn wait_for_partial_file(dir: &std::path::Path, receiver: &Proc) {
    let deadline = Deadline::after(WAIT);
    while !deadline.passed() {
        let grown = fs::read_dir(dir)
            .expect("read the output directory")
            .filter_map(Result::ok)
            .any(|e| {
                e.file_name().to_string_lossy().ends_with(".part")
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            });
        if grown {
            return;
        }
        std::thread::sleep(POLL);
    }
    panic!(
        "no partial file grew within {WAIT:?}\n{}",
        receiver.describe()
    );
}

/// Names left in `dir`.
fn left_in(dir: &std::path::Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("read the output directory")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_sender_killed_mid_transfer_leaves_no_file() -> TestResult {
    let src_dir = tempfile::tempdir()?;
    let src = src_dir.path().join("huge.bin");
    fs::File::create(&src)?.set_len(HUGE_SIZE)?;
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("out.bin");

    let (mut receiver, addr) = Proc::serve(&["serve", "file", out.to_str().expect("UTF-8")]);
    let mut sender = Proc::spawn(&[
        "send-file",
        "127.0.0.1",
        &addr.port().to_string(),
        src.to_str().expect("UTF-8"),
    ]);
    wait_for_partial_file(out_dir.path(), &receiver);
    // A stopped receiver cannot drain the socket, so the transfer cannot end before the kill lands.
    receiver.signal_group(libc::SIGSTOP);
    sender.signal_group(libc::SIGKILL);
    let killed = sender.wait_exit();
    receiver.signal_group(libc::SIGCONT);
    assert_eq!(
        killed.signal(),
        Some(libc::SIGKILL),
        "{}",
        sender.describe()
    );

    let status = receiver.wait_exit();
    assert_eq!(
        status.code(),
        Some(sockspec::exit::FAILED.into()),
        "{}",
        receiver.describe()
    );
    assert_one_line_error(&receiver.stderr(), &["broke after"], &receiver.describe());
    assert!(!out.exists(), "{}", receiver.describe());
    assert_eq!(
        left_in(out_dir.path()),
        Vec::<String>::new(),
        "nothing left behind"
    );
    Ok(())
}

#[rstest]
#[case::int(libc::SIGINT)]
#[case::term(libc::SIGTERM)]
#[case::hup(libc::SIGHUP)]
fn an_interrupted_receiver_leaves_no_file(#[case] signal: i32) -> TestResult {
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("out.bin");
    let (mut receiver, _addr) = Proc::serve(&["serve", "file", out.to_str().expect("UTF-8")]);
    // The temporary file exists from the start: the test would pass vacuously otherwise.
    let before = left_in(out_dir.path());
    assert!(
        before.len() == 1 && before[0].ends_with(".part"),
        "{before:?}\n{}",
        receiver.describe()
    );

    receiver.signal_group(signal);
    let status = receiver.wait_exit();
    assert_eq!(status.code(), Some(128 + signal), "{}", receiver.describe());
    assert_one_line_error(
        &receiver.stderr(),
        &["interrupted; nothing written to", "out.bin"],
        &receiver.describe(),
    );
    assert_eq!(
        left_in(out_dir.path()),
        Vec::<String>::new(),
        "nothing left behind"
    );
    Ok(())
}

#[test]
fn an_existing_output_is_refused_without_force() -> TestResult {
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("keep.txt");
    fs::write(&out, b"precious")?;
    let out_arg = out.to_str().expect("UTF-8");
    run(&["serve", "file", out_arg], b"").assert_error(
        sockspec::exit::FILE,
        &[out_arg, "already exists", "--force"],
    );
    assert_eq!(fs::read(&out)?, b"precious");
    assert_eq!(
        left_in(out_dir.path()),
        ["keep.txt"],
        "no temporary file left"
    );
    Ok(())
}

#[test]
fn force_replaces_an_existing_output_once_the_file_arrived() -> TestResult {
    let src_dir = tempfile::tempdir()?;
    let src = src_dir.path().join("new.txt");
    fs::write(&src, b"the new content")?;
    let out_dir = tempfile::tempdir()?;
    let out = out_dir.path().join("old.txt");
    fs::write(&out, b"old")?;
    fs::set_permissions(&out, std::fs::Permissions::from_mode(0o444))?;

    let (mut server, addr) =
        Proc::serve(&["serve", "file", "--force", out.to_str().expect("UTF-8")]);
    // Until the transfer ends, the old file stays as it was.
    assert_eq!(fs::read(&out)?, b"old");
    run(
        &[
            "send-file",
            "127.0.0.1",
            &addr.port().to_string(),
            src.to_str().expect("UTF-8"),
        ],
        b"",
    )
    .assert_success();
    server.assert_exits_ok();
    assert_eq!(fs::read(&out)?, b"the new content");
    assert_eq!(
        left_in(out_dir.path()),
        ["old.txt"],
        "no temporary file left"
    );
    Ok(())
}
