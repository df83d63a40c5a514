//! Wall time of `sockspec grade` over the project's own fixture submissions (fixtures/submissions/
//! manifest.toml, correct and buggy ones), every check of every level, at `--timeout-scale 1`: a
//! submission's `grade_args` give its isolation and check selection, never its deadlines.
//!
//! Prints per suite the median and the maximum grade time, the time of the correct course-style ECHO
//! server, and as an anchor measured in the same run the time Python takes to start (`-c pass`):
//! every check launches a fresh copy of the program, so a grade cannot be faster than its launches.
//! The median and the maximum are also given as that ratio ("x starts": the grade's time over one start
//! per check), which compares across machines where seconds do not.
//! `python3` is run by its interpreter's path, not through a version manager's shim. Targets: no grade
//! over 30 s; a correct echo server, all levels, under 3 s.
//!
//! `cargo bench` runs it (after benches/loopback.rs); `cargo bench -- grading` runs only this;
//! `cargo bench -- --quick` grades the echo-server submissions only. Naming another section (`echo`,
//! `file`, `idle`) leaves this one out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;

use sockspec::grade::netns::Isolate;
use sockspec::grade::Grade;

/// The correct course-style ECHO server of the fixtures, whose full grade has its own target.
const CORRECT_ECHO: &str = "echo/line_threaded";

/// The seed of every grade: the same inputs each run.
const SEED: u64 = 20_261_125;

#[derive(Debug, Deserialize)]
struct Manifest {
    submission: Vec<Submission>,
}

/// The fields of a manifest entry this bench needs (the expected verdicts are the tests' business).
#[derive(Debug, Deserialize)]
struct Submission {
    name: String,
    suite: String,
    command: Vec<String>,
    #[serde(default)]
    compile: Option<String>,
    /// Arguments the tests grade it with; the bench takes its isolation and check selection, never its
    /// `--timeout-scale` (the target is at scale 1).
    #[serde(default)]
    grade_args: Vec<String>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let sections: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if !sections.is_empty() && !sections.iter().any(|s| *s == "grading") {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions");
    let text = std::fs::read_to_string(dir.join("manifest.toml")).expect("read the manifest");
    let manifest: Manifest = toml::from_str(&text).expect("parse the manifest");
    // Commands in the manifest are relative to its directory, as when a teacher grades from there.
    std::env::set_current_dir(&dir).expect("enter fixtures/submissions");
    let build = tempfile::tempdir().expect("a directory for compiled fixtures");

    println!(
        "sockspec grading benchmark ({} run): every check, --timeout-scale 1, seed {SEED}",
        if quick { "quick" } else { "full" }
    );
    let python = interpreter();
    let start = python_start(&python);
    println!(
        "anchor: {python} starts in {:.3} s (median of 5); a grade launches one program per check\n",
        start.as_secs_f64()
    );
    println!(
        "{:<42} {:<14} {:>7} {:>6} {:>9}",
        "submission", "suite", "checks", "secs", "per check"
    );
    let mut by_suite: BTreeMap<String, Vec<(f64, String, usize)>> = BTreeMap::new();
    let mut correct_echo = None;
    for sub in &manifest.submission {
        if quick && sub.suite != "echo-server" {
            continue;
        }
        let Some((secs, checks)) = grade_one(sub, build.path(), &python) else {
            continue;
        };
        println!(
            "{:<42} {:<14} {:>7} {:>6.1} {:>8.2}s",
            sub.name,
            sub.suite,
            checks,
            secs,
            secs / checks.max(1) as f64
        );
        if sub.name == CORRECT_ECHO {
            correct_echo = Some((secs, checks));
        }
        by_suite
            .entry(sub.suite.clone())
            .or_default()
            .push((secs, sub.name.clone(), checks));
    }
    // The ratio: a grade's time over the time its launches alone take (one python3 start per check).
    println!(
        "\n{:<14} {:>11} {:>9} {:>9} {:>9} {:>9}  slowest",
        "suite", "submissions", "median s", "x starts", "max s", "x starts"
    );
    let over_starts =
        |secs: f64, checks: usize| secs / (start.as_secs_f64() * checks.max(1) as f64);
    let mut worst: f64 = 0.0;
    for (suite, times) in &mut by_suite {
        times.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (median, _, median_checks) = times[times.len() / 2].clone();
        let (max, slowest, max_checks) = times.last().cloned().unwrap_or_default();
        worst = worst.max(max);
        println!(
            "{suite:<14} {:>11} {median:>9.1} {:>9.1} {max:>9.1} {:>9.1}  {slowest}",
            times.len(),
            over_starts(median, median_checks),
            over_starts(max, max_checks),
        );
    }
    if let Some((secs, checks)) = correct_echo {
        let launches = start.as_secs_f64() * checks as f64;
        println!(
            "\ncorrect echo server ({CORRECT_ECHO}), all {checks} checks: {secs:.1} s \
             ({:.1}x its {checks} python3 starts, {launches:.1} s)",
            secs / launches.max(f64::EPSILON)
        );
    }
    println!(
        "slowest grade: {worst:.1} s\ntargets: no grade over 30 s; the correct echo server under 3 s"
    );
}

/// Grades one submission; its wall time and number of checks.
fn grade_one(sub: &Submission, build: &Path, python: &str) -> Option<(f64, usize)> {
    let compiled = match &sub.compile {
        Some(source) => Some(compile(source, build)?),
        None => None,
    };
    let command: Vec<String> = sub
        .command
        .iter()
        .enumerate()
        .map(|(i, w)| match &compiled {
            Some(program) => w.replace("{compiled}", &program.to_string_lossy()),
            None if i == 0 && w == "python3" => python.to_string(),
            None => w.clone(),
        })
        .collect();
    let mut grading = Grade::suite(&sub.suite)
        .expect("a built-in suite")
        .command(command)
        .seed(SEED);
    let mut args = sub.grade_args.iter();
    while let Some(arg) = args.next() {
        grading = match arg.as_str() {
            "--isolate=on" => grading.isolate(Isolate::On),
            "--isolate=off" => grading.isolate(Isolate::Off),
            "--only" => grading.only(args.next()?.clone()),
            "--skip" => grading.skip(args.next()?.clone()),
            // Deadlines stay as graded: the target is at scale 1.
            "--timeout-scale" => {
                args.next();
                grading
            }
            other => {
                eprintln!(
                    "{}: grade argument {other} not known to the bench, left out",
                    sub.name
                );
                grading
            }
        };
    }
    let started = Instant::now();
    match grading.run() {
        Ok(report) => Some((started.elapsed().as_secs_f64(), report.checks.len())),
        Err(e) => {
            eprintln!("{}: cannot grade: {e}", sub.name);
            None
        }
    }
}

/// Compiles a C fixture with `cc`; `None` (said on stderr) when there is no compiler.
fn compile(source: &str, dir: &Path) -> Option<PathBuf> {
    let out = dir.join(Path::new(source).file_stem()?);
    match Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&out)
        .arg(source)
        .status()
    {
        Ok(status) if status.success() => Some(out),
        other => {
            eprintln!("{source}: not compiled ({other:?}), left out");
            None
        }
    }
}

/// The interpreter `python3` runs, by its path: a version manager's `python3` may be a script that
/// starts it (pyenv's shim doubles the start time), which would be measured as the grader's time.
fn interpreter() -> String {
    Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|path| path.trim().to_string())
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

/// The median of 5 starts of `PYTHON -c pass`.
fn python_start(python: &str) -> Duration {
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let _ = Command::new(python).args(["-c", "pass"]).status();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[2]
}
