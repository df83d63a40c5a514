//! A class of correct, buggy and misbehaving programs (endless output, SIGTERM ignored, a forked keeper, a
//! flood, never listening, a crash at start, a hard-coded port, a missing file), graded side by side:
//! every student gets a verdict, nothing is left running or on disk, and a second run gives the same
//! verdicts.

use crate::util::{temp_files, verdicts, TestClass};

const MANIFEST: &str = r#"
seed = 7

[[assignment]]
name = "echo"
suite = "echo-server"
files = ["*.py"]
only = ["echo-server/basic/ascii", "echo-server/basic/client-close"]
# Deadlines as graded: a 10 s start deadline leaves a loaded machine room (python3 starts in 0.3 s), and
# the program that never listens waits it out in each check, twice: the test's longest path.
timeout_scale = 1
"#;

const STUDENTS: &[(&str, &[(&str, &str)])] = &[
    ("correct", &[("echo/line_threaded.py", "server.py")]),
    ("buggy", &[("echo/wrong_prefix.py", "server.py")]),
    ("endless", &[("misbehaving/endless_output.py", "server.py")]),
    (
        "stubborn",
        &[("misbehaving/ignores_sigterm.py", "server.py")],
    ),
    ("forker", &[("misbehaving/forks_keeper.py", "server.py")]),
    ("flooder", &[("misbehaving/floods.py", "server.py")]),
    ("mute", &[("misbehaving/never_listens.py", "server.py")]),
    ("typo", &[("misbehaving/crashes_at_start.py", "server.py")]),
    // Two programs on the same hard-coded port 8888, graded side by side (each in its own namespace).
    (
        "fixed-port",
        &[("isolation/fixed_port_server.py", "server.py")],
    ),
    (
        "fixed-port-2",
        &[("isolation/fixed_port_server.py", "server.py")],
    ),
    ("absent", &[]),
];

#[test]
fn misbehaving_programs_get_verdicts_leave_nothing_and_grade_the_same_twice() {
    let class = TestClass::new(MANIFEST, STUDENTS);
    // The two runs side by side: each waits mostly on deadlines, and each must give its verdicts
    // under the other's load.
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| class.batch(&["-j", "6", "-o", "first"]));
        let second = class.batch(&["-j", "6", "-o", "second"]);
        (first.join().expect("the first run"), second)
    });
    first.assert_code(0);
    second.assert_code(0);
    let (a, b) = (
        verdicts(&class.path("first")),
        verdicts(&class.path("second")),
    );
    assert_eq!(a.len(), STUDENTS.len(), "{a:?}\n{first}");
    assert_eq!(a, b, "verdicts differ between two runs\n{first}\n{second}");
    for (who, checks) in &a {
        let not_run = checks.iter().filter(|(_, o)| o == "not-run").count();
        if who == "absent/echo" {
            assert_eq!(not_run, checks.len());
        } else {
            assert_eq!(
                not_run, 0,
                "{who} has a check without a verdict: {checks:?}"
            );
        }
    }
    let outcome = |who: &str| a[&format!("{who}/echo")][0].1.clone();
    assert_eq!(outcome("correct"), "pass");
    assert_eq!(outcome("buggy"), "fail");
    assert_eq!(outcome("stubborn"), "pass");
    assert_eq!(outcome("forker"), "pass");
    assert_eq!(outcome("typo"), "crash");
    assert_eq!(outcome("mute"), "timeout");
    assert_eq!(outcome("fixed-port"), "pass");
    assert_eq!(outcome("fixed-port-2"), "pass");
    for dir in ["first", "second"] {
        assert!(temp_files(&class.path(dir)).is_empty());
    }
}
