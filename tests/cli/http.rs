//! `sockspec serve http DIR`, end to end: it announces its address, serves the directory, and refuses a directory that is not one.

use std::time::Duration;

use sockspec::exit;
use sockspec::peers::http::client;
use sockspec::wire::Deadline;

use crate::util::{run, Proc, TestResult};

#[test]
fn serves_the_directory_and_refuses_what_lies_outside() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("index.html"), "<p>你好</p>")?;
    let (server, addr) = Proc::serve(&["serve", "http", dir.path().to_str().unwrap()]);
    let deadline = || Deadline::after(Duration::from_secs(20));
    let page = client::get(addr, "/", deadline()).map_err(|e| e.to_string())?;
    assert_eq!(
        (page.status, page.body.as_slice()),
        (200, "<p>你好</p>".as_bytes())
    );
    let outside = client::get(addr, "/../etc/passwd", deadline()).map_err(|e| e.to_string())?;
    assert_eq!(outside.status, 403);
    drop(server);
    Ok(())
}

#[test]
fn a_missing_directory_is_a_file_error_and_a_file_a_usage_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("no-such-www");
    let missing = missing.to_str().unwrap();
    run(&["serve", "http", missing], b"").assert_error(exit::FILE, &["cannot read", missing]);
    let file = dir.path().join("index.html");
    std::fs::write(&file, "x")?;
    run(&["serve", "http", file.to_str().unwrap()], b"")
        .assert_error(exit::USAGE, &["is not a directory"]);
    Ok(())
}
