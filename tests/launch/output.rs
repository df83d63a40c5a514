//! What the program printed reaches the capture as at a terminal, in bounded memory; stdin never blocks.

use std::io;
use std::process::Command;
use std::time::Duration;

use sockspec::grade::capture::cut_marker;
use sockspec::grade::launch::{LaunchSpec, Program};
use sockspec::grade::procfs::Proto;
use sockspec::wire::Deadline;

use crate::{contains, expect_stdout, finish, python, python_spec, write_file, Run, START};

/// Prints without flushing, then listens (the readiness signal) and blocks until killed: through a
/// pipe the line would sit in the program's buffer and die with it.
const PRINT_THEN_LISTEN: &str = r#"
import socket, threading
print("hello from python")
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
threading.Event().wait()
"#;

#[test]
fn unflushed_python_print_is_kept_after_stop() {
    // With PYTHONUNBUFFERED as the launcher sets it, and with it cleared: the terminal alone suffices.
    for unbuffered in ["1", ""] {
        let (dir, mut spec) = python_spec(PRINT_THEN_LISTEN, &[]);
        spec.env
            .push(("PYTHONUNBUFFERED".into(), unbuffered.into()));
        let mut run = Run {
            program: Program::spawn(&spec).expect("launch"),
            dir,
        };
        assert!(run.program.stdout_is_tty());
        run.program
            .wait_listening(Proto::Tcp, Deadline::after(START))
            .expect("listening");
        let report = finish(&mut run, Duration::from_secs(5));
        assert!(!report.exited_by_itself);
        assert_eq!(
            String::from_utf8_lossy(&run.program.stdout().snapshot()),
            "hello from python\n",
            "PYTHONUNBUFFERED={unbuffered:?}"
        );
    }
}

#[test]
fn unflushed_c_printf_is_kept_after_stop() {
    let (dir, source) = write_file(
        "prog.c",
        r#"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    printf("hello from c\n"); /* no fflush: a pipe would keep this in the buffer */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0) return 2;
    for (;;) pause();
}
"#,
    );
    let binary = dir.path().join("prog");
    let built = Command::new("gcc")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output();
    match built {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            eprintln!("note: gcc not found; skipping the unflushed C printf case");
            return;
        }
        Err(e) => panic!("cannot run gcc: {e}"),
        Ok(out) => assert!(
            out.status.success(),
            "gcc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
    let spec = LaunchSpec::new(vec![binary.display().to_string()], dir.path());
    let mut run = Run {
        program: Program::spawn(&spec).expect("launch"),
        dir,
    };
    run.program
        .wait_listening(Proto::Tcp, Deadline::after(START))
        .expect("listening");
    let report = finish(&mut run, Duration::from_secs(5));
    assert!(!report.needed_sigkill);
    assert_eq!(run.program.stdout().snapshot(), b"hello from c\n");
}

#[test]
fn endless_output_is_bounded_and_the_cut_is_marked() {
    const CAP: usize = 64 * 1024;
    let (dir, mut spec) = python_spec("", &[]);
    spec.argv = vec!["yes".into(), "sockspec".into()];
    spec.output_cap = CAP;
    let mut run = Run {
        program: Program::spawn(&spec).expect("launch yes"),
        dir,
    };
    let out = run.program.stdout().clone();
    // Far more than is kept: the program is never held up by a full buffer.
    let flooded = out.wait_until(Deadline::after(START), |_| out.total() > 32 * CAP as u64);
    assert!(flooded, "only {} bytes came", out.total());
    let snapshot = out.snapshot();
    assert!(snapshot.starts_with(b"sockspec\nsockspec\n"));
    assert!(contains(&snapshot, b" bytes cut ...]\n"));
    assert!(
        snapshot.len() <= CAP + cut_marker(u64::MAX).len(),
        "{}",
        snapshot.len()
    );
    assert_eq!(out.tail(9).len(), 9);
    finish(&mut run, Duration::from_secs(5));
    let total = out.total();
    assert_eq!(out.snapshot().len(), CAP + cut_marker(out.cut()).len());
    assert_eq!(out.cut(), total - CAP as u64);
}

#[test]
fn stdin_reaches_the_program_and_closing_it_ends_the_input() {
    let mut run = python(
        "import sys\nfor line in sys.stdin:\n    print(line.strip().upper())\nprint('bye')\n",
        &[],
    );
    run.program
        .write_stdin(b"abc\n", Deadline::after(START))
        .expect("write");
    expect_stdout(&run, "ABC\n");
    let pos = run.program.stdout().total();
    run.program.close_stdin();
    let status = run.program.wait_exit(Deadline::after(START));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(run.program.stdout().wait_closed(Deadline::after(START)));
    assert_eq!(run.program.stdout().since(pos), b"bye\n");
    let report = finish(&mut run, Duration::from_secs(5));
    assert!(report.exited_by_itself);
}

#[test]
fn stdin_write_to_a_program_that_never_reads_returns_by_the_deadline() {
    let mut run = python("import threading\nthreading.Event().wait()\n", &[]);
    // Much more than a pipe or a terminal holds (64 KiB, 4 KiB), in lines as typed, so the write must wait,
    // and give up.
    let big = [[b'x'; 1023].as_slice(), b"\n"].concat().repeat(4096);
    let err = run
        .program
        .write_stdin(&big, Deadline::after(Duration::from_millis(200)))
        .expect_err("nobody reads stdin");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    finish(&mut run, Duration::from_secs(5));
    let err = run
        .program
        .write_stdin(b"x", Deadline::after(START))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
}
