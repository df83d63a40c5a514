//! Finding the program's server socket without connecting to it, and saying why there is none.

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use sockspec::exit;
use sockspec::grade::launch::{LaunchError, LaunchSpec, NotReady, Program};
use sockspec::grade::procfs::{Proto, State};
use sockspec::wire::{self, Deadline};

use crate::{finish, python, python_spec, write_file, START};

/// A TCP server that answers each connection with the upper-cased bytes it got, on the port given.
const UPPER_SERVER: &str = r#"
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
while True:
    c, _ = s.accept()
    c.sendall(c.recv(100).upper())
    c.close()
"#;

#[track_caller]
fn assert_upper_reply(addr: std::net::SocketAddr) {
    let mut stream = wire::connect(addr, Deadline::after(START)).expect("connect");
    stream.set_read_timeout(Some(START)).unwrap();
    stream.write_all(b"hi\n").unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"HI\n");
}

#[test]
fn tcp_server_given_port_zero_is_found_at_its_kernel_port() {
    let mut run = python(UPPER_SERVER, &["0"]);
    let addr = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let sockets = run.program.sockets();
    assert!(
        sockets
            .iter()
            .any(|s| s.proto == Proto::Tcp && s.local == addr && s.state == State::Listen),
        "{sockets:?}"
    );
    assert_upper_reply(addr);
    finish(&mut run, Duration::from_secs(5));
}

#[test]
fn udp_socket_is_found() {
    let mut run = python(
        r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"got " + data, peer)
"#,
        &["0"],
    );
    let addr = run
        .program
        .wait_listening(Proto::Udp, Deadline::after(START))
        .expect("bound");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(START)).unwrap();
    client.send_to(b"ping", addr).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = client.recv_from(&mut buf).expect("reply");
    assert_eq!((&buf[..n], from), (&b"got ping"[..], addr));
    finish(&mut run, Duration::from_secs(5));
}

#[test]
fn server_listening_on_another_port_than_given_is_found() {
    // The port handed to the program is one this test holds, so the program cannot have it.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let given = held.local_addr().unwrap().port().to_string();
    let mut run = python(&UPPER_SERVER.replace("int(sys.argv[1])", "0"), &[&given]);
    let addr = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    assert_ne!(addr.port().to_string(), given);
    assert_upper_reply(addr);
    finish(&mut run, Duration::from_secs(5));
}

#[test]
fn server_on_every_interface_is_reached_through_loopback() {
    let mut run = python(
        &UPPER_SERVER.replace("\"127.0.0.1\"", "\"0.0.0.0\""),
        &["0"],
    );
    let addr = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_upper_reply(addr);
    finish(&mut run, Duration::from_secs(5));
}

#[test]
fn ipv6_server_on_every_interface_is_reached_at_ipv6_loopback() {
    if TcpListener::bind("[::1]:0").is_err() {
        eprintln!("note: no IPv6 loopback here; skipping the IPv6 readiness case");
        return;
    }
    let source = UPPER_SERVER
        .replace("socket.socket()", "socket.socket(socket.AF_INET6)")
        .replace("\"127.0.0.1\"", "\"::\"");
    let mut run = python(&source, &["0"]);
    let addr = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    assert_eq!(addr.ip().to_string(), "::1");
    assert_upper_reply(addr);
    finish(&mut run, Duration::from_secs(5));
}

#[test]
fn program_that_never_listens_times_out() {
    let mut run = python("import threading\nthreading.Event().wait()\n", &[]);
    let err = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(Duration::from_millis(300)))
        .unwrap_err();
    assert!(matches!(err, NotReady::Timeout { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with("the program did not start listening within 0.3 s"));
    finish(&mut run, Duration::from_secs(5));
}

#[test]
fn crash_before_listening_reports_the_exit_and_keeps_stderr() {
    let mut run = python(
        "import sys\nprint('cannot bind, giving up', file=sys.stderr)\nsys.exit(3)\n",
        &[],
    );
    let err = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .unwrap_err();
    let NotReady::Exited { status } = err else {
        panic!("expected an exit, got {err:?}");
    };
    assert_eq!(status.code(), Some(3));
    assert!(err.to_string().contains("before it listened"), "{err}");
    assert!(run.program.stderr().wait_closed(Deadline::after(START)));
    let stderr = run.program.stderr().snapshot();
    assert_eq!(stderr, b"cannot bind, giving up\n");
    let report = finish(&mut run, Duration::from_secs(5));
    assert!(report.exited_by_itself && !report.needed_sigkill);
}

#[test]
fn uncaught_exception_shows_its_traceback_on_stderr() {
    let mut run = python("raise RuntimeError('boom')\n", &[]);
    let err = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .unwrap_err();
    assert!(matches!(err, NotReady::Exited { status } if status.code() == Some(1)));
    assert!(run
        .program
        .stderr()
        .wait_until(Deadline::after(START), |b| crate::contains(
            b,
            b"RuntimeError: boom"
        )));
    finish(&mut run, Duration::from_secs(5));
}

#[track_caller]
fn launch_error(argv: &[&str], workdir: &std::path::Path) -> LaunchError {
    let spec = LaunchSpec::new(argv.iter().map(|s| s.to_string()).collect(), workdir);
    let err = Program::spawn(&spec).expect_err("launch should fail");
    let message = err.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    assert_eq!(err.exit_code(), exit::USAGE, "{message}");
    err
}

#[test]
fn programs_that_cannot_be_launched_say_why() {
    let (dir, script) = write_file("student.py", "print('hi')\n");
    let here = dir.path();
    let err = launch_error(&[], here);
    assert!(matches!(err, LaunchError::Empty), "{err}");
    let err = launch_error(&["no-such-program-sockspec"], here);
    assert!(matches!(err, LaunchError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("no such program on PATH"), "{err}");
    let missing = here.join("missing.py").display().to_string();
    let err = launch_error(&[&missing], here);
    assert!(matches!(err, LaunchError::NoSuchFile { .. }), "{err}");
    let err = launch_error(&[&here.display().to_string()], here);
    assert!(matches!(err, LaunchError::IsDirectory { .. }), "{err}");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = launch_error(&[&script.display().to_string()], here);
    assert!(matches!(err, LaunchError::NotExecutable { .. }), "{err}");
    assert!(err.to_string().contains("python3"), "{err}");
    let err = launch_error(&["python3"], &here.join("no-such-dir"));
    assert!(matches!(err, LaunchError::Workdir { .. }), "{err}");
}

#[test]
fn a_script_made_executable_runs_through_its_shebang() {
    let (dir, spec) = python_spec("", &[]);
    let path = std::path::PathBuf::from(&spec.argv[1]);
    std::fs::write(&path, "#!/bin/sh\necho from shebang\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = LaunchSpec::new(vec![path.display().to_string()], dir.path());
    let program = Program::spawn(&spec).expect("launch");
    let mut run = crate::Run { program, dir };
    crate::expect_stdout(&run, "from shebang\n");
    assert_eq!(
        run.program
            .wait_exit(Deadline::after(START))
            .and_then(|s| s.code()),
        Some(0)
    );
    finish(&mut run, Duration::from_secs(5));
}

#[test]
fn readiness_uses_up_no_connection_of_a_one_client_server() {
    let source = UPPER_SERVER
        .replace("while True:\n", "if True:\n")
        .replace("    c.close()\n", "    c.close()\n    sys.exit(0)\n");
    let mut run = python(&source, &["0"]);
    let addr = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    assert_upper_reply(addr);
    let status = run.program.wait_exit(Deadline::after(START));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    finish(&mut run, Duration::from_secs(5));
}

#[test]
fn server_left_running_in_the_background_by_a_leader_that_exited_is_found() {
    let mut run = python(
        r#"
import os, socket, threading
if os.fork() == 0:
    os.setsid()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    threading.Event().wait()
"#,
        &[],
    );
    // The leader exits at once; its child, outside the group, listens a little later.
    run.program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("the background server's socket");
    let status = run.program.wait_exit(Deadline::after(START));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let report = finish(&mut run, Duration::from_secs(5));
    assert!(
        report.exited_by_itself && !report.needed_sigkill,
        "{report:?}"
    );
}
