//! The sockets a set of processes holds, with the pid of each holder: what `netstat -ano` shows,
//! narrowed to one program and its children.
//!
//! Everything is read through [`procfs`]: the socket tables of each process's network namespace, and
//! the socket inodes in each process's open files, which tie a socket to the processes holding it.
//!
//! A TCP connection outlives its socket: after `close()` the kernel keeps it (FIN_WAIT2, TIME_WAIT)
//! with no process holding it (inode 0). Such a connection is shown as the program's when the program
//! held it at an earlier look ([`Observer`] remembers), or when its local address is one the program
//! listens on (a connection its server accepted and closed).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::grade::procfs::{self, Proto, Socket, State};

/// Commands longer than this are cut (with `…`) in tables and messages; JSON keeps them whole.
pub const COMMAND_SHOWN: usize = 120;

/// A process whose sockets are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcInfo {
    pub pid: i32,
    pub ppid: i32,
    /// The command line, arguments joined by spaces.
    pub command: String,
}

impl ProcInfo {
    /// The process as `/proc` shows it now; `None` once it has ended.
    pub fn of(pid: i32) -> Option<ProcInfo> {
        let stat = procfs::stat(pid)?;
        Some(ProcInfo {
            pid,
            ppid: stat.ppid,
            command: procfs::command_line(pid).unwrap_or_else(|| "?".to_string()),
        })
    }
}

/// One socket, as a row of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketRow {
    #[serde(skip)]
    pub socket: Socket,
    /// `tcp` or `udp`.
    pub proto: &'static str,
    /// `ipv4` or `ipv6`.
    pub ip: &'static str,
    pub local: SocketAddr,
    /// The peer of a connected socket; `None` for a listening or unconnected one.
    pub remote: Option<SocketAddr>,
    /// The TCP state as netstat names it (`LISTEN`, `TIME_WAIT`, ...), `ESTABLISHED` for a connected UDP
    /// socket, `None` for an unconnected UDP socket (UDP has no connection).
    pub state: Option<&'static str>,
    /// The kernel's number for the socket (0: no process holds it any more).
    pub inode: u64,
    /// The processes holding it (several after a `fork()`); empty when none does: a connection the
    /// program closed, kept by the kernel.
    pub pids: Vec<i32>,
}

/// What tells a socket apart from the others across looks: its inode while a process holds it, its
/// addresses once only the kernel keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Held(u64),
    Kept(SocketAddr, SocketAddr),
}

impl SocketRow {
    fn new(socket: Socket, inode: u64, pids: Vec<i32>) -> SocketRow {
        let connected = !socket.remote.ip().is_unspecified() || socket.remote.port() != 0;
        let state = match (socket.proto, socket.state) {
            (Proto::Udp, State::Close) => None,
            (_, state) => Some(state.tcp_name()),
        };
        SocketRow {
            socket,
            proto: match socket.proto {
                Proto::Tcp => "tcp",
                Proto::Udp => "udp",
            },
            ip: if socket.local.is_ipv4() {
                "ipv4"
            } else {
                "ipv6"
            },
            local: socket.local,
            remote: connected.then_some(socket.remote),
            state,
            inode,
            pids,
        }
    }

    pub fn key(&self) -> Key {
        if self.inode != 0 {
            Key::Held(self.inode)
        } else {
            Key::Kept(self.local, self.socket.remote)
        }
    }

    /// Its protocol and state: what the meaning of states is given for.
    pub fn kind(&self) -> (&'static str, Option<&'static str>) {
        (self.proto, self.state)
    }

    /// No process holds it: the kernel keeps a closed connection for its last steps.
    pub fn is_kept(&self) -> bool {
        self.pids.is_empty()
    }

    /// The local and remote address of a connected TCP socket.
    fn connection(&self) -> Option<(SocketAddr, SocketAddr)> {
        (self.socket.proto == Proto::Tcp && self.remote.is_some())
            .then_some((self.local, self.socket.remote))
    }

    fn order(&self) -> impl Ord {
        (
            self.proto,
            self.ip,
            self.local.port(),
            self.local.ip(),
            self.remote,
            self.inode,
        )
    }
}

/// One look at the sockets of a set of processes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The processes looked at, by pid.
    pub processes: Vec<ProcInfo>,
    /// Their sockets: TCP before UDP, IPv4 before IPv6, then by local port.
    pub sockets: Vec<SocketRow>,
    /// Processes whose open files cannot be read (another user's, without root): their sockets are
    /// missing from `sockets`.
    pub not_visible: Vec<i32>,
}

/// Looks at the sockets of processes, remembering between looks what is needed to follow a
/// connection after the program closed it.
#[derive(Debug, Default)]
pub struct Observer {
    /// Network namespaces seen so far, so their tables are still read once every process in them has
    /// ended (when this process can read them: it is in the same one).
    namespaces: HashSet<String>,
    /// (local, remote) of every TCP connection the processes held or the kernel kept at the last look.
    connections: HashSet<(SocketAddr, SocketAddr)>,
}

impl Observer {
    pub fn new() -> Observer {
        Observer::default()
    }

    /// The sockets of `pids` now (pids that have ended are skipped).
    pub fn observe(&mut self, pids: &[i32]) -> Snapshot {
        let mut processes: Vec<ProcInfo> = pids.iter().filter_map(|&p| ProcInfo::of(p)).collect();
        processes.sort_by_key(|p| p.pid);
        processes.dedup_by_key(|p| p.pid);
        let live: Vec<i32> = processes.iter().map(|p| p.pid).collect();
        let not_visible = live
            .iter()
            .copied()
            .filter(|&p| !procfs::fds_visible(p))
            .collect();
        let holders = procfs::socket_holders(&live);

        let mut sockets = Vec::new();
        let mut seen = HashSet::new();
        for reader in self.table_readers(&live) {
            let table = procfs::socket_table(reader);
            let listeners: Vec<SocketAddr> = table
                .iter()
                .filter(|(inode, s)| holders.contains_key(inode) && s.state == State::Listen)
                .map(|(_, s)| s.local)
                .collect();
            for (inode, socket) in table {
                let row = match holders.get(&inode) {
                    Some(pids) if inode != 0 => SocketRow::new(socket, inode, pids.clone()),
                    _ if inode == 0 && self.is_theirs(&socket, &listeners) => {
                        SocketRow::new(socket, 0, Vec::new())
                    }
                    _ => continue,
                };
                if seen.insert(row.key()) {
                    sockets.push(row);
                }
            }
        }
        sockets.sort_by_key(|r| r.order());
        self.connections = sockets.iter().filter_map(SocketRow::connection).collect();
        Snapshot {
            processes,
            sockets,
            not_visible,
        }
    }

    /// One process per network namespace to read its tables through: a live one of `pids`, or this
    /// process for a namespace seen before that it shares.
    fn table_readers(&mut self, pids: &[i32]) -> Vec<i32> {
        let mut readers: HashMap<String, i32> = HashMap::new();
        for &pid in pids {
            let ns = procfs::net_namespace(pid).unwrap_or_else(|| format!("pid {pid}"));
            readers.entry(ns).or_insert(pid);
        }
        let me = std::process::id() as i32;
        if let Some(own) = procfs::net_namespace(me) {
            if self.namespaces.contains(&own) {
                readers.entry(own).or_insert(me);
            }
        }
        self.namespaces.extend(readers.keys().cloned());
        readers.into_values().collect()
    }

    /// True for a TCP connection no process holds that belongs to the processes: they held it at the
    /// last look, or its local address is one they listen on.
    fn is_theirs(&self, socket: &Socket, listeners: &[SocketAddr]) -> bool {
        socket.proto == Proto::Tcp
            && socket.state != State::Listen
            && (self.connections.contains(&(socket.local, socket.remote))
                || listeners
                    .iter()
                    .any(|&l| same_socket_address(l, socket.local)))
    }
}

/// One look at the sockets of `pids` and all their descendants (by parent pid), zombies left out.
pub fn of_tree(pids: &[i32]) -> Snapshot {
    Observer::new().observe(&tree(pids))
}

/// `pids` and their live descendants.
pub fn tree(pids: &[i32]) -> Vec<i32> {
    procfs::with_descendants(|p| pids.contains(&p.pid))
        .into_iter()
        .filter(|p| !p.is_zombie())
        .map(|p| p.pid)
        .collect()
}

/// True when `a` and `b` name the same address, or one of them every address (a socket bound to
/// `0.0.0.0:P` takes connections for `127.0.0.1:P`); IPv4-mapped IPv6 addresses count as IPv4.
fn same_socket_address(a: SocketAddr, b: SocketAddr) -> bool {
    let plain = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let (ia, ib) = (plain(a.ip()), plain(b.ip()));
    a.port() == b.port() && (ia == ib || ia.is_unspecified() || ib.is_unspecified())
}

/// The process holding a port, named in the "port already in use" error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortHolder {
    pub pid: i32,
    pub command: String,
}

impl fmt::Display for PortHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pid {}: {}",
            self.pid,
            shorten(&self.command, COMMAND_SHOWN)
        )
    }
}

/// The process holding the socket that keeps `addr` from being bound for `proto`, when this process
/// can see it: a TCP listener (or a socket bound and not listening), or a UDP socket on that port.
/// Best effort: `None` when the holder is another user's process, in another network namespace, or
/// gone by now.
pub fn port_holder(proto: Proto, addr: SocketAddr) -> Option<PortHolder> {
    let me = std::process::id() as i32;
    let mut candidates: Vec<(bool, u64)> = procfs::socket_table(me)
        .into_iter()
        .filter(|(inode, s)| {
            *inode != 0
                && s.proto == proto
                && same_socket_address(s.local, addr)
                && (proto == Proto::Udp || matches!(s.state, State::Listen | State::Close))
        })
        .map(|(inode, s)| (s.state != State::Listen, inode))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    candidates.sort_unstable();
    let pids: Vec<i32> = procfs::all_procs()
        .into_iter()
        .filter(|p| !p.is_zombie())
        .map(|p| p.pid)
        .collect();
    let holders = procfs::socket_holders(&pids);
    let pid = candidates
        .iter()
        .find_map(|(_, inode)| holders.get(inode)?.iter().min().copied())?;
    Some(PortHolder {
        pid,
        command: procfs::command_line(pid)?,
    })
}

/// `text` on one line (control characters such as newlines as spaces), cut to at most `max`
/// characters, ending in `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    fn me() -> i32 {
        std::process::id() as i32
    }

    fn find(snapshot: &Snapshot, local: SocketAddr, remote: Option<SocketAddr>) -> &SocketRow {
        snapshot
            .sockets
            .iter()
            .find(|r| r.local == local && r.remote == remote)
            .unwrap_or_else(|| panic!("no socket {local} -> {remote:?} in {snapshot:#?}"))
    }

    #[test]
    fn own_sockets_are_found_with_their_holder_and_state() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = TcpStream::connect(server).unwrap();
        let (_accepted, peer) = listener.accept().unwrap();
        let snapshot = of_tree(&[me()]);
        assert!(snapshot.processes.iter().any(|p| p.pid == me()));
        let l = find(&snapshot, server, None);
        assert_eq!(
            (l.proto, l.state, l.pids.as_slice()),
            ("tcp", Some("LISTEN"), &[me()][..])
        );
        let c = find(&snapshot, client.local_addr().unwrap(), Some(server));
        assert_eq!(c.state, Some("ESTABLISHED"));
        assert_eq!(
            find(&snapshot, server, Some(peer)).state,
            Some("ESTABLISHED")
        );
        let u = find(&snapshot, udp.local_addr().unwrap(), None);
        assert_eq!((u.proto, u.ip, u.state), ("udp", "ipv4", None));
    }

    #[test]
    fn a_connection_closed_first_here_stays_ours_in_time_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = TcpStream::connect(server).unwrap();
        let (accepted, peer) = listener.accept().unwrap();
        let mut observer = Observer::new();
        let before = observer.observe(&[me()]);
        assert_eq!(find(&before, server, Some(peer)).state, Some("ESTABLISHED"));
        // The accepted side closes first, then the client: the accepted side ends in TIME_WAIT.
        drop(accepted);
        drop(client);
        let deadline = crate::wire::Deadline::after(std::time::Duration::from_secs(10));
        loop {
            let after = observer.observe(&[me()]);
            if let Some(row) = after
                .sockets
                .iter()
                .find(|r| r.local == server && r.remote == Some(peer))
            {
                if row.state == Some("TIME_WAIT") {
                    assert!(row.is_kept() && row.inode == 0, "{row:?}");
                    break;
                }
            }
            assert!(
                !deadline.passed(),
                "no TIME_WAIT for {server} <- {peer}: {after:#?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn the_holder_of_a_port_is_this_process() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let holder = port_holder(Proto::Tcp, addr).expect("a holder");
        assert_eq!(holder.pid, me());
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let wildcard: SocketAddr = ([0, 0, 0, 0], udp.local_addr().unwrap().port()).into();
        assert_eq!(port_holder(Proto::Udp, wildcard).map(|h| h.pid), Some(me()));
    }

    #[test]
    fn addresses_match_their_wildcards() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(same_socket_address(a("0.0.0.0:5"), a("127.0.0.1:5")));
        assert!(same_socket_address(
            a("[::ffff:127.0.0.1]:5"),
            a("127.0.0.1:5")
        ));
        assert!(same_socket_address(a("127.0.0.1:5"), a("[::]:5")));
        assert!(!same_socket_address(a("127.0.0.1:5"), a("127.0.0.2:5")));
        assert!(!same_socket_address(a("0.0.0.0:5"), a("127.0.0.1:6")));
    }

    #[test]
    fn long_commands_are_cut_between_characters() {
        assert_eq!(shorten("python3 服务器.py", 10), "python3 服…");
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(shorten("python3 -c\nprint(1)", 40), "python3 -c print(1)");
    }
}
