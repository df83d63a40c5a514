//! The grader's launcher against small programs written into a temp dir: readiness, output, stopping.
//! Every test stops its program through `finish`, which also checks that no process of the run is left.

mod isolation; // a private network namespace per program: reached there, gone after
mod limits; // resource limits in the child, breaches from evidence
mod output; // what the program printed: pseudo-terminal, bounded capture, stdin
mod readiness; // finding the program's server socket in /proc, or why there is none
mod stopping; // SIGTERM, SIGKILL, daemons that left the process group

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use sockspec::grade::launch::{LaunchSpec, Program, StopReport};
use sockspec::wire::Deadline;
use tempfile::TempDir;

/// Long enough for a cold Python to start on a loaded machine; only reached when something is wrong.
pub const START: Duration = Duration::from_secs(20);

/// A program under test with the temp dir it runs in. Fields drop in order: the program is stopped
/// before its directory is removed.
pub struct Run {
    pub program: Program,
    pub dir: TempDir,
}

/// Writes `source` to `name` in a fresh temp dir and returns the dir and the file's absolute path.
pub fn write_file(name: &str, source: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    fs::write(&path, source).expect("write test program");
    (dir, path)
}

/// The spec that runs `script` with python3 and `args`, in the script's temp dir.
pub fn python_spec(source: &str, args: &[&str]) -> (TempDir, LaunchSpec) {
    let (dir, path) = write_file("prog.py", source);
    let mut argv = vec!["python3".to_string(), path.display().to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    let spec = LaunchSpec::new(argv, dir.path());
    (dir, spec)
}

/// Starts `script` with python3.
#[track_caller]
pub fn python(source: &str, args: &[&str]) -> Run {
    let (dir, spec) = python_spec(source, args);
    let program = Program::spawn(&spec).expect("launch python3");
    Run { program, dir }
}

/// Pids of live processes whose environment holds `marker`, read from /proc independently of the
/// library (zombies have an empty environment and so never match).
pub fn marker_pids(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Ok(env) = fs::read(entry.path().join("environ")) {
            if env.split(|&b| b == 0).any(|e| e == marker.as_bytes()) {
                out.push(pid);
            }
        }
    }
    out
}

/// Stops the run and checks nothing of it is left: no process with its marker, none in its tree.
#[track_caller]
pub fn finish(run: &mut Run, grace: Duration) -> StopReport {
    let report = run.program.stop(grace);
    let marker = run.program.run_marker().to_string();
    assert_eq!(report.stragglers, 0, "stragglers: {report:?}");
    assert_eq!(
        marker_pids(&marker),
        Vec::<i32>::new(),
        "processes left with {marker}"
    );
    assert_eq!(
        run.program.processes(),
        Vec::<u32>::new(),
        "processes left in the run"
    );
    // Members of the run's group orphaned to this (subreaper) process must have been reaped too.
    let me = std::process::id() as i32;
    let leader = run.program.pid() as i32;
    let zombies: Vec<i32> = sockspec::grade::procfs::all_procs()
        .into_iter()
        .filter(|p| p.ppid == me && p.pgrp == leader && p.is_zombie())
        .map(|p| p.pid)
        .collect();
    assert_eq!(zombies, Vec::<i32>::new(), "unreaped zombies of the run");
    report
}

/// Waits for `needle` on the program's stdout; on failure shows what stdout and stderr held.
#[track_caller]
pub fn expect_stdout(run: &Run, needle: &str) {
    let found = run
        .program
        .stdout()
        .wait_until(Deadline::after(START), |b| contains(b, needle.as_bytes()));
    assert!(
        found,
        "{needle:?} not on stdout; stdout: {:?}; stderr: {:?}",
        String::from_utf8_lossy(&run.program.stdout().snapshot()),
        String::from_utf8_lossy(&run.program.stderr().snapshot())
    );
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len().max(1)).any(|w| w == needle)
}

/// Whether a `/proc/PID` entry is still the process that had `start` (else it is gone or reused).
pub fn still_there(pid: i32, start: u64) -> bool {
    sockspec::grade::procfs::stat(pid).is_some_and(|p| p.start == start)
}
