//! A batch signalled in the middle of a grade stops every program, keeps the grades it finished whole
//! (no `.tmp-*` file, no working directory), exits with 128 + the signal; `--resume` then grades only what
//! was not stored, each student exactly once.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sockspec::wire::Deadline;

use crate::util::{fresh_token, temp_files, verdicts, Run, TestClass, TOKEN_VAR};

/// How long waiting for a file, or for the interrupted batch to end, may take (a loaded machine).
const WAIT: Duration = Duration::from_secs(120);

/// s2's program answers its first check and stalls in its second, which waits 20 times the usual
/// reply deadline: a batch that ends soon after the signal did not wait for it.
fn manifest(state: &Path) -> String {
    format!(
        r#"
seed = 99

[[assignment]]
name = "echo"
suite = "echo-server"
files = ["echo_server.py"]
only = ["echo-server/basic/ascii", "echo-server/basic/chinese"]
timeout_scale = 20

[assignment.override.s2]
command = ["python3", "{{program}}", "{{port}}", "{}"]
"#,
        state.display()
    )
}

#[track_caller]
fn poll(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Deadline::after(WAIT);
    let mut pause = Duration::from_millis(10);
    while !ready() {
        let Some(left) = deadline.remaining() else {
            panic!("{what} did not happen within {WAIT:?}");
        };
        // Polling a file another process writes: no event to wait on, so short, growing pauses.
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

fn wait_exit(child: &mut Child) -> Option<std::process::ExitStatus> {
    let deadline = Deadline::after(WAIT);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        deadline.remaining()?;
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_mid_grade_keeps_finished_grades_and_resume_grades_the_rest_once() {
    let class = TestClass::new(
        "",
        &[
            ("s1", &[("echo/threaded.py", "echo_server.py")]),
            ("s2", &[("misbehaving/stalls.py", "echo_server.py")]),
            ("s3", &[("echo/line_threaded.py", "echo_server.py")]),
        ],
    );
    let state = class.path("state");
    fs::create_dir(&state).unwrap();
    fs::write(class.class_dir().join("sockspec.toml"), manifest(&state)).unwrap();
    let out = class.path("out");

    let token = fresh_token();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_sockspec"))
        .args(["batch", "class", "-j", "2", "-o", "out"])
        .current_dir(class.root.path())
        .env(TOKEN_VAR, &token)
        .env("TMPDIR", class.path("tmp"))
        .stdin(Stdio::null())
        .stdout(File::create(class.path("stdout")).unwrap())
        .stderr(File::create(class.path("stderr")).unwrap())
        .spawn()
        .unwrap();
    let result = |s: &str| out.join(format!("results/{s}/echo.json"));
    // s2 in its second check (its second launch listens), s1 and s3 stored meanwhile.
    poll("s2's second launch", || state.join("listening-2").exists());
    poll("s1 and s3 stored", || {
        result("s1").exists() && result("s3").exists()
    });
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_exit(&mut child);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let run = Run {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: fs::read_to_string(class.path("stdout")).unwrap_or_default(),
        stderr: fs::read_to_string(class.path("stderr")).unwrap_or_default(),
        command: "sockspec batch class -j 2 -o out (SIGTERM)".into(),
    };
    run.assert_code(143);
    assert!(
        run.stderr.contains("interrupted by SIGTERM") && run.stderr.contains("--resume"),
        "{run}"
    );
    class.assert_nothing_left(&token, &run);
    assert!(temp_files(&out).is_empty(), "{:?}", temp_files(&out));
    assert!(
        !result("s2").exists(),
        "the interrupted grade is not stored\n{run}"
    );
    let kept: Vec<Vec<u8>> = ["s1", "s3"]
        .iter()
        .map(|s| fs::read(result(s)).unwrap())
        .collect();

    // The student's program now answers (a test's device: a stalled program would stall again).
    fs::copy(
        crate::util::submissions().join("echo/threaded.py"),
        class.class_dir().join("s2/echo_server.py"),
    )
    .unwrap();
    let resumed = class.batch(&["-j", "2", "-o", "out", "--resume"]);
    resumed.assert_code(0);
    assert!(
        resumed.stdout.contains("2 grade(s) already stored")
            && resumed.stdout.contains("1 grade(s) to make"),
        "{resumed}"
    );
    let graded: Vec<&str> = resumed
        .stdout
        .lines()
        .filter(|l| l.starts_with('['))
        .collect();
    assert_eq!(graded.len(), 1, "{resumed}");
    assert!(graded[0].contains("s2/echo: PASS"), "{resumed}");
    for (s, bytes) in ["s1", "s3"].iter().zip(&kept) {
        assert_eq!(&fs::read(result(s)).unwrap(), bytes, "{s} graded again");
    }
    let all = verdicts(&out);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(out.join("class.csv").is_file() && out.join("class.html").is_file());
}
