//! Two looks at a program's sockets compared: which processes started and ended, which sockets appeared,
//! changed (state, or the processes holding them) or went away.
//!
//! A connection the program closes is one change, not two: its socket goes away and, in the same look,
//! the kernel keeps the connection (FIN_WAIT2, TIME_WAIT) under no process. That is shown as the state
//! changing from what it was to what the kernel keeps, with the pids that held it, so a student sees
//! who closed first and who is left in TIME_WAIT.

use std::collections::HashMap;

use serde::Serialize;

use super::sockets::{Key, ProcInfo, Snapshot, SocketRow};

/// One difference between two looks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Change {
    /// A process joined the program's tree (a `fork()`, or the program itself).
    ProcessStarted { process: ProcInfo },
    /// A process of the tree ended.
    ProcessEnded { process: ProcInfo },
    /// A socket appeared.
    New { socket: SocketRow },
    /// A socket changed state or holders. `from_state` and `from_pids` are what it was; a connection
    /// the program closed has `socket.pids` empty and its former holders in `from_pids`.
    Changed {
        socket: SocketRow,
        from_state: Option<&'static str>,
        from_pids: Vec<i32>,
    },
    /// A socket went away (closed, and nothing more for the kernel to do).
    Gone { socket: SocketRow },
}

/// What changed from `before` to `after`: processes first, then sockets in table order.
pub fn between(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    let pids_before: HashMap<i32, &ProcInfo> =
        before.processes.iter().map(|p| (p.pid, p)).collect();
    let pids_after: HashMap<i32, &ProcInfo> = after.processes.iter().map(|p| (p.pid, p)).collect();
    for p in &after.processes {
        if !pids_before.contains_key(&p.pid) {
            changes.push(Change::ProcessStarted { process: p.clone() });
        }
    }
    for p in &before.processes {
        if !pids_after.contains_key(&p.pid) {
            changes.push(Change::ProcessEnded { process: p.clone() });
        }
    }

    let old: HashMap<Key, &SocketRow> = before.sockets.iter().map(|r| (r.key(), r)).collect();
    let new: HashMap<Key, &SocketRow> = after.sockets.iter().map(|r| (r.key(), r)).collect();
    // Held sockets that went away while the kernel now keeps their connection: (local, remote) -> row.
    let mut closed_into_kept: HashMap<Key, &SocketRow> = HashMap::new();
    for row in &before.sockets {
        if row.is_kept() || new.contains_key(&row.key()) {
            continue;
        }
        let kept = Key::Kept(row.local, row.socket.remote);
        if new.contains_key(&kept) && !old.contains_key(&kept) {
            closed_into_kept.insert(kept, row);
        }
    }

    for row in &after.sockets {
        let key = row.key();
        let was = old.get(&key).or_else(|| closed_into_kept.get(&key));
        match was {
            None => changes.push(Change::New {
                socket: row.clone(),
            }),
            Some(was) if was.state != row.state || was.pids != row.pids => {
                changes.push(Change::Changed {
                    socket: row.clone(),
                    from_state: was.state,
                    from_pids: was.pids.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for row in &before.sockets {
        let key = row.key();
        let closed = Key::Kept(row.local, row.socket.remote);
        let became_kept = !row.is_kept()
            && closed_into_kept
                .get(&closed)
                .is_some_and(|r| r.key() == key);
        if !new.contains_key(&key) && !became_kept {
            changes.push(Change::Gone {
                socket: row.clone(),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::procfs::{Proto, Socket, State};

    const TIME_WAIT: State = State::Other(6);

    fn row(state: State, inode: u64, pids: &[i32]) -> SocketRow {
        let socket = Socket {
            proto: Proto::Tcp,
            local: "127.0.0.1:4000".parse().unwrap(), // fixed-port-ok: a value, never bound
            remote: "127.0.0.1:5000".parse().unwrap(), // fixed-port-ok: a value, never bound
            state,
        };
        SocketRow {
            socket,
            proto: "tcp",
            ip: "ipv4",
            local: socket.local,
            remote: Some(socket.remote),
            state: Some(state.tcp_name()),
            inode,
            pids: pids.to_vec(),
        }
    }

    fn look(rows: Vec<SocketRow>, pids: &[i32]) -> Snapshot {
        Snapshot {
            processes: pids
                .iter()
                .map(|&pid| ProcInfo {
                    pid,
                    ppid: 1,
                    command: format!("prog {pid}"),
                })
                .collect(),
            sockets: rows,
            not_visible: Vec::new(),
        }
    }

    #[test]
    fn nothing_changed_is_no_change() {
        let a = look(vec![row(State::Established, 7, &[10])], &[10]);
        assert_eq!(between(&a, &a.clone()), vec![]);
    }

    #[test]
    fn a_closed_connection_kept_by_the_kernel_is_one_change_naming_who_closed_it() {
        let before = look(vec![row(State::Established, 7, &[10])], &[10]);
        let after = look(vec![row(TIME_WAIT, 0, &[])], &[10]);
        let changes = between(&before, &after);
        assert_eq!(
            changes,
            vec![Change::Changed {
                socket: row(TIME_WAIT, 0, &[]),
                from_state: Some("ESTABLISHED"),
                from_pids: vec![10],
            }]
        );
    }

    #[test]
    fn sockets_and_processes_that_appear_and_go_are_new_and_gone() {
        let before = look(vec![row(State::Listen, 7, &[10])], &[10]);
        let after = look(vec![row(State::Established, 8, &[11])], &[11]);
        let changes = between(&before, &after);
        assert!(matches!(&changes[0], Change::ProcessStarted { process } if process.pid == 11));
        assert!(matches!(&changes[1], Change::ProcessEnded { process } if process.pid == 10));
        assert!(matches!(&changes[2], Change::New { socket } if socket.inode == 8));
        assert!(matches!(&changes[3], Change::Gone { socket } if socket.inode == 7));
        assert_eq!(changes.len(), 4, "{changes:#?}");
    }

    #[test]
    fn a_socket_handed_to_a_child_changes_holders() {
        let before = look(vec![row(State::Established, 7, &[10, 11])], &[10, 11]);
        let after = look(vec![row(State::Established, 7, &[11])], &[10, 11]);
        assert_eq!(
            between(&before, &after),
            vec![Change::Changed {
                socket: row(State::Established, 7, &[11]),
                from_state: Some("ESTABLISHED"),
                from_pids: vec![10, 11],
            }]
        );
    }
}
