//! Resource limits of a program under test (the suite's `[limits]` table), how they are applied, and how
//! a breach is recognised from evidence.
//!
//! Applied to every launch: `setrlimit` in the child before exec for CPU time, address space, open files
//! and file size (each process of the program inherits them), and the process limit through the `pids`
//! cgroup controller where the grader can make such a cgroup ([`super::cgroup`]): `RLIMIT_NPROC` counts
//! every process of the user, not of the program, and does not bind root at all. Without a `pids`
//! cgroup an ordinary user gets `RLIMIT_NPROC` set to the processes the user already runs plus the
//! limit (approximate); root gets no process limit, and the report says so.
//!
//! A breach is never guessed. It is reported only on evidence the kernel or the program gave:
//!
//! - CPU time: a process of the program was killed by SIGXCPU (the soft limit; the hard one, SIGKILL, is
//!   5 s later and is not told apart from other kills).
//! - File size: killed by SIGXFSZ, or `File too large` (EFBIG) on stderr, as Python ignores SIGXFSZ.
//! - Processes: the `pids` cgroup counted refused forks (`pids.events`), or, under `RLIMIT_NPROC`, a
//!   failed `fork` with `Resource temporarily unavailable` on stderr.
//! - Open files: `Too many open files` (EMFILE) on stderr.
//! - Address space: `MemoryError`, `Cannot allocate memory`, `memory allocation of` or `bad_alloc` on
//!   stderr.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How long past the CPU soft limit (SIGXCPU, which a program may catch) the hard limit (SIGKILL) is.
pub const CPU_HARD_MARGIN_SECS: u64 = 5;

/// One mebibyte.
const MIB: u64 = 1024 * 1024;

/// The limits of each program launched, as a suite gives them. Every field is optional in the suite
/// file; the defaults fit the lesson's programs with room to spare, including a thread per client for
/// fifty clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// CPU seconds per process (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Address space per process, in MiB (`RLIMIT_AS`).
    pub address_space_mib: u64,
    /// Open files per process (`RLIMIT_NOFILE`).
    pub open_files: u64,
    /// Processes and threads of the whole program (`pids.max`).
    pub processes: u64,
    /// Largest file a process may write, in MiB (`RLIMIT_FSIZE`).
    pub file_size_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_seconds: 60,
            address_space_mib: 4096,
            open_files: 1024,
            processes: 128,
            file_size_mib: 256,
        }
    }
}

/// Accepted ranges, so a typo (`processes = 0`, `address_space_mib = 4`) is caught when the suite loads
/// instead of making every program crash at start.
const RANGES: [(&str, u64, u64); 5] = [
    ("cpu_seconds", 1, 86_400),
    ("address_space_mib", 64, 1 << 24),
    ("open_files", 16, 1 << 20),
    ("processes", 1, 1 << 22),
    ("file_size_mib", 1, 1 << 22),
];

impl Limits {
    /// Checks every value against its range; the error names the field and the range.
    pub fn validate(&self) -> Result<(), String> {
        let values = [
            self.cpu_seconds,
            self.address_space_mib,
            self.open_files,
            self.processes,
            self.file_size_mib,
        ];
        for ((name, low, high), value) in RANGES.iter().zip(values) {
            if !(*low..=*high).contains(&value) {
                return Err(format!(
                    "limits.{name} must be from {low} to {high} (it is {value})"
                ));
            }
        }
        Ok(())
    }

    /// The rlimits a child sets before exec, adjusted to what this process may set: an unprivileged
    /// process cannot raise a hard limit, so a value above its own is lowered to it.
    pub fn rlimits(&self, nproc: Option<u64>) -> Vec<Rlimit> {
        let mut out = vec![
            Rlimit::new(
                libc::RLIMIT_CPU,
                self.cpu_seconds,
                self.cpu_seconds + CPU_HARD_MARGIN_SECS,
            ),
            Rlimit::same(libc::RLIMIT_AS, self.address_space_mib * MIB),
            Rlimit::same(libc::RLIMIT_NOFILE, self.open_files),
            Rlimit::same(libc::RLIMIT_FSIZE, self.file_size_mib * MIB),
            // No core files: a program killed by SIGXCPU or SIGSEGV would write its memory into the
            // working directory.
            Rlimit::same(libc::RLIMIT_CORE, 0),
        ];
        if let Some(n) = nproc {
            out.push(Rlimit::same(libc::RLIMIT_NPROC, n));
        }
        for limit in &mut out {
            limit.fit_to_current();
        }
        out
    }

    /// The sentence a report gives for a breach of `which`.
    pub fn describe(&self, which: Limit) -> String {
        match which {
            Limit::Cpu => format!("the CPU time limit of {} s", self.cpu_seconds),
            Limit::AddressSpace => {
                format!("the address space limit of {} MiB", self.address_space_mib)
            }
            Limit::OpenFiles => format!("the open files limit of {}", self.open_files),
            Limit::Processes => format!("the process limit of {}", self.processes),
            Limit::FileSize => format!("the file size limit of {} MiB", self.file_size_mib),
        }
    }
}

/// The type glibc gives resource numbers (an enum); other C libraries use `int`.
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

/// One resource limit to set in the child.
#[derive(Debug, Clone, Copy)]
pub struct Rlimit {
    resource: Resource,
    value: libc::rlimit,
}

impl Rlimit {
    fn new(resource: Resource, soft: u64, hard: u64) -> Rlimit {
        Rlimit {
            resource,
            value: libc::rlimit {
                rlim_cur: soft as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            },
        }
    }

    fn same(resource: Resource, value: u64) -> Rlimit {
        Rlimit::new(resource, value, value)
    }

    fn fit_to_current(&mut self) {
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit(2) into a local struct.
        if unsafe { libc::getrlimit(self.resource, &mut current) } != 0 {
            return;
        }
        // Only root of the initial user namespace may raise a hard limit (up to `fs.nr_open` for open
        // files); anyone else gets at most the hard limit it has.
        let cap = match (initial_root(), self.resource == libc::RLIMIT_NOFILE) {
            (true, true) => nofile_cap(),
            (true, false) => libc::RLIM_INFINITY,
            (false, _) => current.rlim_max,
        };
        self.value.rlim_max = self.value.rlim_max.min(cap);
        self.value.rlim_cur = self.value.rlim_cur.min(self.value.rlim_max);
    }

    /// Sets the limit on the calling process. Async-signal-safe: for the child between fork and exec.
    /// A limit that cannot be set is left as inherited.
    pub fn apply(&self) {
        // SAFETY: setrlimit(2) with a struct owned by self.
        unsafe { libc::setrlimit(self.resource, &self.value) };
    }
}

/// True for root in the initial user namespace (whose uid map is the whole identity).
fn initial_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0
        && std::fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
}

/// How the process limit of a program is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProcessCap {
    /// `pids.max` of the program's own cgroup: exact, and `pids.events` shows a breach.
    PidsCgroup,
    /// `RLIMIT_NPROC`: counts every process of the user, so it is set to what the user runs already plus
    /// the limit (approximate).
    Rlimit,
    /// Not enforced: root without a `pids` cgroup (root is exempt from `RLIMIT_NPROC`); also what a
    /// report written before limits existed reads as.
    #[default]
    None,
}

/// How the process limit can be enforced when no `pids` cgroup could be made.
pub fn process_cap_without_cgroup() -> ProcessCap {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    // RLIMIT_NPROC binds every user but root (uid 0 of the initial user namespace).
    if uid == 0 && initial_root() {
        ProcessCap::None
    } else {
        ProcessCap::Rlimit
    }
}

/// The `RLIMIT_NPROC` value that lets a program of this user start `processes` more tasks: the kernel
/// counts all the user's tasks (threads included), so those it runs now are added.
pub fn nproc_allowance(processes: u64) -> u64 {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let mut running = 0u64;
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if entry
                .file_name()
                .to_str()
                .is_none_or(|n| n.parse::<u32>().is_err())
            {
                continue;
            }
            let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
                continue;
            };
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            };
            if field("Uid:") == Some(u64::from(uid)) {
                running += field("Threads:").unwrap_or(1);
            }
        }
    }
    running + processes
}

/// The most open files the kernel lets any process have (`fs.nr_open`).
fn nofile_cap() -> libc::rlim_t {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

/// The limits a breach can concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// CPU time (`RLIMIT_CPU`).
    Cpu,
    /// Address space, i.e. memory (`RLIMIT_AS`).
    AddressSpace,
    /// Open files (`RLIMIT_NOFILE`).
    OpenFiles,
    /// Processes and threads (the `pids` cgroup, or `RLIMIT_NPROC`).
    Processes,
    /// Size of a file written (`RLIMIT_FSIZE`).
    FileSize,
}

/// What the grader saw of a stopped program that can show a breach.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Signals that killed processes of the program (the leader and the descendants reaped here).
    pub killed_by: Vec<i32>,
    /// Forks (and thread starts) the `pids` cgroup refused, when the program had one.
    pub refused_forks: Option<u64>,
    /// The process limit was enforced by `RLIMIT_NPROC` (no cgroup).
    pub nproc_rlimit: bool,
    /// The end of what the program wrote on stderr.
    pub stderr: Vec<u8>,
}

/// A limit the program ran into, and the evidence in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The limit concerned.
    pub limit: Limit,
    /// "exceeded the process limit of 128 (the kernel refused 37 new processes or threads)"
    pub message: String,
    /// The kernel's own evidence (a signal, forks the cgroup refused), not the program's words on
    /// stderr: only this turns a check that passed into `limit`; words explain a failure.
    pub certain: bool,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Evidence {
    /// The breach this evidence proves, if any (the first by the table's order of certainty).
    pub fn breach(&self, limits: &Limits) -> Option<Breach> {
        let says = |text: &str| contains(&self.stderr, text.as_bytes());
        let killed = |signal: i32| self.killed_by.contains(&signal);
        let (limit, how) = if killed(libc::SIGXCPU) {
            (Limit::Cpu, "killed by SIGXCPU".to_string())
        } else if killed(libc::SIGXFSZ) {
            (Limit::FileSize, "killed by SIGXFSZ".to_string())
        } else if let Some(n) = self.refused_forks.filter(|&n| n > 0) {
            (
                Limit::Processes,
                format!(
                    "the kernel refused {n} new process{} or thread{}",
                    if n == 1 { "" } else { "es" },
                    if n == 1 { "" } else { "s" }
                ),
            )
        } else if self.nproc_rlimit && says("fork") && says("Resource temporarily unavailable") {
            (
                Limit::Processes,
                "fork failed: Resource temporarily unavailable".to_string(),
            )
        } else if says("Too many open files") {
            (Limit::OpenFiles, "stderr: Too many open files".to_string())
        } else if says("File too large") {
            (Limit::FileSize, "stderr: File too large".to_string())
        } else if let Some(text) = [
            "MemoryError",
            "Cannot allocate memory",
            "memory allocation of",
            "bad_alloc",
        ]
        .into_iter()
        .find(|t| says(t))
        {
            (Limit::AddressSpace, format!("stderr: {text}"))
        } else {
            return None;
        };
        let certain = killed(libc::SIGXCPU)
            || killed(libc::SIGXFSZ)
            || self.refused_forks.is_some_and(|n| n > 0);
        Some(Breach {
            limit,
            message: format!("exceeded {} ({how})", limits.describe(limit)),
            certain,
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert_eq!(Limits::default().validate(), Ok(()));
        let bad = Limits {
            processes: 0,
            ..Limits::default()
        };
        assert_eq!(
            bad.validate(),
            Err("limits.processes must be from 1 to 4194304 (it is 0)".into())
        );
    }

    #[test]
    fn a_breach_needs_evidence() {
        let limits = Limits::default();
        let none = Evidence {
            killed_by: vec![libc::SIGKILL, libc::SIGSEGV],
            stderr:
                b"Traceback ...\nBlockingIOError: [Errno 11] Resource temporarily unavailable\n"
                    .to_vec(),
            ..Evidence::default()
        };
        // EAGAIN on a non-blocking socket is not a fork failure, and no cgroup counted refusals.
        assert_eq!(none.breach(&limits), None);
        let forks = Evidence {
            refused_forks: Some(37),
            ..Evidence::default()
        };
        assert_eq!(
            forks.breach(&limits).map(|b| b.message),
            Some(
                "exceeded the process limit of 128 (the kernel refused 37 new processes or threads)"
                    .into()
            )
        );
        let cpu = Evidence {
            killed_by: vec![libc::SIGXCPU],
            ..Evidence::default()
        };
        assert_eq!(
            cpu.breach(&limits).map(|b| (b.limit, b.certain)),
            Some((Limit::Cpu, true))
        );
        let files = Evidence {
            stderr: b"OSError: [Errno 24] Too many open files\n".to_vec(),
            ..Evidence::default()
        };
        // The program's words explain a failure, but do not make a passing check a breach.
        assert_eq!(
            files.breach(&limits).map(|b| (b.limit, b.certain)),
            Some((Limit::OpenFiles, false))
        );
    }
}
