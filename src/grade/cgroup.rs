//! A control group per run, where the system lets us make one (root, or a delegated cgroup tree).
//!
//! A process can leave its process group (`setsid()`) and drop the environment that marks the run
//! (`execve` with an empty environment), and once its parent exits nothing in `/proc` links it to the run
//! any more. It cannot leave its cgroup: children are born in their parent's. So where a cgroup can be
//! made, every process the program ever starts is found through it, and stopped. Where none can be made
//! (an ordinary user on a system that delegates none), the run is found as before, by process group,
//! marker and ancestry.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Where cgroup trees are mounted: the unified (v2) tree first, then v1 hierarchies that every process is
/// in and that put no limits on their members.
const ROOTS: &[&str] = &[
    "/sys/fs/cgroup/unified",
    "/sys/fs/cgroup",
    "/sys/fs/cgroup/pids",
    "/sys/fs/cgroup/systemd",
];

/// The run's cgroup; removed when dropped (the kernel only allows that once it is empty).
#[derive(Debug)]
pub struct RunGroup {
    dir: PathBuf,
    /// `DIR/cgroup.procs`, ready for the child to write itself into between fork and exec, where
    /// nothing may allocate.
    procs: CString,
}

impl RunGroup {
    /// Makes a cgroup named after the run's token in the first tree that allows it; `None` where none does.
    pub fn create(token: &str) -> Option<RunGroup> {
        ROOTS.iter().find_map(|root| {
            let root = Path::new(root);
            if !root.join("cgroup.procs").is_file() {
                return None;
            }
            let dir = root.join(format!("{NAME_PREFIX}{token}"));
            fs::create_dir(&dir).ok()?;
            let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).ok()?;
            Some(RunGroup { dir, procs })
        })
    }

    /// What the child needs to join the group: a copy of the path, owned by the `pre_exec` closure.
    pub fn join_handle(&self) -> Joiner {
        Joiner {
            procs: self.procs.clone(),
        }
    }

    /// The pids in the group now.
    pub fn members(&self) -> HashSet<i32> {
        members_of(&self.dir)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// Joins a [`RunGroup`] from a freshly forked child.
pub struct Joiner {
    procs: CString,
}

impl Joiner {
    /// Moves the calling process into the group. Only async-signal-safe calls: it runs in the child
    /// between fork and exec, where nothing may allocate. Best effort: a child that cannot join is still
    /// found the other ways.
    ///
    /// # Safety
    /// To be called only in a freshly forked child (as from `CommandExt::pre_exec`).
    pub unsafe fn join_self(&self) {
        let fd = libc::open(self.procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            // "0" is the writing process itself, in both cgroup versions.
            libc::write(fd, b"0\n".as_ptr().cast(), 2);
            libc::close(fd);
        }
    }
}

impl Drop for RunGroup {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

/// What every run's cgroup is named: this, then the run's token.
pub const NAME_PREFIX: &str = "sockspec-";

/// The pids in the cgroup at `dir` now.
pub fn members_of(dir: &Path) -> HashSet<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Sends SIGKILL to every process in the cgroup at `dir`: all at once through `cgroup.kill` where the
/// kernel has it (cgroup v2, Linux 5.14; it also takes children forked meanwhile), else one by one.
pub fn kill_members(dir: &Path) {
    if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for pid in members_of(dir) {
        // SAFETY: kill(2) on a pid the kernel lists in the run's cgroup.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Every run cgroup that exists now, in each tree sockspec makes them in, with the run's token.
pub fn existing() -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for root in ROOTS {
        let Ok(dir) = fs::read_dir(root) else {
            continue;
        };
        for entry in dir.flatten() {
            let name = entry.file_name();
            let token = name.to_str().and_then(|n| n.strip_prefix(NAME_PREFIX));
            if let Some(token) = token.filter(|_| entry.path().join("cgroup.procs").is_file()) {
                found.push((entry.path(), token.to_string()));
            }
        }
    }
    found
}
