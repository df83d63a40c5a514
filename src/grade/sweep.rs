//! What a grader killed outright left behind (its watchdog killed with it, or the machine's power cut
//! mid-run), removed at the start of the next grade: the processes of its runs, its cgroups, its
//! `sockspec-run-*` working directories.
//!
//! Only what belongs to a process that is no longer alive is touched, so a grade never disturbs another
//! one running beside it: a run's token (in its `SOCKSPEC_RUN` marker and its cgroup's name) begins with
//! the pid, in hex, of the process that launched it, and a working directory's name holds that pid and
//! its start time ([`runs::owner_tag`]). An owner whose pid is alive again as another process keeps its
//! leftovers until that process ends: a miss, never a wrong removal.
//!
//! A pid means something only in its own pid namespace, and a machine may run graders in containers
//! beside one on the host (which sees their processes). So processes of another pid namespace are never
//! touched, nor a cgroup holding any; and a live grader holds a `flock` on each of its working
//! directories, which a shared /tmp shows across namespaces.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::launch::RUN_MARKER_VAR;
use super::runs::{self, RunInfo, WORKDIR_PREFIX};
use super::{cgroup, procfs};

/// How long killing a dead grader's processes may take.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// What a sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Runs of dead graders that still had live processes (all killed).
    pub runs: usize,
    /// Cgroups of dead graders removed.
    pub cgroups: usize,
    /// Working directories of dead graders removed.
    pub workdirs: usize,
}

/// Removes what dead graders left: kills their runs' processes (found by marker and cgroup), removes
/// their cgroups and their working directories in the temporary directory.
pub fn sweep() -> Swept {
    // A run may have a group in each of several trees (a hybrid system's v2 tree and v1 `pids`).
    let mut orphans: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for (dir, token) in cgroup::existing() {
        if owner_is_dead(&token) {
            orphans.entry(token).or_default().push(dir);
        }
    }
    for token in marked_tokens() {
        if owner_is_dead(&token) {
            orphans.entry(token).or_default();
        }
    }
    let orphans: Vec<RunInfo> = orphans
        .into_iter()
        .filter(|(_, cgroups)| cgroups.iter().all(|dir| only_our_processes(dir)))
        .map(|(token, cgroups)| RunInfo {
            pgid: 0,
            leader_start: 0,
            marker: format!("{RUN_MARKER_VAR}={token}"),
            cgroups,
        })
        .collect();
    let (runs, _) = runs::stop_all(&orphans, KILL_WAIT);
    let cgroups = orphans
        .iter()
        .flat_map(|o| &o.cgroups)
        .filter(|dir| fs::remove_dir(dir).is_ok())
        .count();
    let workdirs = sweep_workdirs(&std::env::temp_dir());
    Swept {
        runs,
        cgroups,
        workdirs,
    }
}

/// The pid that launched the run of `token` (its first field, in hex: see `launch::new_token`).
pub fn token_owner(token: &str) -> Option<i32> {
    let pid = i32::from_str_radix(token.split('-').next()?, 16).ok()?;
    (pid > 0).then_some(pid)
}

fn owner_is_dead(token: &str) -> bool {
    token_owner(token).is_some_and(|pid| !alive(pid, None))
}

/// True when `pid` is a live process (not a zombie), started at `start` if that is given.
fn alive(pid: i32, start: Option<u64>) -> bool {
    procfs::stat(pid).is_some_and(|p| !p.is_zombie() && start.is_none_or(|s| s == p.start))
}

/// The pid namespace of `pid` (`pid:[4026531836]`).
fn pid_namespace(pid: &str) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// True when every process in the cgroup at `dir` is in this process's pid namespace (none hidden in
/// another: a populated cgroup whose members this namespace cannot see).
fn only_our_processes(dir: &Path) -> bool {
    let ours = pid_namespace("self");
    let members = cgroup::members_of(dir);
    let populated = fs::read_to_string(dir.join("cgroup.events"))
        .is_ok_and(|events| events.lines().any(|l| l.trim() == "populated 1"));
    if populated && members.is_empty() {
        return false;
    }
    members
        .iter()
        .all(|pid| pid_namespace(&pid.to_string()).is_none_or(|ns| Some(ns) == ours))
}

/// The run tokens in the environments of live processes of this pid namespace.
fn marked_tokens() -> Vec<String> {
    let prefix = format!("{RUN_MARKER_VAR}=");
    let ours = pid_namespace("self");
    let mut tokens: Vec<String> = procfs::all_procs()
        .iter()
        .filter(|p| !p.is_zombie())
        .filter(|p| ours.is_some() && pid_namespace(&p.pid.to_string()) == ours)
        .filter_map(|p| fs::read(format!("/proc/{}/environ", p.pid)).ok())
        .filter_map(|env| {
            env.split(|&b| b == 0)
                .find_map(|e| e.strip_prefix(prefix.as_bytes()))
                .and_then(|t| std::str::from_utf8(t).ok())
                .map(str::to_string)
        })
        .collect();
    tokens.sort();
    tokens.dedup();
    tokens
}

/// Removes the `sockspec-run-<pid>-<start>-*` directories in `tmp` whose owner is no longer alive and
/// that nobody holds locked; only real directories of this user, never through a symlink.
pub fn sweep_workdirs(tmp: &Path) -> usize {
    let Ok(dir) = fs::read_dir(tmp) else {
        return 0;
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    dir.flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let Some((pid, start)) = name.to_str().and_then(workdir_owner) else {
                return false;
            };
            let ours =
                fs::symlink_metadata(entry.path()).is_ok_and(|m| m.is_dir() && m.uid() == me);
            ours && !alive(pid, Some(start))
        })
        .filter(|entry| match runs::lock_dir(&entry.path()) {
            // Held by a live grader (of another pid namespace: its pid means nothing here).
            Ok(None) => false,
            // Held while removing, so that the decision stays true; a file system without locks leaves
            // the decision to the owner's pid.
            Ok(Some(_)) | Err(_) => fs::remove_dir_all(entry.path()).is_ok(),
        })
        .count()
}

/// The owner's pid and start time in a working directory's name.
fn workdir_owner(name: &str) -> Option<(i32, u64)> {
    let mut fields = name.strip_prefix(WORKDIR_PREFIX)?.splitn(3, '-');
    let pid = fields.next()?.parse().ok()?;
    let start = fields.next()?.parse().ok()?;
    fields.next()?;
    Some((pid, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_names() {
        assert_eq!(token_owner("1a2b-0-17f"), Some(0x1a2b));
        assert_eq!(token_owner("probe-123"), None);
        assert_eq!(
            workdir_owner("sockspec-run-4711-99-AbC123"),
            Some((4711, 99))
        );
        // Directories made by older versions name no owner: left alone.
        assert_eq!(workdir_owner("sockspec-run-AbC123"), None);
        assert_eq!(workdir_owner("sockspec-run-4711-99"), None);
    }

    #[test]
    fn a_run_token_names_the_process_that_launched_it() {
        let dir = tempfile::tempdir().unwrap();
        let spec = super::super::launch::LaunchSpec::new(vec!["true".into()], dir.path());
        let program = super::super::launch::Program::spawn(&spec).unwrap();
        let token = program
            .run_marker()
            .strip_prefix(&format!("{RUN_MARKER_VAR}="))
            .unwrap();
        assert_eq!(token_owner(token), Some(std::process::id() as i32));
    }

    #[test]
    fn only_directories_of_dead_owners_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let mine = tmp
            .path()
            .join(format!("{WORKDIR_PREFIX}{}-x", runs::owner_tag()));
        // No pid above the kernel's limit was ever alive.
        let dead = tmp.path().join(format!("{WORKDIR_PREFIX}{}-5-x", i32::MAX));
        let unknown = tmp.path().join(format!("{WORKDIR_PREFIX}AbC123"));
        let held = tmp.path().join(format!("{WORKDIR_PREFIX}{}-6-x", i32::MAX));
        for dir in [&mine, &dead, &unknown, &held] {
            fs::create_dir_all(dir.join("inner")).unwrap();
        }
        // A grader in another pid namespace, whose pid means nothing here, holds its lock.
        let lock = runs::lock_dir(&held).unwrap().expect("not locked yet");
        assert_eq!(sweep_workdirs(tmp.path()), 1);
        assert!(mine.exists() && unknown.exists() && held.exists() && !dead.exists());
        drop(lock);
        assert_eq!(sweep_workdirs(tmp.path()), 1);
        assert!(!held.exists());
    }
}
