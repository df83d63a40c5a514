//! Stopping a run: by itself, by SIGTERM, by SIGKILL, and daemons that left the process group.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use sockspec::grade::launch::LaunchSpec;
use sockspec::grade::procfs::{self, Proto};
use sockspec::wire::{self, Deadline};

use crate::{expect_stdout, finish, marker_pids, python, still_there, Run, START};

/// Listens (the readiness signal), then blocks until killed.
const LISTEN_AND_BLOCK: &str = r#"
import signal, socket, threading
IGNORE_TERM
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
threading.Event().wait()
"#;

#[test]
fn program_that_exits_by_itself_is_reported_so() {
    let mut run = python("import sys\nsys.exit(7)\n", &[]);
    let status = run.program.wait_exit(Deadline::after(START)).expect("exit");
    assert_eq!(status.code(), Some(7));
    assert_eq!(run.program.try_status(), Some(status));
    let report = finish(&mut run, Duration::from_secs(5));
    assert!(report.exited_by_itself && !report.needed_sigkill);
    assert_eq!(report.status, Some(status));
}

#[test]
fn sigterm_ends_a_well_behaved_server() {
    let mut run = python(&LISTEN_AND_BLOCK.replace("IGNORE_TERM", ""), &[]);
    run.program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    let report = finish(&mut run, Duration::from_secs(5));
    assert!(
        !report.exited_by_itself && !report.needed_sigkill,
        "{report:?}"
    );
    assert_eq!(report.status.and_then(|s| s.signal()), Some(libc::SIGTERM));
}

#[test]
fn program_ignoring_sigterm_is_sigkilled() {
    let source = LISTEN_AND_BLOCK.replace(
        "IGNORE_TERM",
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)",
    );
    let mut run = python(&source, &[]);
    run.program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    let report = finish(&mut run, Duration::from_millis(200));
    assert!(report.needed_sigkill, "{report:?}");
    assert_eq!(report.status.and_then(|s| s.signal()), Some(libc::SIGKILL));
}

/// Forks a daemon the classic way (fork, setsid, fork, the middle one exits) that ignores SIGTERM,
/// keeps a listening socket and prints its pid; the leader waits forever.
const DAEMON: &str = r#"
import os, signal, socket, threading
child = os.fork()
if child == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        print("daemon", os.getpid())
        threading.Event().wait()
    os._exit(0)
os.waitpid(child, 0)
threading.Event().wait()
"#;

#[test]
fn daemon_that_left_the_group_is_found_killed_and_its_port_freed() {
    let mut run = python(DAEMON, &[]);
    let addr = run
        .program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("the daemon's socket is found");
    expect_stdout(&run, "\n");
    let line = String::from_utf8(run.program.stdout().snapshot()).unwrap();
    let pid: i32 = line
        .trim()
        .strip_prefix("daemon ")
        .unwrap()
        .parse()
        .unwrap();
    let daemon = procfs::stat(pid).expect("daemon alive");
    assert_ne!(
        daemon.pgrp,
        run.program.pid() as i32,
        "the daemon left the group"
    );
    assert!(marker_pids(run.program.run_marker()).contains(&pid));

    let report = finish(&mut run, Duration::from_millis(300));
    assert!(report.needed_sigkill, "{report:?}");
    assert!(
        !still_there(pid, daemon.start),
        "daemon {pid} left behind (or unreaped)"
    );
    wire::listen_tcp(addr, 1).expect("the daemon's port is free again");
}

#[test]
fn dropping_the_program_stops_everything() {
    let (dir, path) = crate::write_file("prog.py", DAEMON);
    let spec = LaunchSpec::new(
        vec!["python3".into(), path.display().to_string()],
        dir.path(),
    );
    let run = Run {
        program: sockspec::grade::launch::Program::spawn(&spec).expect("launch"),
        dir,
    };
    run.program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    let marker = run.program.run_marker().to_string();
    assert!(!marker_pids(&marker).is_empty());
    drop(run);
    assert_eq!(marker_pids(&marker), Vec::<i32>::new());
}

#[test]
fn program_forking_many_children_that_ignore_sigterm_is_cleared() {
    // A shell that forks children as fast as it can (bounded, to spare the machine), all ignoring
    // SIGTERM; it is stopped while it may still be forking.
    let (dir, path) = crate::write_file(
        "prog.sh",
        "trap '' TERM\necho forking\ni=0\nwhile [ $i -lt 300 ]; do sleep 1000 & i=$((i+1)); done\nwait\n",
    );
    let spec = LaunchSpec::new(vec!["sh".into(), path.display().to_string()], dir.path());
    let mut run = Run {
        program: sockspec::grade::launch::Program::spawn(&spec).expect("launch sh"),
        dir,
    };
    expect_stdout(&run, "forking\n");
    let report = finish(&mut run, Duration::from_millis(200));
    assert!(report.needed_sigkill, "{report:?}");
}
