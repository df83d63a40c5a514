//! Nothing a graded program starts outlives the grade, even a daemon that leaves the process group and
//! drops the environment that marks the run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sockspec::grade::cgroup::RunGroup;

use super::util::{processes_whose, sockspec_in, strings, submissions_dir};

#[test]
fn a_daemon_that_drops_its_environment_is_stopped_with_the_run() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tag = format!("{}-{nanos}", std::process::id());
    // Without a cgroup (an ordinary user, no delegated tree) nothing links such a daemon to the run.
    let Some(probe) = RunGroup::create(&format!("probe-{tag}")) else {
        eprintln!("no cgroup can be made here: the grader cannot find such a daemon; not tested");
        return;
    };
    drop(probe);
    let args = ascii_check(&["misbehaving/escapes_env.py", "{port}", &tag]);
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(60));
    let name = format!("sockspec-escapee-{tag}");
    let left = processes_whose("cmdline", |c| String::from_utf8_lossy(c).contains(&name));
    for &pid in &left {
        // SAFETY: kill(2) on a pid whose command line carries this test's unique tag.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    assert!(
        left.is_empty(),
        "left behind: {left:?} ({name})\n{}",
        graded.stderr
    );
    assert_eq!(graded.json()["checks"][0]["outcome"], "pass");
}

#[test]
fn a_program_starts_with_no_signal_blocked_so_sigterm_stops_it() {
    // The grader blocks SIGINT, SIGTERM and SIGHUP for its signal thread; a launched program must not
    // inherit that mask, or every check would end in SIGKILL after the grace period.
    let args = ascii_check(&["misbehaving/shows_signal_mask.py", "{port}"]);
    let graded = sockspec_in(&submissions_dir(), &args, Duration::from_secs(120));
    let report = graded.json();
    let check = &report["checks"][0];
    assert_eq!(check["outcome"], "pass", "{check}");
    let printed = check["stdout_tail"].as_str().unwrap_or_default();
    assert!(
        printed.contains("signals blocked: 0000000000000000"),
        "the program started with signals blocked: {printed:?}"
    );
}

/// `sockspec grade` arguments for the echo server's ascii check alone, JSON out, of `python3 PROGRAM...`.
fn ascii_check(program: &[&str]) -> Vec<String> {
    let mut args = strings(&[
        "grade",
        "echo-server",
        "--only",
        "echo-server/basic/ascii",
        "--format",
        "json",
        "--",
        "python3",
    ]);
    args.extend(strings(program));
    args
}
