//! The sockets of a program as text a student reading `netstat -ano` understands: a table (Proto,
//! Local Address, Foreign Address, State, PID), one line per change while watching, and what each TCP
//! state shown means.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::changes::Change;
use super::sockets::{shorten, ProcInfo, Snapshot, SocketRow};

/// Width of the command column; longer commands are cut.
const PROGRAM_WIDTH: usize = 40;

/// What a TCP state means, in the lesson's words, by the name netstat gives it. `None` for names the
/// kernel has that netstat does not show.
pub fn meaning(state: &str) -> Option<&'static str> {
    Some(match state {
        "LISTEN" => {
            "a server socket after bind() and listen(): it waits for clients, and accept() takes \
             each connection off its queue (Windows netstat says LISTENING)"
        }
        "SYN_SENT" => "connect() sent the first handshake segment (SYN) and waits for the SYN-ACK",
        "SYN_RECV" | "NEW_SYN_RECV" => {
            "a client's SYN arrived and was answered with SYN-ACK; the third handshake segment \
             (ACK) has not arrived yet"
        }
        "ESTABLISHED" => "the three-way handshake is done: both sides can send() and recv()",
        "FIN_WAIT1" => "this side called close() (sent FIN) and waits for the peer's ACK",
        "FIN_WAIT2" => {
            "this side closed and the peer acknowledged it; waiting for the peer to close too (its FIN)"
        }
        "CLOSE_WAIT" => {
            "the peer closed (recv() returned b''), this side has not called close() yet: a socket \
             stuck here is a program that forgets to close"
        }
        "LAST_ACK" => "this side closed after the peer did and waits for the ACK of its FIN",
        "CLOSING" => "both sides closed at the same time; each waits for the other's ACK",
        "TIME_WAIT" => {
            "the side that closed FIRST ends here, for 60 s on Linux (2 x MSL), so late segments of \
             the old connection die out. No process holds it any more (PID -): the kernel does. It \
             is why a restarted server needs SO_REUSEADDR to bind its port again"
        }
        "CLOSE" => "a TCP socket that is bound but neither listening nor connected",
        _ => return None,
    })
}

/// Said of a UDP socket with no state, and of a connected one.
const UDP_UNCONNECTED: &str =
    "UDP (no state): UDP has no connections; a bound socket takes datagrams from anyone";
const UDP_CONNECTED: &str =
    "UDP ESTABLISHED: the socket called connect(), which only sets its default peer; no handshake";

/// `TCP`, `TCP6`, `UDP`, `UDP6`, as netstat names them.
fn proto(row: &SocketRow) -> String {
    let mut name = row.proto.to_ascii_uppercase();
    if row.ip == "ipv6" {
        name.push('6');
    }
    name
}

/// The foreign address column: the peer, or `0.0.0.0:*` (`[::]:*`) when there is none.
fn foreign(row: &SocketRow) -> String {
    match row.remote {
        Some(addr) => addr.to_string(),
        None if row.local.is_ipv4() => "0.0.0.0:*".to_string(),
        None => "[::]:*".to_string(),
    }
}

/// The command for the Program column: the program's file name (`python3`, not
/// `/usr/bin/python3`) and its arguments, on one line, cut to the column's width.
fn program_name(command: &str) -> String {
    let (program, args) = command.split_once(' ').unwrap_or((command, ""));
    let name = program.rsplit('/').next().unwrap_or(program);
    let line = format!("{name} {args}");
    shorten(line.trim_end(), PROGRAM_WIDTH)
}

fn pids(pids: &[i32]) -> String {
    if pids.is_empty() {
        return "-".to_string();
    }
    pids.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The table of one look, with the processes above it and the meaning of its states below.
pub fn table(snapshot: &Snapshot) -> String {
    listing(snapshot) + &legend(snapshot.sockets.iter().map(SocketRow::kind))
}

/// The processes and the table of one look, without the meaning of the states.
pub fn listing(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    out.push_str(&processes(&snapshot.processes));
    if snapshot.sockets.is_empty() {
        out.push_str("\nNo sockets.\n");
    } else {
        let command = |pid: i32| {
            snapshot
                .processes
                .iter()
                .find(|p| p.pid == pid)
                .map(|p| p.command.clone())
                .unwrap_or_default()
        };
        let mut rows = vec![[
            "Proto".to_string(),
            "Local Address".to_string(),
            "Foreign Address".to_string(),
            "State".to_string(),
            "PID".to_string(),
            "Program".to_string(),
        ]];
        for row in &snapshot.sockets {
            let program = match row.pids.first() {
                Some(&pid) => program_name(&command(pid)),
                None => "(closed; the kernel keeps it)".to_string(),
            };
            rows.push([
                proto(row),
                row.local.to_string(),
                foreign(row),
                row.state.unwrap_or("").to_string(),
                pids(&row.pids),
                program,
            ]);
        }
        out.push('\n');
        out.push_str(&columns(&rows));
    }
    for pid in &snapshot.not_visible {
        let _ = writeln!(
            out,
            "note: the sockets of pid {pid} cannot be seen (another user's process: run as root or as that user)"
        );
    }
    out
}

/// `Processes: 8123 python3 server.py` and one line per other process, children marked.
fn processes(procs: &[ProcInfo]) -> String {
    let mut out = String::new();
    for (i, p) in procs.iter().enumerate() {
        let head = if i == 0 { "Processes:" } else { "" };
        let child = if procs.iter().any(|q| q.pid == p.ppid) {
            format!("  (child of {})", p.ppid)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{head:<11}{:<8}{}{child}",
            p.pid,
            shorten(&p.command, super::sockets::COMMAND_SHOWN)
        );
    }
    if procs.is_empty() {
        out.push_str("Processes: none\n");
    }
    out
}

/// Rows padded into columns two spaces apart, without trailing spaces.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// "What the states mean", for the kinds of socket given ([`SocketRow::kind`]: protocol and state).
pub fn legend(kinds: impl IntoIterator<Item = (&'static str, Option<&'static str>)>) -> String {
    let mut tcp: BTreeSet<(usize, &str)> = BTreeSet::new();
    let (mut udp_unconnected, mut udp_connected) = (false, false);
    for kind in kinds {
        match kind {
            ("udp", None) => udp_unconnected = true,
            ("udp", Some(_)) => udp_connected = true,
            (_, Some(state)) => {
                tcp.insert((lifecycle_order(state), state));
            }
            _ => {}
        }
    }
    let mut lines: Vec<(String, &str)> = tcp
        .into_iter()
        .filter_map(|(_, s)| Some((s.to_string(), meaning(s)?)))
        .collect();
    if udp_unconnected {
        let (name, text) = UDP_UNCONNECTED
            .split_once(": ")
            .unwrap_or(("UDP", UDP_UNCONNECTED));
        lines.push((name.to_string(), text));
    }
    if udp_connected {
        let (name, text) = UDP_CONNECTED
            .split_once(": ")
            .unwrap_or(("UDP", UDP_CONNECTED));
        lines.push((name.to_string(), text));
    }
    if lines.is_empty() {
        return String::new();
    }
    let width = lines.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = String::from("\nWhat the states mean:\n");
    for (name, text) in lines {
        let indent = " ".repeat(width + 4);
        let _ = writeln!(
            out,
            "  {name:<width$}  {}",
            wrap(text, LINE_WIDTH - indent.len()).join(&format!("\n{indent}"))
        );
    }
    out
}

/// Text width of the legend.
const LINE_WIDTH: usize = 100;

/// `text` cut into lines of at most `width` characters, between words.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

/// States in the order a connection goes through them, so the legend reads as its life.
fn lifecycle_order(state: &str) -> usize {
    const ORDER: [&str; 12] = [
        "CLOSE",
        "LISTEN",
        "SYN_SENT",
        "SYN_RECV",
        "NEW_SYN_RECV",
        "ESTABLISHED",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "CLOSE_WAIT",
        "CLOSING",
        "LAST_ACK",
        "TIME_WAIT",
    ];
    ORDER
        .iter()
        .position(|&s| s == state)
        .unwrap_or(ORDER.len())
}

/// One change as a line (without its time): `new      TCP  LOCAL_ADDR  0.0.0.0:*  LISTEN  pid 8123`.
pub fn change_line(change: &Change) -> String {
    match change {
        Change::ProcessStarted { process } => format!(
            "process  {} started (parent {}): {}",
            process.pid,
            process.ppid,
            shorten(&process.command, super::sockets::COMMAND_SHOWN)
        ),
        Change::ProcessEnded { process } => format!("process  {} ended", process.pid),
        Change::New { socket } => format!(
            "new      {}  {:<25}  {}",
            addresses(socket),
            socket.state.unwrap_or("(bound)"),
            holders(&socket.pids)
        ),
        Change::Gone { socket } => format!(
            "gone     {}  {:<25}  {}",
            addresses(socket),
            socket.state.unwrap_or("(bound)"),
            if socket.is_kept() {
                "the kernel is done with it".to_string()
            } else {
                format!("closed by {}", holders(&socket.pids))
            }
        ),
        Change::Changed {
            socket,
            from_state,
            from_pids,
        } => {
            let state = match (from_state, socket.state) {
                (from, to) if *from == to => to.unwrap_or("(bound)").to_string(),
                (from, to) => format!(
                    "{} -> {}",
                    from.unwrap_or("(bound)"),
                    to.unwrap_or("(bound)")
                ),
            };
            let who = if socket.is_kept() && !from_pids.is_empty() {
                format!("{} closed it; the kernel keeps it", holders(from_pids))
            } else if socket.is_kept() {
                "the kernel keeps it".to_string()
            } else if *from_pids != socket.pids {
                format!(
                    "held by {} (was {})",
                    holders(&socket.pids),
                    pids(from_pids)
                )
            } else {
                holders(&socket.pids)
            };
            format!("changed  {}  {state:<25}  {who}", addresses(socket))
        }
    }
}

fn addresses(row: &SocketRow) -> String {
    format!(
        "{:<5} {:<21}  {:<21}",
        proto(row),
        row.local.to_string(),
        foreign(row)
    )
}

fn holders(list: &[i32]) -> String {
    match list.len() {
        0 => "no process".to_string(),
        1 => format!("pid {}", list[0]),
        _ => format!("pids {}", pids(list)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::procfs::{Proto, Socket, State};

    fn row(proto: Proto, local: &str, remote: &str, state: State, pids: &[i32]) -> SocketRow {
        let socket = Socket {
            proto,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
        };
        let mut r = SocketRow {
            socket,
            proto: if proto == Proto::Tcp { "tcp" } else { "udp" },
            ip: if socket.local.is_ipv4() {
                "ipv4"
            } else {
                "ipv6"
            },
            local: socket.local,
            remote: None,
            state: Some(state.tcp_name()),
            inode: if pids.is_empty() { 0 } else { 9 },
            pids: pids.to_vec(),
        };
        if socket.remote.port() != 0 {
            r.remote = Some(socket.remote);
        }
        if proto == Proto::Udp && state == State::Close {
            r.state = None;
        }
        r
    }

    #[test]
    fn the_table_reads_like_netstat_with_a_legend_of_its_states() {
        // fixed-port-ok: values in a table, never bound
        let snapshot = Snapshot {
            processes: vec![ProcInfo {
                pid: 8123,
                ppid: 1,
                command: "python3 server.py 0".into(),
            }],
            sockets: vec![
                row(
                    Proto::Tcp,
                    "127.0.0.1:40713", // fixed-port-ok: text parsed, never bound
                    "0.0.0.0:0",
                    State::Listen,
                    &[8123],
                ),
                row(
                    Proto::Tcp,
                    "127.0.0.1:40713", // fixed-port-ok: text parsed, never bound
                    "127.0.0.1:51230", // fixed-port-ok: text parsed, never bound
                    State::Other(6),
                    &[],
                ),
                row(Proto::Udp, "[::]:9999", "[::]:0", State::Close, &[8123]),
            ],
            not_visible: vec![],
        };
        let text = table(&snapshot);
        assert!(
            text.contains("Proto  Local Address    Foreign Address  State"),
            "{text}"
        );
        assert!(
            text.contains(
                "TCP    127.0.0.1:40713  0.0.0.0:*        LISTEN     8123  python3 server.py 0" // fixed-port-ok: text parsed, never bound
            ),
            "{text}"
        );
        assert!(
            text.contains("TIME_WAIT  -     (closed; the kernel keeps it)"),
            "{text}"
        );
        assert!(text.contains("UDP6   [::]:9999        [::]:*"), "{text}");
        let legend_at = text.find("What the states mean").expect(&text);
        let listen = text[legend_at..].find("LISTEN").unwrap();
        let time_wait = text[legend_at..].find("TIME_WAIT").unwrap();
        assert!(listen < time_wait, "{text}");
        assert!(text.contains("closed FIRST"), "{text}");
        assert!(text.contains("UDP has no connections"), "{text}");
        assert!(
            !text.contains("CLOSE_WAIT"),
            "only the states shown are explained\n{text}"
        );
    }

    #[test]
    fn a_close_reads_as_who_closed_and_what_the_kernel_keeps() {
        let change = Change::Changed {
            socket: row(
                Proto::Tcp,
                "127.0.0.1:4000", // fixed-port-ok: text parsed, never bound
                "127.0.0.1:5000", // fixed-port-ok: text parsed, never bound
                State::Other(6),
                &[],
            ), // fixed-port-ok
            from_state: Some("ESTABLISHED"),
            from_pids: vec![8123],
        };
        let line = change_line(&change);
        assert!(line.starts_with("changed  TCP   127.0.0.1:4000"), "{line}"); // fixed-port-ok: text, never bound
        assert!(line.contains("ESTABLISHED -> TIME_WAIT"), "{line}");
        assert!(
            line.ends_with("pid 8123 closed it; the kernel keeps it"),
            "{line}"
        );
    }

    #[test]
    fn every_tcp_state_netstat_names_has_a_meaning() {
        for code in 1..=11u8 {
            let name = match code {
                1 => State::Established,
                7 => State::Close,
                10 => State::Listen,
                c => State::Other(c),
            }
            .tcp_name();
            assert!(meaning(name).is_some(), "{name}");
        }
    }
}
