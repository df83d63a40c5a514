//! Every program the grader has running and every temporary path it made, in one process-wide registry,
//! so that all of them can be stopped and removed from outside the thread that runs the checks.
//!
//! - An interruption (Ctrl-C, the SIGTERM of a CI job's timeout): [`interrupt`], called from a signal
//!   thread, refuses every new launch and working directory, kills the whole tree of every registered
//!   run (cgroup, process group, processes carrying the run's marker, their descendants) and removes the
//!   runs' working directories, even while the checking thread is in the middle of a ten-second wait.
//! - The grader killed outright (SIGKILL): nothing in it runs any more. [`mirror_to`] copies every
//!   registration, as it happens, into a pipe whose reading end a watchdog process holds in [`watch`];
//!   when the grader dies the pipe reads end-of-file and the watchdog stops and removes what was still
//!   registered.
//! - The watchdog killed too: [`super::sweep`] at the start of the next grade removes what is left, and
//!   the leader of each run can be given `PR_SET_PDEATHSIG` ([`set_parent_death_signal`]).
//!
//! A launch holds a [`Launching`] from before its fork until it is registered, and an interruption takes
//! the other side of that lock before it looks: a program is either registered, or never started.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use super::{cgroup, procfs};
use crate::wire::Deadline;

/// How every run's working directory is named: this, the owner's pid and start time, then random
/// characters (`sockspec-run-4711-123456-AbC123`), so [`super::sweep`] can tell a dead owner's.
pub const WORKDIR_PREFIX: &str = "sockspec-run-";

/// How long stopping registered runs may take before the survivors are counted as stragglers.
const STOP_WAIT: Duration = Duration::from_secs(3);
/// How long removing the runs' cgroups is retried once their processes were killed.
const RELEASE_WAIT: Duration = Duration::from_millis(500);

/// Kill rounds are this far apart at first (killed processes die within milliseconds), then slower.
const ROUND_FIRST: Duration = Duration::from_millis(2);
const ROUND_MAX: Duration = Duration::from_millis(20);

/// What identifies a run's processes from outside the thread, or the process, that started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The leader's pid, which is also the run's process group id; 0 when unknown.
    pub pgid: i32,
    /// The leader's start time (`/proc/PID/stat`), so a later process reusing its pid is never hit.
    pub leader_start: u64,
    /// `SOCKSPEC_RUN=<token>`, the environment entry every process of the run inherits.
    pub marker: String,
    /// The run's cgroups, where it has some (see [`cgroup::RunGroup::dirs`]).
    pub cgroups: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Run(RunInfo),
    /// A run's working directory: removed, whole, by an interruption.
    Workdir(PathBuf),
    /// Another temporary file (a report being written): its owner handles it on an interruption; only
    /// the watchdog removes it.
    Temp(PathBuf),
}

struct Registry {
    next: u64,
    entries: BTreeMap<u64, Entry>,
    /// The watchdog's pipe, where every change is copied.
    mirror: Option<File>,
}

impl Registry {
    fn send(&mut self, id: u64, entry: Option<&Entry>) {
        if let Some(pipe) = &mut self.mirror {
            // A watchdog that is gone cannot be helped; the grader goes on without one.
            if pipe.write_all(&encode(id, entry)).is_err() {
                self.mirror = None;
            }
        }
    }
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 1,
    entries: BTreeMap::new(),
    mirror: None,
});

/// Launches and new working directories hold it shared; [`interrupt`] takes it alone to set
/// [`INTERRUPTED`], so that every launch begun before is registered by then.
static GATE: RwLock<()> = RwLock::new(());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static PARENT_DEATH: AtomicBool = AtomicBool::new(false);

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn add(entry: Entry) -> Registration {
    let mut registry = registry();
    let id = registry.next;
    registry.next += 1;
    registry.send(id, Some(&entry));
    registry.entries.insert(id, entry);
    Registration { id }
}

fn remove(id: u64) -> Option<Entry> {
    let mut registry = registry();
    let entry = registry.entries.remove(&id)?;
    registry.send(id, None);
    Some(entry)
}

/// An entry of the registry; dropping it removes the entry (not the thing it names).
#[derive(Debug)]
#[must_use = "the entry is removed when this is dropped"]
pub struct Registration {
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        remove(self.id);
    }
}

fn refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::Interrupted,
        "the grade is being interrupted: nothing new is started",
    )
}

/// True once [`interrupt`] was called: no program is launched any more.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Held from before a program is forked until it is registered (see the module documentation).
pub struct Launching {
    _gate: RwLockReadGuard<'static, ()>,
}

/// Permission to launch a program: refused (`ErrorKind::Interrupted`) once the grade is interrupted.
pub fn launching() -> io::Result<Launching> {
    let gate = GATE.read().unwrap_or_else(PoisonError::into_inner);
    if interrupted() {
        return Err(refused());
    }
    Ok(Launching { _gate: gate })
}

impl Launching {
    /// Registers the run just started: its leader (`pgid`, unreaped), its `SOCKSPEC_RUN=<token>`
    /// marker and its cgroups. Keep the result as long as the run's processes may live.
    pub fn register(self, pgid: i32, marker: &str, cgroups: Vec<PathBuf>) -> Registration {
        let leader_start = procfs::stat(pgid).map_or(0, |p| p.start);
        add(Entry::Run(RunInfo {
            pgid,
            leader_start,
            marker: marker.to_string(),
            cgroups,
        }))
    }
}

/// A fresh, registered working directory for one launch; removed when dropped.
#[derive(Debug)]
pub struct Workdir {
    // Declared first, dropped first: the directory is gone before its lock and its entry are.
    dir: tempfile::TempDir,
    /// The directory itself, open and `flock`ed while it lives: [`super::sweep`] removes only a
    /// directory nobody holds locked, which it can tell even from another pid namespace sharing /tmp.
    /// `None` where the file system has no locks.
    _lock: Option<File>,
    _registration: Registration,
}

impl Workdir {
    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Makes a working directory `sockspec-run-<pid>-<start>-XXXXXX` in the temporary directory; refused
/// (`ErrorKind::Interrupted`) once the grade is interrupted.
pub fn workdir() -> io::Result<Workdir> {
    let _gate = GATE.read().unwrap_or_else(PoisonError::into_inner);
    if interrupted() {
        return Err(refused());
    }
    let dir = tempfile::Builder::new()
        .prefix(&format!("{WORKDIR_PREFIX}{}-", owner_tag()))
        .tempdir()?;
    let lock = lock_dir(dir.path()).ok().flatten();
    let registration = add(Entry::Workdir(dir.path().to_path_buf()));
    Ok(Workdir {
        dir,
        _lock: lock,
        _registration: registration,
    })
}

/// Opens the directory `path` (never through a symlink) and takes its `flock` without waiting: `None`
/// when another open file holds it. The lock lasts as long as the returned file is open (close-on-exec:
/// no program launched inherits it).
pub(crate) fn lock_dir(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)?;
    // SAFETY: flock on an fd this function owns.
    if unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } == 0
    {
        return Ok(Some(dir));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(None),
        _ => Err(e),
    }
}

/// `<pid>-<start time>` of this process: what names its working directories.
pub fn owner_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let pid = std::process::id() as i32;
        let start = procfs::stat(pid).map_or(0, |p| p.start);
        format!("{pid}-{start}")
    })
}

/// Registers another temporary file (e.g. a report written beside its destination) for the watchdog to
/// remove if the process is killed before it is renamed or removed.
pub fn track_temp(path: &Path) -> Registration {
    add(Entry::Temp(path.to_path_buf()))
}

/// What stopping and removing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleanup {
    /// Runs that still had a live process, all killed.
    pub programs: usize,
    /// Temporary paths removed.
    pub removed: usize,
    /// Processes still alive when the wait ended (stuck in the kernel).
    pub stragglers: usize,
}

impl Cleanup {
    /// True when there was nothing to clean up.
    pub fn is_empty(&self) -> bool {
        *self == Cleanup::default()
    }
}

/// Stops the grade: no new program is launched and no working directory made from now on; every
/// registered run's whole tree is killed (SIGKILL: the checks that were running no longer count) and
/// waited for, its cgroup and working directory removed. Other temporary files are left to their owner.
/// There is no way back: it is meant for a process about to end (on a signal).
pub fn interrupt() -> Cleanup {
    {
        let _gate = GATE.write().unwrap_or_else(PoisonError::into_inner);
        INTERRUPTED.store(true, Ordering::SeqCst);
    }
    let taken: Vec<(u64, Entry)> = registry()
        .entries
        .iter()
        .filter(|(_, e)| !matches!(e, Entry::Temp(_)))
        .map(|(&id, e)| (id, e.clone()))
        .collect();
    let cleanup = clean_up(taken.iter().map(|(_, e)| e));
    for (id, _) in taken {
        remove(id);
    }
    cleanup
}

/// From now on every registration (and those already made) is written to `pipe`, for a watchdog that
/// reads it with [`watch`].
pub fn mirror_to(pipe: File) {
    let mut registry = registry();
    registry.mirror = Some(pipe);
    let entries: Vec<(u64, Entry)> = registry
        .entries
        .iter()
        .map(|(&id, e)| (id, e.clone()))
        .collect();
    for (id, entry) in entries {
        registry.send(id, Some(&entry));
    }
}

/// The watchdog's side: follows the registrations written by [`mirror_to`] until end of file (the
/// grader is gone), then stops and removes everything still registered.
pub fn watch(input: impl Read) -> Cleanup {
    let mut entries: BTreeMap<u64, Entry> = BTreeMap::new();
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // A line without its end was cut by the grader's death: half a path must never be removed.
        let Some(line) = line.strip_suffix(b"\n") else {
            break;
        };
        match decode(line) {
            Some((id, Some(entry))) => {
                entries.insert(id, entry);
            }
            Some((id, None)) => {
                entries.remove(&id);
            }
            None => {}
        }
    }
    clean_up(entries.values())
}

/// Asks that the leader of every run launched from now on be killed when the thread that launched it
/// ends (`PR_SET_PDEATHSIG`). Only for a process whose launching thread lives as long as the process
/// (the `sockspec` command launches from its main thread): a program launched from a short-lived
/// thread would die with that thread.
pub fn set_parent_death_signal(on: bool) {
    PARENT_DEATH.store(on, Ordering::SeqCst);
}

/// What a freshly forked child does about its parent's death; see [`set_parent_death_signal`].
#[derive(Debug, Clone, Copy)]
pub struct ParentDeath {
    parent: Option<libc::pid_t>,
}

/// Taken before the fork, armed in the child with [`ParentDeath::arm`].
pub fn parent_death() -> ParentDeath {
    ParentDeath {
        // SAFETY: getpid has no preconditions.
        parent: PARENT_DEATH
            .load(Ordering::SeqCst)
            .then(|| unsafe { libc::getpid() }),
    }
}

impl ParentDeath {
    /// Arms the signal; fails if the parent died before that (the program must then not start).
    ///
    /// # Safety
    /// Only in a freshly forked child (as from `CommandExt::pre_exec`): it calls only async-signal-safe
    /// functions and allocates nothing.
    pub unsafe fn arm(&self) -> io::Result<()> {
        if let Some(parent) = self.parent {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
        }
        Ok(())
    }
}

fn clean_up<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Cleanup {
    let mut runs = Vec::new();
    let mut paths = Vec::new();
    for entry in entries {
        match entry {
            Entry::Run(run) => runs.push(run.clone()),
            Entry::Workdir(path) | Entry::Temp(path) => paths.push(path.clone()),
        }
    }
    let (programs, stragglers) = stop_all(&runs, STOP_WAIT);
    // A killed process keeps its cgroup busy until its parent reaps it, and here the parent (this
    // process, the leader's parent and the subreaper of its descendants) is ending without doing so:
    // the run's own processes are reaped here, and removing a group is retried for a moment.
    let deadline = Deadline::after(RELEASE_WAIT);
    for run in &runs {
        for dir in &run.cgroups {
            let mut pause = ROUND_FIRST;
            loop {
                run.reap(dir);
                // Only an empty cgroup can be removed; one with a straggler stays for the next sweep.
                let gone = match fs::remove_dir(dir) {
                    Ok(()) => true,
                    Err(e) => e.kind() == io::ErrorKind::NotFound,
                };
                let Some(left) = deadline.remaining().filter(|_| !gone) else {
                    break;
                };
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(ROUND_MAX);
            }
        }
    }
    let removed = paths.iter().filter(|p| remove_path(p)).count();
    Cleanup {
        programs,
        removed,
        stragglers,
    }
}

/// Removes a file, or a directory and everything in it (never following a symlink); true if it was there.
pub(crate) fn remove_path(path: &Path) -> bool {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).is_ok(),
        Ok(_) => fs::remove_file(path).is_ok(),
        Err(_) => false,
    }
}

/// Kills every process of `runs` with SIGKILL, in rounds (a process forking fast can start a child
/// between a scan and the kill of its parent), until none is alive or `wait` passed. Returns how many
/// runs had a live process, and how many processes were still alive at the end.
pub fn stop_all(runs: &[RunInfo], wait: Duration) -> (usize, usize) {
    let deadline = Deadline::after(wait);
    let mut pause = ROUND_FIRST;
    let mut had_live = vec![false; runs.len()];
    loop {
        let mut live = 0;
        for (run, had) in runs.iter().zip(&mut had_live) {
            let n = run.kill_round();
            *had |= n > 0;
            live += n;
        }
        let programs = had_live.iter().filter(|&&h| h).count();
        if live == 0 {
            return (programs, 0);
        }
        let Some(left) = deadline.remaining() else {
            return (programs, live);
        };
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(ROUND_MAX);
    }
}

impl RunInfo {
    /// Reaps, without waiting, the run's leader and the processes left in `cgroup` that are this
    /// process's children (zombies once killed); others are not ours to reap, and are left alone.
    fn reap(&self, cgroup: &Path) {
        let pids = std::iter::once(self.pgid).chain(cgroup::members_of(cgroup));
        for pid in pids.filter(|&pid| pid > 1) {
            let mut status = 0;
            // SAFETY: waitpid on one pid, WNOHANG, into a valid status; not our child: ECHILD.
            unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        }
    }

    /// Sends SIGKILL to every live process of the run; returns how many there were.
    fn kill_round(&self) -> usize {
        let members: HashSet<i32> = self
            .cgroups
            .iter()
            .flat_map(|dir| cgroup::members_of(dir))
            .collect();
        // SAFETY: getpgrp has no preconditions.
        let own_group = unsafe { libc::getpgrp() };
        let has_group = self.pgid > 1 && self.pgid != own_group;
        // Found before anything is killed: a process killed through its cgroup is gone at once.
        let procs = procfs::with_descendants(|p| {
            (has_group && p.pgrp == self.pgid)
                || members.contains(&p.pid)
                || (!p.is_zombie() && procfs::has_env_entry(p.pid, &self.marker))
        });
        for dir in &self.cgroups {
            cgroup::kill_members(dir);
        }
        // While the leader is unreaped (alive or a zombie, seen with its own start time), its pid and so
        // the group id are this run's. Afterwards a process whose group is the run's is still a member:
        // the kernel does not reuse a group id while any process is in the group.
        if has_group && procfs::stat(self.pgid).is_some_and(|p| p.start == self.leader_start) {
            // SAFETY: killpg on the run's own process group, checked just above.
            unsafe { libc::killpg(self.pgid, libc::SIGKILL) };
        }
        let mut live = 0;
        for p in procs.iter().filter(|p| !p.is_zombie()) {
            live += 1;
            if procfs::stat(p.pid).is_some_and(|now| now.start == p.start && !now.is_zombie()) {
                // SAFETY: kill(2) on a pid just checked to be the process found in the run.
                unsafe { libc::kill(p.pid, libc::SIGKILL) };
            }
        }
        live
    }
}

/// One line of the watchdog's pipe: `run ID PGID START MARKER CGROUPS`, `dir ID PATH`, `tmp ID PATH` or
/// `end ID`; text fields in hex, so any byte of a path survives; CGROUPS comma-separated, `-` for none.
fn encode(id: u64, entry: Option<&Entry>) -> Vec<u8> {
    let line = match entry {
        Some(Entry::Run(run)) => format!(
            "run {id} {} {} {} {}",
            run.pgid,
            run.leader_start,
            hex(run.marker.as_bytes()),
            if run.cgroups.is_empty() {
                "-".to_string()
            } else {
                let dirs: Vec<String> = run
                    .cgroups
                    .iter()
                    .map(|p| hex(p.as_os_str().as_bytes()))
                    .collect();
                dirs.join(",")
            }
        ),
        Some(Entry::Workdir(path)) => format!("dir {id} {}", hex(path.as_os_str().as_bytes())),
        Some(Entry::Temp(path)) => format!("tmp {id} {}", hex(path.as_os_str().as_bytes())),
        None => format!("end {id}"),
    };
    format!("{line}\n").into_bytes()
}

fn decode(line: &[u8]) -> Option<(u64, Option<Entry>)> {
    let line = std::str::from_utf8(line).ok()?;
    let words: Vec<&str> = line.split(' ').collect();
    let id = words.get(1)?.parse().ok()?;
    let path = |word: &str| Some(PathBuf::from(OsStr::from_bytes(&unhex(word)?)));
    let entry = match (words[0], words.len()) {
        ("run", 6) => Some(Entry::Run(RunInfo {
            pgid: words[2].parse().ok()?,
            leader_start: words[3].parse().ok()?,
            marker: String::from_utf8(unhex(words[4])?).ok()?,
            cgroups: match words[5] {
                "-" => Vec::new(),
                words => words.split(',').map(path).collect::<Option<_>>()?,
            },
        })),
        ("dir", 3) => Some(Entry::Workdir(path(words[2])?)),
        ("tmp", 3) => Some(Entry::Temp(path(words[2])?)),
        ("end", 2) => None,
        _ => return None,
    };
    Some((id, entry))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_survives_the_pipe() {
        let entries = [
            Entry::Run(RunInfo {
                pgid: 4711,
                leader_start: 99,
                marker: "SOCKSPEC_RUN=1a-0-ff".into(),
                cgroups: vec![
                    "/sys/fs/cgroup/unified/sockspec-1a-0-ff".into(),
                    "/sys/fs/cgroup/pids/sockspec-1a-0-ff".into(),
                ],
            }),
            Entry::Run(RunInfo {
                pgid: 12,
                leader_start: 0,
                marker: "SOCKSPEC_RUN=x".into(),
                cgroups: Vec::new(),
            }),
            Entry::Workdir(PathBuf::from(OsStr::from_bytes(b"/tmp/a b\n\xff"))),
            Entry::Temp("/home/t/.sockspec-report-x".into()),
        ];
        for (id, entry) in entries.iter().enumerate() {
            let line = encode(id as u64, Some(entry));
            assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            let decoded = decode(&line[..line.len() - 1]);
            assert_eq!(decoded, Some((id as u64, Some(entry.clone()))));
        }
        assert_eq!(decode(b"end 7"), Some((7, None)));
        assert_eq!(decode(b"run 7 1"), None);
        assert_eq!(decode(b"dir 7 abc"), None, "odd hex");
    }

    #[test]
    fn the_watchdog_cleans_up_what_is_still_registered_at_end_of_file() {
        let base = tempfile::tempdir().unwrap();
        let kept = base.path().join("kept");
        let left = base.path().join("left");
        let file = base.path().join("report.tmp");
        fs::create_dir(&kept).unwrap();
        fs::create_dir_all(left.join("inner")).unwrap();
        fs::write(&file, "partial").unwrap();
        let mut pipe = Vec::new();
        pipe.extend(encode(1, Some(&Entry::Workdir(kept.clone()))));
        pipe.extend(encode(2, Some(&Entry::Workdir(left.clone()))));
        pipe.extend(encode(3, Some(&Entry::Temp(file.clone()))));
        pipe.extend(encode(1, None));
        // A line cut by the grader's death is ignored: `/t` is not removed.
        pipe.extend(b"dir 4 2f74");
        let cleanup = watch(pipe.as_slice());
        assert_eq!(cleanup.removed, 2, "{cleanup:?}");
        assert!(kept.exists() && !left.exists() && !file.exists());
    }
}
