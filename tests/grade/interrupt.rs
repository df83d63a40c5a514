//! A grade interrupted in the middle of a check (SIGINT, SIGTERM, SIGHUP) or killed outright (SIGKILL)
//! leaves no process, temporary directory, cgroup or listening socket behind; an interrupted grade still
//! writes the report of the checks it finished.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use sockspec::grade::procfs;
use sockspec::grade::{cgroup, sweep};
use sockspec::wire::Deadline;

use super::util::{fresh_token, processes_with, strings, submissions_dir, TOKEN_VAR};

/// Every wait of these tests: generous, for a loaded machine; none is a sleep.
const WAIT: Duration = Duration::from_secs(60);

/// How long an interrupted grade may take to end. Each second check waits 100 s for its reply
/// (`--timeout-scale 20`), so a grade that ends within this was not waiting for the check to finish.
const INTERRUPT_LIMIT: Duration = Duration::from_secs(40);

/// `sockspec grade` run in the background, with a temporary directory of its own (its TMPDIR, its
/// report, the fixture's state); SIGKILLed if the test ends before it does.
struct Grader {
    child: Child,
    token: String,
    dir: tempfile::TempDir,
}

impl Grader {
    /// Grades with `misbehaving/stalls.py`: its first check passes, its second waits 100 s; `extra` goes
    /// after the fixture's arguments (`keeper`). `{dir}` in `args` is the grader's own directory.
    fn start(args: &[&str], extra: &[&str]) -> Grader {
        Grader::spawn(args, extra, &[])
    }

    /// As [`Grader::start`], the grader started with `ignored` signals ignored (as `nohup` does).
    fn spawn(args: &[&str], extra: &[&str], ignored: &'static [i32]) -> Grader {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["tmp", "state"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let here = dir.path().display().to_string();
        let mut all: Vec<String> = strings(&[
            "grade",
            "echo-server",
            "--only",
            "echo-server/basic/ascii",
            "--only",
            "echo-server/basic/chinese",
            "--timeout-scale",
            "20",
        ]);
        all.extend(args.iter().map(|a| a.replace("{dir}", &here)));
        all.extend(strings(&[
            "--",
            "python3",
            "misbehaving/stalls.py",
            "{port}",
            &format!("{here}/state"),
        ]));
        all.extend(strings(extra));
        let token = fresh_token();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sockspec"));
        // SAFETY: only signal(2), async-signal-safe, between fork and exec.
        unsafe {
            command.pre_exec(move || {
                for &signal in ignored {
                    libc::signal(signal, libc::SIG_IGN);
                }
                Ok(())
            });
        }
        let child = command
            .args(&all)
            .current_dir(submissions_dir())
            .env(TOKEN_VAR, &token)
            .env("TMPDIR", dir.path().join("tmp"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(File::create(dir.path().join("stdout")).unwrap())
            .stderr(File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .expect("sockspec starts");
        Grader { child, token, dir }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Waits until launch `n` of the fixture listens (its second launch: the first check is over);
    /// returns its pid and port.
    #[track_caller]
    fn wait_listening(&self, n: u32) -> (i32, u16) {
        let text = self.wait_for_file(&format!("state/listening-{n}"));
        let mut words = text.split(' ').map(|w| w.parse::<i64>().unwrap());
        let (pid, port) = (words.next().unwrap(), words.next().unwrap());
        (pid as i32, port as u16)
    }

    #[track_caller]
    fn wait_for_file(&self, name: &str) -> String {
        let path = self.path(name);
        poll(WAIT, || fs::read_to_string(&path).ok())
            .unwrap_or_else(|| panic!("{name} did not appear\nstderr:\n{}", self.read("stderr")))
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Waits for the grader to end, up to `limit`.
    #[track_caller]
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = &mut self.child;
        let status = poll(limit, || child.try_wait().unwrap());
        status.unwrap_or_else(|| {
            panic!(
                "sockspec did not end within {limit:?}\nstderr:\n{}",
                self.read("stderr")
            )
        })
    }

    /// Asserts that nothing of the grade is left: no process (the watchdog included, given a moment to
    /// finish), no working directory in its TMPDIR, no temporary report, no cgroup, nobody listening on
    /// `port`.
    #[track_caller]
    fn assert_nothing_left(&self, port: u16) {
        let entry = format!("{TOKEN_VAR}={}", self.token);
        let gone = wait_until(|| processes_with(&entry).is_empty());
        assert!(
            gone,
            "processes left: {:?}\nstderr:\n{}",
            processes_with(&entry),
            self.read("stderr")
        );
        let left = names_in(&self.path("tmp"));
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
        let reports: Vec<String> = names_in(self.dir.path())
            .into_iter()
            .filter(|n| n.starts_with(".sockspec-report-"))
            .collect();
        assert!(reports.is_empty(), "temporary reports left: {reports:?}");
        let groups: Vec<PathBuf> = cgroup::existing()
            .into_iter()
            .filter(|(_, token)| sweep::token_owner(token) == Some(self.pid()))
            .map(|(dir, _)| dir)
            .collect();
        assert!(groups.is_empty(), "cgroups left: {groups:?}");
        assert!(!listening_on(port), "port {port} is still held");
    }
}

impl Drop for Grader {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `ready` until it gives a value or `limit` passed (then `None`).
fn poll<T>(limit: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Deadline::after(limit);
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(value) = ready() {
            return Some(value);
        }
        let left = deadline.remaining()?;
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Polls `done` until it holds or [`WAIT`] passed; says which.
fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    poll(WAIT, || done().then_some(())).is_some()
}

fn names_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// True when a TCP socket listens on `port` in this network namespace.
fn listening_on(port: u16) -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                let local_port = words
                    .get(1)
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| u16::from_str_radix(p, 16).ok());
                words.get(3) == Some(&"0A") && local_port == Some(port)
            })
    })
}

/// True while `pid` is a live process (not a zombie).
fn alive(pid: i32) -> bool {
    procfs::stat(pid).is_some_and(|p| !p.is_zombie())
}

/// Interrupts a grade while its second check waits; returns the report written to `-o`.
#[track_caller]
fn interrupt_mid_check(signal: i32, name: &str, format: &str) -> serde_json::Value {
    let mut grader = Grader::start(&["--format", format, "-o", "{dir}/report.json"], &[]);
    let (_, port) = grader.wait_listening(2);
    grader.signal(signal);
    let status = grader.wait_exit(INTERRUPT_LIMIT);
    let stderr = grader.read("stderr");
    assert_eq!(status.code(), Some(128 + signal), "{stderr}");
    assert!(
        stderr.contains(&format!("interrupted by {name}")),
        "{stderr}"
    );
    grader.assert_nothing_left(port);
    serde_json::from_str(&grader.read("report.json"))
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr:\n{stderr}"))
}

#[test]
fn sigterm_mid_check_stops_the_program_and_writes_the_partial_report() {
    let report = interrupt_mid_check(libc::SIGTERM, "SIGTERM", "json");
    assert_eq!(report["incomplete"], true);
    assert_eq!(report["interrupted_by"], "SIGTERM");
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{report}");
    assert_eq!(checks[0]["outcome"], "pass", "the first check finished");
    assert_eq!(checks[1]["outcome"], "not-run", "{}", checks[1]);
    let why = checks[1]["message"].as_str().unwrap();
    assert!(why.contains("interrupted (SIGTERM)"), "{why}");
    assert_eq!(report["summary"]["success"], false);
}

#[test]
fn sigint_mid_check_stops_the_program_and_writes_partial_gradescope_results() {
    let results = interrupt_mid_check(libc::SIGINT, "SIGINT", "gradescope");
    // The first check's 2 points, of 4.
    assert_eq!(results["score"], 2.0, "{results}");
    let output = results["output"].as_str().unwrap();
    assert!(
        output.contains("INCOMPLETE (interrupted by SIGINT)"),
        "{output}"
    );
    let tests = results["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "{results}");
    assert_eq!(tests[0]["status"], "passed");
    assert_eq!(tests[1]["status"], "failed");
    let why = tests[1]["output"].as_str().unwrap();
    assert!(why.contains("interrupted (SIGINT)"), "{why}");
}

#[test]
fn sighup_without_a_report_file_writes_the_partial_report_to_stdout() {
    let mut grader = Grader::start(&["--format", "junit"], &[]);
    let (_, port) = grader.wait_listening(2);
    grader.signal(libc::SIGHUP);
    let status = grader.wait_exit(INTERRUPT_LIMIT);
    assert_eq!(status.code(), Some(128 + libc::SIGHUP));
    grader.assert_nothing_left(port);
    let xml = grader.read("stdout");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
    assert!(
        xml.contains("<error message=\"grading did not finish: interrupted by SIGHUP"),
        "{xml}"
    );
    // The two checks, and the grade itself as an error (not green).
    assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
    assert_eq!(xml.matches("<skipped ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 0, "{xml}");
}

#[test]
fn a_signal_ignored_at_start_stays_ignored() {
    let mut grader = Grader::spawn(&[], &[], &[libc::SIGHUP]);
    let (_, port) = grader.wait_listening(2);
    grader.signal(libc::SIGHUP);
    // Nothing happens: the grade is still running when a deadline passes.
    let deadline = Deadline::after(Duration::from_secs(1));
    while !deadline.passed() {
        assert!(
            grader.child.try_wait().unwrap().is_none(),
            "SIGHUP ended a grade started under nohup\n{}",
            grader.read("stderr")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    grader.signal(libc::SIGTERM);
    let status = grader.wait_exit(INTERRUPT_LIMIT);
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    grader.assert_nothing_left(port);
}

#[test]
fn a_killed_grader_takes_its_programs_and_temporary_files_with_it() {
    let mut grader = Grader::start(&["-o", "{dir}/report.txt"], &[]);
    fs::write(grader.path("report.txt"), "the last report\n").unwrap();
    let (program, port) = grader.wait_listening(2);
    grader.signal(libc::SIGKILL);
    grader.wait_exit(WAIT);
    // The watchdog kills the program and removes the working directory and the unfinished report.
    assert!(
        wait_until(|| !alive(program)),
        "the program outlived the grader"
    );
    grader.assert_nothing_left(port);
    assert_eq!(grader.read("report.txt"), "the last report\n");
}

#[test]
fn what_a_grader_killed_with_its_watchdog_leaves_is_swept_by_the_next_grade() {
    let mut grader = Grader::start(&[], &["keeper"]);
    let (leader, port) = grader.wait_listening(2);
    let keeper: i32 = grader.wait_for_file("state/keeper-2").parse().unwrap();
    let watchdog = watchdog_of(grader.pid()).expect("the grader has a watchdog");
    // The watchdog first, so that it cannot clean up after the grader.
    // SAFETY: kill(2) on the grader's watchdog, found as its child in a session of its own.
    unsafe { libc::kill(watchdog, libc::SIGKILL) };
    assert!(wait_until(|| !alive(watchdog)));
    grader.signal(libc::SIGKILL);
    grader.wait_exit(WAIT);
    // The program's leader dies with the grader (PR_SET_PDEATHSIG); its setsid() child is left.
    assert!(
        wait_until(|| !alive(leader)),
        "the leader outlived the grader"
    );

    let next = Command::new(env!("CARGO_BIN_EXE_sockspec"))
        .args(strings(&[
            "grade",
            "echo-server",
            "--only",
            "echo-server/basic/ascii",
            "--",
            "python3",
            "echo/threaded.py",
        ]))
        .current_dir(submissions_dir())
        .env("TMPDIR", grader.path("tmp"))
        .stdin(Stdio::null())
        .output()
        .expect("sockspec runs");
    assert_eq!(
        next.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    assert!(
        wait_until(|| !alive(keeper)),
        "the kept child was not swept"
    );
    grader.assert_nothing_left(port);
}

/// The grader's watchdog: its child in a session of its own.
fn watchdog_of(grader: i32) -> Option<i32> {
    procfs::all_procs()
        .into_iter()
        .filter(|p| p.ppid == grader)
        .map(|p| p.pid)
        .find(|&pid| session_of(pid) == Some(pid))
}

fn session_of(pid: i32) -> Option<i32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the name: state ppid pgrp session.
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}
