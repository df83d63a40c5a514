//! A small class end to end: a result per student and assignment (a row for a missing file), CSV and HTML
//! summaries, the seed recorded; shards that merge into the unsharded summary; an output directory that is
//! never graded into twice.

use std::fs;

use crate::util::{read_json, temp_files, verdicts, TestClass};

/// Two quick checks of the ECHO server; a fixed seed; 张伟's file found through an override.
const MANIFEST: &str = r#"
class = "test class"
seed = 4242

[[assignment]]
name = "echo"
suite = "echo-server"
files = ["*echo*server*.py", "*server*.py"]
command = "python3 {program}"
only = ["echo-server/basic/ascii", "echo-server/basic/chinese"]
# Generous deadlines: these programs answer or fail at once, and a loaded machine must not turn a slow
# start into a timeout (the shards are compared with the whole).
timeout_scale = 3

[assignment.override."张伟"]
file = "作业/回声.py"
"#;

fn class() -> TestClass {
    TestClass::new(
        MANIFEST,
        &[
            ("ann", &[("echo/threaded.py", "echo_server.py")]),
            ("bob", &[("echo/wrong_prefix.py", "server.py")]),
            ("cai", &[("udp/receiver.py", "udp_recv.py")]),
            ("张伟", &[("echo/line_threaded.py", "作业/回声.py")]),
        ],
    )
}

#[test]
fn a_class_is_graded_into_results_and_summaries_with_a_row_for_a_missing_file() {
    let class = class();
    let run = class.batch(&["-j", "4", "-o", "out"]);
    run.assert_code(0);
    let out = class.path("out");
    // One plain line per finished grade (stdout is not a terminal).
    let lines: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), 4, "{run}");
    assert!(
        run.stdout.contains("seed 4242 (fixed in the manifest)"),
        "{run}"
    );

    let info = read_json(&out.join("batch.json"));
    assert_eq!(info["class"], "test class");
    assert_eq!(info["assignments"][0]["seed"], 4242);
    assert_eq!(info["students"].as_array().unwrap().len(), 4);

    let all = verdicts(&out);
    let outcomes = |who: &str| -> Vec<String> {
        all[&format!("{who}/echo")]
            .iter()
            .map(|(_, o)| o.clone())
            .collect()
    };
    assert_eq!(outcomes("ann"), ["pass", "pass"], "{all:?}");
    assert_eq!(outcomes("bob"), ["fail", "fail"], "{all:?}");
    assert_eq!(outcomes("cai"), ["not-run", "not-run"], "{all:?}");
    assert_eq!(outcomes("张伟"), ["pass", "pass"], "{all:?}");
    let cai = read_json(&out.join("results/cai/echo.json"));
    assert_eq!(
        cai["cannot_launch"],
        "no file matching *echo*server*.py, *server*.py in the student's folder"
    );
    assert_eq!(cai["summary"]["points"], 0.0);
    // Every student can be replayed alone with the batch's seed.
    let ann = read_json(&out.join("results/ann/echo.json"));
    let replay = ann["replay"].as_str().unwrap();
    assert!(
        replay.starts_with("sockspec grade echo-server --seed 4242 --timeout-scale 3 --only")
            && replay.ends_with("-- python3 class/ann/echo_server.py {port}"),
        "{replay}"
    );

    let csv = fs::read_to_string(out.join("class.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5, "{csv}");
    let cai_row = rows.iter().find(|r| r.starts_with("cai,")).unwrap();
    assert!(cai_row.contains("no file matching"), "{cai_row}");
    let html = fs::read_to_string(out.join("class.html")).unwrap();
    assert!(html.contains("张伟") && html.contains("test class"));
    assert!(temp_files(&out).is_empty());

    // The same directory again: refused without --resume (nothing is lost), a no-op with it.
    let stored = fs::read(out.join("results/ann/echo.json")).unwrap();
    let again = class.batch(&["-o", "out"]);
    again.assert_code(2);
    assert!(again.stderr.contains("--resume"), "{again}");
    let resumed = class.batch(&["-o", "out", "--resume"]);
    resumed.assert_code(0);
    assert!(
        resumed.stdout.contains("4 grade(s) already stored"),
        "{resumed}"
    );
    assert!(resumed.stdout.contains("0 grade(s) to make"), "{resumed}");
    assert_eq!(fs::read(out.join("results/ann/echo.json")).unwrap(), stored);
}

#[test]
fn shards_of_a_class_merge_into_the_summary_of_the_whole() {
    let class = class();
    class.batch(&["-o", "whole"]).assert_code(0);
    class.batch(&["--shard", "1/2", "-o", "s1"]).assert_code(0);
    class.batch(&["--shard", "2/2", "-o", "s2"]).assert_code(0);
    let share = |dir: &str| read_json(&class.path(dir).join("batch.json"))["students"].clone();
    let (one, two) = (share("s1"), share("s2"));
    assert_eq!(
        one.as_array().unwrap().len() + two.as_array().unwrap().len(),
        4,
        "{one} {two}"
    );

    let mut merged = verdicts(&class.path("s1"));
    merged.extend(verdicts(&class.path("s2")));
    assert_eq!(merged, verdicts(&class.path("whole")));
    let whole = class.sockspec(&["report", "whole", "--format", "csv"]);
    let shards = class.sockspec(&["report", "s2", "s1", "--format", "csv"]);
    whole.assert_code(0);
    shards.assert_code(0);
    assert_eq!(whole.stdout, shards.stdout);
}

#[test]
fn a_shard_needs_a_seed_every_machine_shares() {
    let class = TestClass::new(
        &MANIFEST.replace("seed = 4242", ""),
        &[("ann", &[("echo/threaded.py", "echo_server.py")])],
    );
    let run = class.batch(&["--shard", "1/2", "-o", "s1"]);
    run.assert_code(2);
    assert!(run.stderr.contains("needs a fixed seed"), "{run}");
    assert!(!class.path("s1").exists());
}
