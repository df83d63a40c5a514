//! What the kernel says about a program under test, read from `/proc` (Linux): which processes belong to
//! it and which sockets they hold.
//!
//! Every lookup about a program goes through this module and starts from a pid: sockets are read from
//! `/proc/PID/net/*`, which shows the network namespace *of that process*, never from `/proc/net/*`
//! (the reader's own namespace). So a program moved into a private network namespace is seen the same
//! way, without changes here.
//!
//! All reads are best effort: a process can end between listing `/proc` and reading its files, and
//! such a process is simply skipped.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// Transport protocol of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// Socket state as the kernel numbers it in `/proc/PID/net/*` (`include/net/tcp_states.h`).
/// A bound, unconnected UDP socket is `Close`; a connected one `Established`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// `ESTABLISHED`: connected.
    Established,
    /// `CLOSE`: a bound UDP socket that is not connected.
    Close,
    /// `LISTEN`: a TCP server socket.
    Listen,
    /// Any other state (SYN_SENT, TIME_WAIT, ...), by its kernel number.
    Other(u8),
}

impl State {
    fn from_code(code: u8) -> State {
        match code {
            0x01 => State::Established,
            0x07 => State::Close,
            0x0A => State::Listen,
            other => State::Other(other),
        }
    }
}

/// One socket held by a process of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Socket {
    /// TCP or UDP.
    pub proto: Proto,
    /// The address as bound (`0.0.0.0:PORT` for a server listening on every interface).
    pub local: SocketAddr,
    /// The peer for a connected socket, `0.0.0.0:0` (or `[::]:0`) otherwise.
    pub remote: SocketAddr,
    /// The kernel's state of the socket.
    pub state: State,
}

/// One process as `/proc/PID/stat` shows it. `start` (clock ticks after boot) tells a process apart from
/// a later one that reuses its pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    /// The process id.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// Its process group.
    pub pgrp: i32,
    /// Its state letter (`R`, `S`, `Z`...).
    pub state: u8,
    /// When it started, in clock ticks after boot.
    pub start: u64,
}

impl Proc {
    /// A zombie has ended and only waits to be reaped; it holds no socket and runs no code.
    pub fn is_zombie(&self) -> bool {
        self.state == b'Z' || self.state == b'X'
    }
}

/// Reads `/proc/PID/stat`.
pub fn stat(pid: i32) -> Option<Proc> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself hold spaces and ')': skip to the last.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(3) ppid(4) pgrp(5) session(6) ... starttime(22).
    Some(Proc {
        pid,
        state: *f.first()?.as_bytes().first()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

/// Every process visible in `/proc`.
pub fn all_procs() -> Vec<Proc> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .collect()
}

/// True when the environment the process started with holds exactly the entry `entry` (`NAME=value`).
/// Unreadable (another user's process) or empty (a zombie) environments hold nothing.
pub fn has_env_entry(pid: i32, entry: &str) -> bool {
    let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    env.split(|&b| b == 0).any(|e| e == entry.as_bytes())
}

/// The processes picked by `is_root` and all their descendants (by parent pid), sorted by pid. Zombies
/// are included: they are dead but may still need reaping.
pub fn with_descendants(mut is_root: impl FnMut(&Proc) -> bool) -> Vec<Proc> {
    let procs = all_procs();
    let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
    for (i, p) in procs.iter().enumerate() {
        children.entry(p.ppid).or_default().push(i);
    }
    let mut picked: HashSet<usize> = HashSet::new();
    let mut stack: Vec<usize> = Vec::new();
    for (i, p) in procs.iter().enumerate() {
        if is_root(p) && picked.insert(i) {
            stack.push(i);
        }
    }
    // Each process is pushed at most once, so this ends.
    while let Some(i) = stack.pop() {
        for &c in children
            .get(&procs[i].pid)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if picked.insert(c) {
                stack.push(c);
            }
        }
    }
    let mut out: Vec<Proc> = picked.into_iter().map(|i| procs[i]).collect();
    out.sort_by_key(|p| p.pid);
    out
}

/// Socket inodes among the open files of `pid` (links `socket:[INODE]` in `/proc/PID/fd`).
fn socket_inodes(pid: i32, into: &mut HashSet<u64>) {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return;
    };
    for entry in dir.flatten() {
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse().ok())
        {
            into.insert(inode);
        }
    }
}

/// The sockets held by the given processes, IPv4 before IPv6, then by port.
pub fn sockets_of(pids: &[i32]) -> Vec<Socket> {
    let mut inodes = HashSet::new();
    // One socket table per network namespace: processes that share one need not be read twice.
    let mut tables: HashMap<String, i32> = HashMap::new();
    for &pid in pids {
        socket_inodes(pid, &mut inodes);
        let ns = fs::read_link(format!("/proc/{pid}/ns/net"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("pid {pid}"));
        tables.entry(ns).or_insert(pid);
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pid in tables.into_values() {
        for (proto, file) in [
            (Proto::Tcp, "tcp"),
            (Proto::Tcp, "tcp6"),
            (Proto::Udp, "udp"),
            (Proto::Udp, "udp6"),
        ] {
            let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
                continue;
            };
            out.extend(
                text.lines()
                    .skip(1)
                    .filter_map(parse_socket_line)
                    .filter(|(inode, _)| inodes.contains(inode))
                    .map(|(_, (local, remote, state))| Socket {
                        proto,
                        local,
                        remote,
                        state,
                    }),
            );
        }
    }
    out.sort_by_key(|s| (s.local.is_ipv6(), s.local.port(), s.proto == Proto::Udp));
    out.dedup();
    out
}

/// Where to reach a socket bound to `local` from this machine: an unspecified address (every
/// interface) becomes the loopback address of its family, an IPv4-mapped IPv6 address its IPv4 form.
pub fn reachable(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(ip),
        },
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// The address a client should use to reach the first server socket of `proto` among `sockets`:
/// a listening TCP socket, or a bound UDP socket (unconnected ones first).
pub fn server_addr(sockets: &[Socket], proto: Proto) -> Option<SocketAddr> {
    let pick = |want: State| {
        sockets
            .iter()
            .find(|s| s.proto == proto && s.state == want && s.local.port() != 0)
    };
    let found = match proto {
        Proto::Tcp => pick(State::Listen),
        Proto::Udp => pick(State::Close).or_else(|| pick(State::Established)),
    };
    found.map(|s| reachable(s.local))
}

/// Parses one line of `/proc/PID/net/{tcp,tcp6,udp,udp6}` into (inode, (local, remote, state)).
/// `  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 12345 ...`
fn parse_socket_line(line: &str) -> Option<(u64, (SocketAddr, SocketAddr, State))> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let local = parse_addr(f.get(1)?)?;
    let remote = parse_addr(f.get(2)?)?;
    let state = State::from_code(u8::from_str_radix(f.get(3)?, 16).ok()?);
    let inode = f.get(9)?.parse().ok()?;
    Some((inode, (local, remote, state)))
}

/// `0100007F:1F90` or a 32-digit IPv6 form. The kernel prints the address as 32-bit words in host
/// byte order (`%08X` of the in-memory word), so each word goes back to bytes with `to_ne_bytes`.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        Some(
            u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16)
                .ok()?
                .to_ne_bytes(),
        )
    };
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// What the threads of the given processes are doing now, as far as a verdict needs to know: whether
/// any of them is running (so more may come), and where the sleeping ones wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Threads seen (none: every process has ended).
    pub threads: usize,
    /// Threads running or ready to run (state R), in an uninterruptible wait (D: disk I/O), or asleep
    /// on a timer (`time.sleep()`): each will go on by itself.
    pub busy: usize,
    /// Threads blocked in `accept()` (kernel wait channel `inet_csk_accept`).
    pub accepting: usize,
}

impl Activity {
    /// Every thread waits, none in a way that ends by itself soon.
    pub fn idle(&self) -> bool {
        self.threads > 0 && self.busy == 0
    }

    /// Every thread of the program waits in `accept()`: it is back at the start of its server loop.
    pub fn all_accepting(&self) -> bool {
        self.threads > 0 && self.accepting == self.threads
    }
}

/// Reads the state and wait channel of every thread of `pids` (`/proc/PID/task/TID/{stat,wchan}`).
pub fn activity(pids: &[i32]) -> Activity {
    let mut seen = Activity::default();
    for &pid in pids {
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let dir = task.path();
            let Ok(stat) = fs::read_to_string(dir.join("stat")) else {
                continue;
            };
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .and_then(|s| s.bytes().next());
            match state {
                // A zombie thread runs no code.
                Some(b'Z' | b'X') | None => continue,
                Some(b'R' | b'D') => seen.busy += 1,
                Some(_) => {}
            }
            seen.threads += 1;
            let wchan = fs::read_to_string(dir.join("wchan")).unwrap_or_default();
            if wchan.trim() == "inet_csk_accept" {
                seen.accepting += 1;
            } else if wchan.contains("nanosleep") {
                seen.busy += 1;
            }
        }
    }
    seen
}

/// Bytes received but not yet read by the program on its socket `local` (connected to `remote`, for
/// TCP), from the `rx_queue` column of `/proc/PID/net/*`; `None` when no such socket is found.
pub fn unread_bytes(
    pid: i32,
    proto: Proto,
    local: SocketAddr,
    remote: Option<SocketAddr>,
) -> Option<u64> {
    let files: &[&str] = match proto {
        Proto::Tcp => &["tcp", "tcp6"],
        Proto::Udp => &["udp", "udp6"],
    };
    for file in files {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(l), Some(r), Some(queues)) = (
                f.get(1).and_then(|a| parse_addr(a)),
                f.get(2).and_then(|a| parse_addr(a)),
                f.get(4),
            ) else {
                continue;
            };
            if reachable(l) != reachable(local)
                || remote.is_some_and(|want| reachable(r) != reachable(want))
            {
                continue;
            }
            return queues
                .split_once(':')
                .and_then(|(_, rx)| u64::from_str_radix(rx, 16).ok());
        }
    }
    None
}

impl State {
    /// The state's name as netstat prints it for a TCP socket (`LISTEN`, `TIME_WAIT`, ...). A UDP
    /// socket has no connection states: `Close` there only means "bound".
    pub fn tcp_name(self) -> &'static str {
        match self {
            State::Established => "ESTABLISHED",
            State::Close => "CLOSE",
            State::Listen => "LISTEN",
            State::Other(0x02) => "SYN_SENT",
            State::Other(0x03) => "SYN_RECV",
            State::Other(0x04) => "FIN_WAIT1",
            State::Other(0x05) => "FIN_WAIT2",
            State::Other(0x06) => "TIME_WAIT",
            State::Other(0x08) => "CLOSE_WAIT",
            State::Other(0x09) => "LAST_ACK",
            State::Other(0x0B) => "CLOSING",
            State::Other(0x0C) => "NEW_SYN_RECV",
            State::Other(_) => "UNKNOWN",
        }
    }
}

/// Every socket of the network namespace `pid` is in (`/proc/PID/net/{tcp,tcp6,udp,udp6}`), held by
/// a process or not, with its inode: 0 for one that no process holds any more (a connection closed
/// by its program and kept by the kernel, in TIME_WAIT or FIN_WAIT2).
pub fn socket_table(pid: i32) -> Vec<(u64, Socket)> {
    let mut out = Vec::new();
    for (proto, file) in [
        (Proto::Tcp, "tcp"),
        (Proto::Tcp, "tcp6"),
        (Proto::Udp, "udp"),
        (Proto::Udp, "udp6"),
    ] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
            continue;
        };
        out.extend(text.lines().skip(1).filter_map(parse_socket_line).map(
            |(inode, (local, remote, state))| {
                let socket = Socket {
                    proto,
                    local,
                    remote,
                    state,
                };
                (inode, socket)
            },
        ));
    }
    out
}

/// For every socket inode held by the given processes, the pids that hold it, in the order given.
/// A socket shared after `fork()` is held by parent and child alike.
pub fn socket_holders(pids: &[i32]) -> HashMap<u64, Vec<i32>> {
    let mut holders: HashMap<u64, Vec<i32>> = HashMap::new();
    for &pid in pids {
        let mut inodes = HashSet::new();
        socket_inodes(pid, &mut inodes);
        for inode in inodes {
            holders.entry(inode).or_default().push(pid);
        }
    }
    holders
}

/// The command line of a process, its arguments joined by spaces; the kernel's name for it in
/// brackets (`[kworker/0:1]`) when it has none (a kernel thread, a zombie).
pub fn command_line(pid: i32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if !args.is_empty() {
        return Some(args.join(" "));
    }
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(format!("[{}]", comm.trim_end()))
}

/// The network namespace of `pid` (`net:[INODE]`): processes with the same one see the same sockets.
pub fn net_namespace(pid: i32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// False when the open files of `pid` cannot be listed (another user's process, without root): its
/// sockets are then invisible here.
pub fn fds_visible(pid: i32) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd")).is_ok()
}

/// True when `/proc` is mounted and readable: without it nothing here can work.
pub fn available() -> bool {
    Path::new("/proc/self/stat").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_socket_lines() {
        let v4 = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0";
        let (inode, (local, remote, state)) = parse_socket_line(v4).unwrap();
        assert_eq!(inode, 12345);
        if cfg!(target_endian = "little") {
            assert_eq!(local, "127.0.0.1:8080".parse().unwrap()); // fixed-port-ok: parsed, never bound
        }
        assert_eq!(remote, "0.0.0.0:0".parse().unwrap());
        assert_eq!(state, State::Listen);
        let v6 = "   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 777 2 0000000000000000 0";
        let (_, (local, _, state)) = parse_socket_line(v6).unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(local, "[::1]:80".parse().unwrap());
        }
        assert_eq!(state, State::Close);
    }

    #[test]
    fn unspecified_addresses_become_loopback() {
        let r = |s: &str| reachable(s.parse().unwrap()).to_string();
        assert_eq!(r("0.0.0.0:5"), "127.0.0.1:5");
        assert_eq!(r("[::]:5"), "[::1]:5");
        assert_eq!(r("[::ffff:127.0.0.1]:5"), "127.0.0.1:5");
        assert_eq!(r("127.0.0.2:5"), "127.0.0.2:5");
    }

    #[test]
    fn sees_unread_bytes_and_a_thread_in_accept() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"12345").unwrap();
        let me = std::process::id() as i32;
        let local = server.local_addr().unwrap();
        let remote = Some(client.local_addr().unwrap());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while unread_bytes(me, Proto::Tcp, local, remote) != Some(5) {
            assert!(
                std::time::Instant::now() < deadline,
                "the 5 bytes never showed as unread"
            );
            std::thread::yield_now();
        }
        let waiting = std::thread::spawn(move || listener.accept().map(|_| ()));
        let tid_deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while activity(&[me]).accepting == 0 {
            assert!(
                std::time::Instant::now() < tid_deadline,
                "no thread seen in accept()"
            );
            std::thread::yield_now();
        }
        std::net::TcpStream::connect(addr).unwrap();
        waiting.join().unwrap().unwrap();
    }

    #[test]
    fn finds_own_listening_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let socks = sockets_of(&[std::process::id() as i32]);
        assert!(socks
            .iter()
            .any(|s| s.proto == Proto::Tcp && s.local == addr && s.state == State::Listen));
    }
}
