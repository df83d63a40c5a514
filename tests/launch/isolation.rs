//! A program started in a private network namespace: reached there by the grader, fixed ports free,
//! the namespace gone once the program is stopped. As root this must work; elsewhere the tests say why
//! they did not run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use sockspec::grade::launch::Program;
use sockspec::grade::netns::{NetNs, Network};
use sockspec::grade::procfs::Proto;
use sockspec::wire::Deadline;

use crate::{finish, python_spec, Run, START};

/// A fresh namespace, or `None` (after saying why) when this process may not make one and is not root.
fn namespace(steer: bool) -> Option<NetNs> {
    match NetNs::create(steer) {
        Ok(ns) => Some(ns),
        // SAFETY: geteuid has no preconditions.
        Err(e) if unsafe { libc::geteuid() } != 0 => {
            eprintln!("no network namespace here ({e}); not tested");
            None
        }
        Err(e) => panic!("root must be able to make a network namespace: {e}"),
    }
}

/// A server on the lesson's fixed port 54321 that upper-cases one message per connection.
const FIXED_PORT_SERVER: &str = r#"
import socket
s = socket.socket()
s.bind(("0.0.0.0", 54321))
s.listen()
while True:
    c, _ = s.accept()
    c.sendall(c.recv(100).upper())
    c.close()
"#;

/// True when a process or an fd of this process still refers to the network namespace `id`.
fn namespace_in_use(id: u64) -> bool {
    let link = format!("net:[{id}]");
    let refers = |path: std::path::PathBuf| {
        std::fs::read_link(path).is_ok_and(|target| target.to_string_lossy() == link)
    };
    let procs = std::fs::read_dir("/proc").expect("/proc");
    let held_by_a_process = procs
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .any(|e| refers(e.path().join("ns/net")));
    let held_by_our_fds = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .any(|e| refers(e.path()));
    held_by_a_process || held_by_our_fds
}

#[test]
fn two_copies_of_a_fixed_port_server_run_side_by_side_and_leave_no_namespace() {
    let (Some(first), Some(second)) = (namespace(false), namespace(false)) else {
        return;
    };
    let ids = [first.id(), second.id()];
    assert_ne!(ids[0], ids[1]);
    let mut runs = Vec::new();
    for ns in [first, second] {
        let network = Network::Private(Arc::new(ns));
        let (dir, mut spec) = python_spec(FIXED_PORT_SERVER, &[]);
        spec.network = network;
        let program = Program::spawn(&spec).expect("launch python3 in the namespace");
        runs.push(Run { program, dir });
    }
    for run in &runs {
        let addr = run
            .program
            .wait_listening(Proto::Tcp, Deadline::after(START))
            .expect("each copy listens on its own 54321");
        assert_eq!(addr, SocketAddr::from(([127, 0, 0, 1], 54321)));
        let reply = run
            .program
            .in_net(move || -> std::io::Result<Vec<u8>> {
                let mut stream = TcpStream::connect_timeout(&addr, START)?;
                stream.set_read_timeout(Some(START))?;
                stream.write_all(b"hi\n")?;
                let mut reply = Vec::new();
                stream.read_to_end(&mut reply)?;
                Ok(reply)
            })
            .expect("enter the namespace")
            .expect("talk to the server");
        assert_eq!(reply, b"HI\n");
    }
    for id in ids {
        assert!(namespace_in_use(id), "namespace {id} not seen while in use");
    }
    for mut run in runs {
        finish(&mut run, Duration::from_secs(5));
    }
    for id in ids {
        assert!(!namespace_in_use(id), "namespace {id} outlived its program");
    }
}

#[test]
fn the_program_sees_only_loopback_any_address_is_local_and_it_cannot_leave() {
    let Some(ns) = namespace(false) else {
        return;
    };
    let (dir, mut spec) = python_spec(
        r#"
import socket
print("interfaces:", ",".join(n for _, n in socket.if_nameindex()))
with open("/proc/net/route") as f:
    print("routes:", len(f.readlines()) - 1)
s = socket.socket()
s.bind(("192.168.1.100", 0))
print("bound:", s.getsockname()[0])
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/proc/%d/ns/net" % os.getppid(), os.O_RDONLY)  # the grader's network
print("setns out:", libc.setns(fd, 0x40000000), os.strerror(ctypes.get_errno()), flush=True)
"#,
        &[],
    );
    spec.network = Network::Private(Arc::new(ns));
    let program = Program::spawn(&spec).expect("launch");
    let mut run = Run { program, dir };
    let status = run.program.wait_exit(Deadline::after(START));
    let out = String::from_utf8_lossy(&run.program.stdout().snapshot()).into_owned();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}: {out}\n{}",
        String::from_utf8_lossy(&run.program.stderr().snapshot())
    );
    assert!(out.contains("interfaces: lo\n"), "{out}");
    assert!(out.contains("routes: 0\n"), "{out}");
    assert!(out.contains("bound: 192.168.1.100\n"), "{out}");
    // Even a program run by root cannot go back to the machine's network.
    assert!(
        out.contains("setns out: -1 Operation not permitted\n"),
        "{out}"
    );
    finish(&mut run, Duration::from_secs(5));
}
