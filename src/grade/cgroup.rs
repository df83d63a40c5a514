//! Control groups per run, where the system lets us make them (root, or a delegated cgroup tree): one to
//! find every process of the program, and one to cap how many it may have.
//!
//! A process can leave its process group (`setsid()`) and drop the environment that marks the run
//! (`execve` with an empty environment), and once its parent exits nothing in `/proc` links it to the run
//! any more. It cannot leave its cgroup: children are born in their parent's. So where a cgroup can be
//! made, every process the program ever starts is found through it, and stopped. Where none can be made
//! (an ordinary user on a system that delegates none), the run is found as before, by process group,
//! marker and ancestry.
//!
//! The process limit needs the `pids` controller: `pids.max` caps the tasks (processes and threads) of
//! the group, and `pids.events` counts the forks it refused, which is the evidence of a breach. It is
//! found in the unified (v2) tree when that tree has the controller enabled for its children, or else
//! in a v1 `pids` hierarchy. On a hybrid system (v2 tree without controllers, v1 `pids`), the program
//! joins one group in each.

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

/// Where a v1 `pids` hierarchy is mounted.
const PIDS_V1: &str = "/sys/fs/cgroup/pids";

/// The run's cgroups; removed when dropped (the kernel only allows that once they are empty).
#[derive(Debug)]
pub struct RunGroup {
    /// The group whose members are the run's processes.
    dir: PathBuf,
    /// The group that limits the run's processes, when one could be made (it may be `dir` itself).
    pids: Option<PathBuf>,
    /// `cgroup.procs` of every group the child joins, ready for it to write itself into between fork
    /// and exec, where nothing may allocate.
    procs: Vec<CString>,
}

impl RunGroup {
    /// Makes a cgroup named after the run's token in the first tree that allows it; `None` where none does.
    pub fn create(token: &str) -> Option<RunGroup> {
        RunGroup::create_limited(token, None)
    }

    /// Like [`RunGroup::create`], and with `max_tasks`, also a `pids` group capped at that many tasks
    /// when one can be made ([`RunGroup::limits_tasks`] says whether it was).
    pub fn create_limited(token: &str, max_tasks: Option<u64>) -> Option<RunGroup> {
        let name = format!("{NAME_PREFIX}{token}");
        let (dir, root) = ROOTS.iter().find_map(|root| {
            let root = Path::new(root);
            if !root.join("cgroup.procs").is_file() {
                return None;
            }
            let dir = root.join(&name);
            fs::create_dir(&dir).ok()?;
            Some((dir, root))
        })?;
        let mut group = RunGroup {
            procs: vec![procs_path(&dir)?],
            dir,
            pids: None,
        };
        if let Some(max) = max_tasks {
            let cap = |dir: &Path| fs::write(dir.join("pids.max"), max.to_string()).is_ok();
            if v2_with_pids(root) || root == Path::new(PIDS_V1) {
                group.pids = cap(&group.dir).then(|| group.dir.clone());
            } else if Path::new(PIDS_V1).join("cgroup.procs").is_file() {
                let dir = Path::new(PIDS_V1).join(&name);
                if fs::create_dir(&dir).is_ok() {
                    match procs_path(&dir).filter(|_| cap(&dir)) {
                        Some(procs) => {
                            group.procs.push(procs);
                            group.pids = Some(dir);
                        }
                        None => {
                            let _ = fs::remove_dir(&dir);
                        }
                    }
                }
            }
        }
        Some(group)
    }

    /// What the child needs to join the groups: a copy of the paths, owned by the `pre_exec` closure.
    pub fn join_handle(&self) -> Joiner {
        Joiner {
            procs: self.procs.clone(),
        }
    }

    /// The pids in the group now.
    pub fn members(&self) -> HashSet<i32> {
        members_of(&self.dir)
    }

    /// The group's directory under `/sys/fs/cgroup`.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Every group the run's processes are in: the one that finds them, and the `pids` group that caps
    /// them when that is another one (a hybrid system). An interruption kills and removes them all.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.dir.clone()];
        dirs.extend(self.pids.iter().filter(|p| **p != self.dir).cloned());
        dirs
    }

    /// True when the group caps the run's tasks (`pids.max`).
    pub fn limits_tasks(&self) -> bool {
        self.pids.is_some()
    }

    /// How many forks or thread starts the `pids` limit refused so far (`max N` in `pids.events`).
    pub fn refused_forks(&self) -> Option<u64> {
        let events = fs::read_to_string(self.pids.as_ref()?.join("pids.events")).ok()?;
        events
            .lines()
            .find_map(|l| l.strip_prefix("max "))
            .and_then(|n| n.trim().parse().ok())
    }
}

fn procs_path(dir: &Path) -> Option<CString> {
    CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).ok()
}

/// True for a v2 tree whose children get the `pids` controller.
fn v2_with_pids(root: &Path) -> bool {
    let enabled = |file: &str| {
        fs::read_to_string(root.join(file))
            .is_ok_and(|text| text.split_whitespace().any(|c| c == "pids"))
    };
    enabled("cgroup.controllers") && enabled("cgroup.subtree_control")
}

/// Joins a [`RunGroup`] from a freshly forked child.
pub struct Joiner {
    procs: Vec<CString>,
}

impl Joiner {
    /// Moves the calling process into the groups. Only async-signal-safe calls: it runs in the child
    /// between fork and exec, where nothing may allocate. Best effort: a child that cannot join is still
    /// found the other ways (and is not limited).
    ///
    /// # Safety
    /// To be called only in a freshly forked child (as from `CommandExt::pre_exec`).
    pub unsafe fn join_self(&self) {
        for procs in &self.procs {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                // "0" is the writing process itself, in both cgroup versions.
                libc::write(fd, b"0\n".as_ptr().cast(), 2);
                libc::close(fd);
            }
        }
    }
}

impl Drop for RunGroup {
    fn drop(&mut self) {
        if let Some(pids) = self.pids.as_ref().filter(|d| **d != self.dir) {
            let _ = fs::remove_dir(pids);
        }
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
