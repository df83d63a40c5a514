//! The class benchmark: a synthetic class built from the fixture submissions (correct, buggy and missing
//! programs mixed, one folder per student), graded by `sockspec batch` with `-j 1` (the anchor) and with
//! the default `-j`, each in the same run. Prints students/minute, the speed-up, the grader's peak RSS
//! and how busy the cores were (CPU seconds of the grader and its programs over wall time × cores),
//! which says what bounds the batch: the cores, or the programs' waiting.
//!
//! `cargo bench --bench class` grades 100 students (the `-j 1` anchor on the first 12 of them, as one
//! grade at a time is the slow part); `-- --quick` grades 24 (anchor on 6); `-- class --jobs 2,4,8,16`
//! measures those `-j` values too (to choose the default). Each student's program gets the ECHO
//! server's basic checks (see MANIFEST), so the figures are per grade of that size.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The programs of the synthetic class, in turn; `None`: a student who handed in nothing.
const PROGRAMS: &[Option<&str>] = &[
    Some("echo/threaded.py"),
    Some("echo/line_threaded.py"),
    Some("echo/sequential.py"),
    Some("echo/single.py"),
    Some("echo/wrong_prefix.py"),
    Some("echo/strips_message.py"),
    Some("echo/crash_on_close.py"),
    Some("echo/threaded.py"),
    Some("echo/sequential_claims_concurrent.py"),
    None,
];

const MANIFEST: &str = r#"
class = "benchmark class"
seed = 1
[[assignment]]
name = "echo"
suite = "echo-server"
files = ["*server*.py"]
only = ["echo-server/basic/*"]
"#;

struct Measured {
    students: usize,
    jobs: String,
    wall: Duration,
    peak_rss_kib: u64,
    /// CPU seconds of the grader and every program it ran.
    cpu: f64,
}

impl Measured {
    fn per_minute(&self) -> f64 {
        self.students as f64 / (self.wall.as_secs_f64() / 60.0)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sections: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    // `cargo bench -- echo` names another bench's section: nothing to do here.
    if !sections.is_empty() && !sections.iter().any(|s| *s == "class") {
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let sweep: Vec<usize> = args
        .iter()
        .position(|a| a == "--jobs")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    let (students, anchor_students) = if quick { (24, 6) } else { (100, 12) };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "sockspec class benchmark: {students} students × echo-server basic checks, {cores} cores, \
         load average {}",
        load_average()
    );
    let root = tempfile::tempdir().expect("a temporary directory");
    build_class(&root.path().join("class"), students);
    build_class(&root.path().join("anchor"), anchor_students);

    let anchor = grade(root.path(), "anchor", Some(1), anchor_students);
    report(&anchor, None, cores);
    for jobs in sweep {
        let m = grade(root.path(), "class", Some(jobs), students);
        report(&m, Some(&anchor), cores);
    }
    let default = grade(root.path(), "class", None, students);
    report(&default, Some(&anchor), cores);
    let target = 200.0 * 8.0 / 10.0;
    println!(
        "the issue's target, a 200-student × 8-assignment class in 10 minutes, is {target:.0} grades/min: \
         the default -j made {:.1} grades/min of this size here ({:.0}% of it)",
        default.per_minute(),
        100.0 * default.per_minute() / target
    );
}

/// One folder per student, each with its program under a name a student would choose.
fn build_class(dir: &Path, students: usize) {
    let submissions = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions");
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("sockspec.toml"), MANIFEST).unwrap();
    for i in 0..students {
        let folder = dir.join(format!("s{i:03}"));
        fs::create_dir_all(&folder).unwrap();
        if let Some(program) = PROGRAMS[i % PROGRAMS.len()] {
            fs::copy(submissions.join(program), folder.join("echo_server.py")).unwrap();
        }
    }
}

/// Runs `sockspec batch` on `class` and measures it: wall time, the grader's peak RSS (its VmHWM,
/// sampled until it ends: a high-water mark only grows), and CPU seconds of it and its programs.
fn grade(root: &Path, class: &str, jobs: Option<usize>, students: usize) -> Measured {
    let out = format!(
        "out-{class}-{}",
        jobs.map_or("default".into(), |j| j.to_string())
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_sockspec"));
    command
        .args(["batch", class, "-o", &out])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(jobs) = jobs {
        command.args(["-j", &jobs.to_string()]);
    }
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut child = command.spawn().expect("sockspec batch starts");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(hwm) = fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm(&s))
        {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().expect("waitable") {
            break status;
        }
        // Sampling a high-water mark: the last sample before the end is the peak within 50 ms.
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = started.elapsed();
    assert!(status.success(), "sockspec batch {class} failed: {status}");
    Measured {
        students,
        jobs: jobs.map_or_else(|| "default".into(), |j| j.to_string()),
        wall,
        peak_rss_kib: peak,
        cpu: children_cpu() - cpu_before,
    }
}

fn report(m: &Measured, anchor: Option<&Measured>, cores: usize) {
    let busy = m.cpu / (m.wall.as_secs_f64() * cores as f64);
    let speed_up = anchor.map_or(String::from("anchor"), |a| {
        format!("{:.2}× the -j 1 rate", m.per_minute() / a.per_minute())
    });
    println!(
        "-j {:<8} {:>4} students in {:>6.1} s: {:>6.1} students/min ({speed_up}); grader peak RSS \
         {:.1} MiB; CPU {:.0} s = {:.0}% of {cores} cores",
        m.jobs,
        m.students,
        m.wall.as_secs_f64(),
        m.per_minute(),
        m.peak_rss_kib as f64 / 1024.0,
        m.cpu,
        100.0 * busy
    );
}

fn vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// User + system CPU seconds of every waited-for descendant of this process so far.
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills a zeroed struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
