//! A private network namespace per launch of a program under test (Linux), and what the grader can do
//! here: `--isolate=auto|on|off`.
//!
//! Real student programs hard-code their port (8888, 54321) and often their host (the lesson's
//! `192.168.1.100`). On the shared loopback two grades of one such program collide, a server that
//! closes first leaves its port in TIME_WAIT for the next check's copy, and a client dialling
//! `192.168.1.100` reaches nobody. In a namespace of its own, each launch has every port free and no
//! neighbour.
//!
//! # What a namespace holds
//! - `lo`, up (127.0.0.1, ::1), and no other interface: nothing can leave it.
//! - The route `local 0.0.0.0/0 dev lo` in the local table ("AnyIP", set up in `rtnetlink.rs`): every
//!   IPv4 address is an address of this machine. A server may bind `192.168.1.100` or `0.0.0.0`; a
//!   client's connection to `192.168.1.100:PORT` arrives on `lo`, where a grader socket bound to
//!   `0.0.0.0:PORT` takes it.
//! - Where BPF is allowed (root), a `sk_lookup` program (`steer.rs`) that hands every new connection or
//!   datagram, to any address and any port, to the grader socket registered for a client or sender
//!   launch: a hard-coded `127.0.0.1:8888` reaches the grader too. // fixed-port-ok: text, never bound
//!
//! # How the grader gets in
//! A namespace belongs to threads, not processes. [`NetNs::create`] runs on a short-lived thread that
//! `unshare`s, opens `/proc/thread-self/ns/net` (that fd is the handle), configures `lo` and ends. The
//! program joins it with `setns` between fork and exec ([`crate::grade::launch`]). The grader's own
//! sockets are created by [`NetNs::run`], on a short-lived thread that has `setns`ed in: a socket keeps
//! the namespace it was created in, so binding, connecting, accepting and sending happen afterwards on
//! any thread, as usual.
//!
//! # Privileges
//! Making and entering a network namespace needs `CAP_SYS_ADMIN` in the user namespace that owns it.
//! Root has it. An ordinary user gets it by owning a user namespace: `sockspec grade` enters one of
//! its own at start ([`enter_user_namespace`], only possible while the process has a single thread),
//! mapping the user to itself, so files keep their owner and the programs it starts, which run as that
//! user, hold no capability. There namespaces and AnyIP work, BPF does not (it needs `CAP_BPF` in the
//! initial user namespace): a client must use the `{port}` it is given, at any address. Where neither
//! is allowed (a container whose seccomp profile forbids `unshare`), programs share the loopback as
//! before, with a fresh ephemeral `{port}` per check.
//!
//! # Lifetime
//! A namespace lives while something refers to it: the [`NetNs`] fd, a process in it, a socket made in
//! it. The grader holds the first, stops the second with the launch, and closes its sockets when the
//! check moves on; then the kernel frees it (the BPF link detaches with it). No bind mount is made, so
//! nothing can outlive the grader either.

mod rtnetlink;
mod steer;

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::procfs::Proto;
pub use steer::Steering;

/// Whether to run programs in private network namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Isolate {
    /// Isolate where the system allows it; otherwise share the loopback and say so in the report.
    #[default]
    Auto,
    /// Refuse to grade without a private network namespace per launch.
    On,
    /// Share the machine's loopback (a fresh ephemeral `{port}` per check).
    Off,
}

impl std::fmt::Display for Isolate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Isolate::Auto => "auto",
            Isolate::On => "on",
            Isolate::Off => "off",
        })
    }
}

/// What a grading run does about the network, decided once before any check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// A namespace per launch.
    pub private: bool,
    /// ... with BPF steering: any port reaches the grader.
    pub steer: bool,
}

/// The isolation a run actually used, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IsolationReport {
    /// What was asked (`--isolate`).
    pub requested: Isolate,
    /// `namespace` (a private network namespace per launch) or `shared` (the machine's loopback).
    pub network: String,
    /// A client or sender reaches the grader at any IPv4 address (and a server may bind any).
    pub any_address: bool,
    /// A client or sender reaches the grader at any port.
    pub any_port: bool,
    /// Why isolation is missing or partial, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limitation: Option<String>,
}

impl IsolationReport {
    /// The report's note line, when the run was not fully isolated.
    pub fn note(&self) -> Option<String> {
        let why = self.limitation.as_deref()?;
        Some(if self.network == "shared" {
            format!(
                "programs shared this machine's loopback ({why}): each check gave a fresh {{port}}; a \
                 program with a hard-coded port or host may fail here and pass where it is isolated"
            )
        } else {
            format!(
                "each launch had a private network, but a client or sender reaches the grader only at \
                 the {{port}} it is given, at any address ({why})"
            )
        })
    }
}

impl Plan {
    /// Finds out what this system allows, by making (and dropping) one namespace as a launch would.
    /// `on` without a namespace is an error, whose text says why.
    pub fn resolve(isolate: Isolate) -> Result<(Plan, IsolationReport), String> {
        let shared = |limitation: Option<String>| {
            (
                Plan {
                    private: false,
                    steer: false,
                },
                IsolationReport {
                    requested: isolate,
                    network: "shared".into(),
                    any_address: false,
                    any_port: false,
                    limitation,
                },
            )
        };
        if isolate == Isolate::Off {
            return Ok(shared(None));
        }
        let probe = match NetNs::create(false) {
            Ok(ns) => ns,
            Err(e) => {
                let why = format!("no network namespace can be made here: {e}");
                return match isolate {
                    Isolate::On => Err(format!(
                        "--isolate=on: {why} (run as root, or where unprivileged user namespaces are \
                         allowed; --isolate=auto shares the loopback instead)"
                    )),
                    _ => Ok(shared(Some(why))),
                };
            }
        };
        let steering = Steering::attach(probe.as_fd());
        drop(probe);
        let limitation = steering
            .as_ref()
            .err()
            .map(|e| format!("BPF sk_lookup is not available: {e}"));
        Ok((
            Plan {
                private: true,
                steer: steering.is_ok(),
            },
            IsolationReport {
                requested: isolate,
                network: "namespace".into(),
                any_address: true,
                any_port: steering.is_ok(),
                limitation,
            },
        ))
    }

    /// The plan of a run that shares the loopback.
    pub fn shared() -> Plan {
        Plan {
            private: false,
            steer: false,
        }
    }

    /// The network of one launch: a fresh namespace, or the shared one. `catch` asks for the steering
    /// of every connection and datagram to the grader (a client or sender launch), where the plan has
    /// it; a server launch does without (it halves the cost of a namespace).
    pub fn network(&self, catch: bool) -> io::Result<Network> {
        if !self.private {
            return Ok(Network::Shared);
        }
        NetNs::create(catch && self.steer).map(|ns| Network::Private(Arc::new(ns)))
    }
}

/// Where one launch's program and the grader's side of its connections live.
#[derive(Debug, Clone)]
pub enum Network {
    /// The machine's own network (its loopback).
    Shared,
    /// A private network namespace made for the launch.
    Private(Arc<NetNs>),
}

impl Network {
    /// Runs `f` where sockets it creates belong to this network.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> io::Result<R> {
        match self {
            Network::Shared => Ok(f()),
            Network::Private(ns) => ns.run(f),
        }
    }

    /// The private namespace, when there is one.
    pub fn namespace(&self) -> Option<&Arc<NetNs>> {
        match self {
            Network::Shared => None,
            Network::Private(ns) => Some(ns),
        }
    }

    /// Makes `socket` the one every new connection (TCP) or datagram (UDP) in this network goes to,
    /// whatever address and port it is sent to. False when this network cannot do that.
    pub fn catch_all(&self, proto: Proto, socket: BorrowedFd<'_>) -> io::Result<bool> {
        match self {
            Network::Private(ns) => ns.catch_all(proto, socket),
            Network::Shared => Ok(false),
        }
    }

    /// True when any IPv4 address is local (a private namespace).
    pub fn any_address(&self) -> bool {
        matches!(self, Network::Private(_))
    }
}

/// One private network namespace, held open by an fd.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    /// The namespace's inode number: `/proc/PID/ns/net` of a process in it reads `net:[ID]`.
    id: u64,
    steering: Option<Steering>,
}

impl NetNs {
    /// Makes a namespace with `lo` up and every IPv4 address local; with `steer`, also attaches the
    /// BPF program that can send every connection to a registered socket.
    pub fn create(steer: bool) -> io::Result<NetNs> {
        let fd = on_thread(|| -> io::Result<OwnedFd> {
            // SAFETY: unshare(2) with a constant flag; it changes only this (short-lived) thread.
            check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
            let fd = open_ns("/proc/thread-self/ns/net")?;
            rtnetlink::configure_loopback()
                .map_err(|e| io::Error::new(e.kind(), format!("cannot set up lo: {e}")))?;
            Ok(fd)
        })??;
        let id = inode(fd.as_raw_fd())?;
        let steering = if steer {
            Some(Steering::attach(fd.as_fd()).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot attach the BPF sk_lookup program: {e}"),
                )
            })?)
        } else {
            None
        };
        Ok(NetNs { fd, id, steering })
    }

    /// The namespace's id (its inode number, as in `net:[ID]`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The fd a child passes to `setns(fd, CLONE_NEWNET)` before exec.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Runs `f` on a thread inside the namespace and returns its result.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> io::Result<R> {
        let fd = self.fd.as_raw_fd();
        on_thread(move || {
            // SAFETY: setns(2) on an fd this NetNs keeps open; it moves only this short-lived thread.
            check(unsafe { libc::setns(fd, libc::CLONE_NEWNET) })?;
            Ok(f())
        })?
    }

    /// See [`Network::catch_all`].
    pub fn catch_all(&self, proto: Proto, socket: BorrowedFd<'_>) -> io::Result<bool> {
        match &self.steering {
            Some(steering) => steering.register(proto, socket).map(|()| true),
            None => Ok(false),
        }
    }

    /// Whether BPF steering lets a connection to any port reach the grader.
    pub fn steers(&self) -> bool {
        self.steering.is_some()
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Runs `f` on a new thread and waits for it: namespace changes made there stay there.
fn on_thread<R: Send>(f: impl FnOnce() -> R + Send) -> io::Result<R> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("sockspec-netns".into())
            .spawn_scoped(scope, f)?;
        Ok(handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

fn open_ns(path: &str) -> io::Result<OwnedFd> {
    let path = std::ffi::CString::new(path).map_err(io::Error::other)?;
    // SAFETY: open(2) on a NUL-terminated path; the fd is owned at once.
    let fd = check(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })?;
    // SAFETY: fd was just returned by open(2) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn inode(fd: RawFd) -> io::Result<u64> {
    // SAFETY: fstat(2) into a zeroed struct on an fd the caller keeps open.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        check(libc::fstat(fd, &mut st))?;
        Ok(st.st_ino)
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// True when this process may make network namespaces as it is (`CAP_SYS_ADMIN` in its own user
/// namespace: root, or the owner of the user namespace it runs in).
pub fn privileged() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let caps = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(caps.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

/// For an ordinary user: moves this process into a new user namespace that it owns, mapping its user
/// and group to themselves, so it may make network namespaces (see the module documentation). Must be
/// called while the process has a single thread (the kernel refuses otherwise); a no-op for a
/// privileged process. On failure nothing has changed and the caller goes on without isolation.
pub fn enter_user_namespace() -> io::Result<()> {
    if privileged() {
        return Ok(());
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    // SAFETY: unshare(2) with a constant flag. It fails with EINVAL in a multi-threaded process.
    check(unsafe { libc::unshare(libc::CLONE_NEWUSER) })?;
    // An unprivileged owner may map only itself, and only after giving up setgroups(2).
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}
