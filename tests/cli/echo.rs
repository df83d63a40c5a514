//! `sockspec serve echo` and `sockspec echo`, end to end.

use crate::util::{run, Proc, TestResult};

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
fn sequential_server_serves_clients_one_after_another() {
    let (_server, addr) = Proc::serve(&["serve", "echo", "--mode", "sequential"]);
    let port = addr.port().to_string();
    for n in 0..3 {
        let run = run(
            &["echo", "127.0.0.1", &port],
            format!("client {n}\n").as_bytes(),
        );
        run.assert_success();
        assert_eq!(
            run.stdout(),
            format!("ECHO：client {n}\n"),
            "{}",
            run.describe()
        );
    }
}
