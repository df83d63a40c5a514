//! Resource limits set in the child, and a breach recognised from evidence only.

use std::time::Duration;

use sockspec::grade::launch::Program;
use sockspec::grade::limits::{Limit, Limits};
use sockspec::wire::Deadline;

use crate::{finish, python_spec, Run, START};

/// Runs `source` under `limits` until it exits, and returns the run.
#[track_caller]
fn run_limited(source: &str, limits: Limits) -> Run {
    let (dir, mut spec) = python_spec(source, &[]);
    spec.limits = Some(limits);
    let program = Program::spawn(&spec).expect("launch python3");
    let run = Run { program, dir };
    assert!(
        run.program.wait_exit(Deadline::after(START * 2)).is_some(),
        "the program did not end; stderr: {}",
        String::from_utf8_lossy(&run.program.stderr().snapshot())
    );
    run
}

#[track_caller]
fn assert_breach(run: &mut Run, limit: Limit, message: &str) {
    finish(run, Duration::from_secs(5));
    let breach = run.program.breach().unwrap_or_else(|| {
        panic!(
            "no breach seen; stderr: {}",
            String::from_utf8_lossy(&run.program.stderr().snapshot())
        )
    });
    assert_eq!(breach.limit, limit, "{breach}");
    assert!(breach.message.starts_with(message), "{}", breach.message);
}

#[test]
fn a_cpu_spinner_is_stopped_by_sigxcpu() {
    let limits = Limits {
        cpu_seconds: 1,
        ..Limits::default()
    };
    let mut run = run_limited("while True:\n    pass\n", limits);
    assert_breach(
        &mut run,
        Limit::Cpu,
        "exceeded the CPU time limit of 1 s (killed by SIGXCPU)",
    );
}

#[test]
fn too_many_open_files_is_named() {
    let limits = Limits {
        open_files: 32,
        ..Limits::default()
    };
    let source = "import socket\nkept = [socket.socket() for _ in range(100)]\n";
    let mut run = run_limited(source, limits);
    assert_breach(
        &mut run,
        Limit::OpenFiles,
        "exceeded the open files limit of 32",
    );
}

#[test]
fn a_file_past_the_size_limit_is_named() {
    let limits = Limits {
        file_size_mib: 1,
        ..Limits::default()
    };
    // Python ignores SIGXFSZ: the write fails with EFBIG ("File too large").
    let source = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * (2 * 1024 * 1024))\n";
    let mut run = run_limited(source, limits);
    assert_breach(
        &mut run,
        Limit::FileSize,
        "exceeded the file size limit of 1 MiB",
    );
}

#[test]
fn memory_past_the_address_space_limit_is_named() {
    let limits = Limits {
        address_space_mib: 256,
        ..Limits::default()
    };
    let source = "data = bytearray(1024 * 1024 * 1024)\n";
    let mut run = run_limited(source, limits);
    assert_breach(
        &mut run,
        Limit::AddressSpace,
        "exceeded the address space limit of 256 MiB",
    );
}

#[test]
fn threads_past_the_process_limit_are_named_where_a_pids_cgroup_counts_them() {
    let limits = Limits {
        processes: 8,
        ..Limits::default()
    };
    let source = r#"
import threading, time
threads = []
for _ in range(32):
    t = threading.Thread(target=time.sleep, args=(30,), daemon=True)
    t.start()
    threads.append(t)
"#;
    let mut run = run_limited(source, limits);
    if run.program.process_cap() != sockspec::grade::limits::ProcessCap::PidsCgroup {
        // SAFETY: geteuid has no preconditions.
        assert_ne!(unsafe { libc::geteuid() }, 0, "root must get a pids cgroup");
        eprintln!("no pids cgroup for this user; not tested");
        finish(&mut run, Duration::from_secs(5));
        return;
    }
    assert_breach(
        &mut run,
        Limit::Processes,
        "exceeded the process limit of 8 (the kernel refused ",
    );
}

#[test]
fn a_program_that_fails_for_other_reasons_breaches_nothing() {
    let mut run = run_limited("import sys\nsys.exit('no such thing')\n", Limits::default());
    finish(&mut run, Duration::from_secs(5));
    assert_eq!(run.program.breach(), None);
}
