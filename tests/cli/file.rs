//! `sockspec serve file` and `sockspec send-file`, end to end, checked by sha256.

use std::fs;

use sockspec::wire;

use crate::util::{assert_one_line_error, run, Proc, TestResult};

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
