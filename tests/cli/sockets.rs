//! `sockspec sockets`: a program's sockets as they change (started with `--`), the sockets of running
//! pids (once and watched), children's sockets under their own pid, and the port-in-use message.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use serde_json::Value;
use sockspec::exit;

use crate::util::{run, Proc, TestResult, WAIT};

/// More events than any test here waits through: a bound on the loops that read them.
const MAX_EVENTS: usize = 500;

fn fixture() -> String {
    format!("{}/fixtures/inspect/server.py", env!("CARGO_MANIFEST_DIR"))
}

/// The JSON events of a watch, kept as they are read: a wait for an event finds it whether it came
/// before or after others seen in the same look.
struct Events<'a> {
    watch: &'a mut Proc,
    seen: Vec<Value>,
}

impl<'a> Events<'a> {
    fn of(watch: &'a mut Proc) -> Self {
        Events {
            watch,
            seen: Vec::new(),
        }
    }

    /// The first event, read or still to come, that satisfies `pred` (every line must be JSON).
    #[track_caller]
    fn expect(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(event) = self.seen.iter().find(|e| pred(e)) {
            return event.clone();
        }
        while self.seen.len() < MAX_EVENTS {
            let line = self.watch.expect_line();
            let event: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{}", self.watch.describe()));
            assert!(event["t"].is_number(), "no time: {event}");
            self.seen.push(event.clone());
            if pred(&event) {
                return event;
            }
        }
        panic!(
            "no event {what} in {MAX_EVENTS} events\n{}",
            self.watch.describe()
        )
    }
}

/// A `new` or `changed` event about the socket `local` -> `remote` (`None`: not connected).
fn about(event: &Value, local: SocketAddr, remote: Option<SocketAddr>) -> bool {
    let socket = &event["socket"];
    matches!(event["event"].as_str(), Some("new" | "changed"))
        && socket["local"] == local.to_string()
        && socket["remote"]
            == remote
                .map(|r| r.to_string())
                .map_or(Value::Null, Value::from)
}

fn pids(socket: &Value) -> Vec<i64> {
    socket["pids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Reads `hello from pid N` from a fresh connection to the fixture server.
fn hello(stream: &TcpStream) -> Result<i64, Box<dyn std::error::Error>> {
    stream.set_read_timeout(Some(WAIT))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let pid = line
        .trim()
        .strip_prefix("hello from pid ")
        .ok_or_else(|| format!("unexpected greeting {line:?}"))?;
    Ok(pid.parse()?)
}

#[test]
fn a_started_server_is_seen_listening_connected_and_closed_then_stopped_by_ctrl_c() -> TestResult {
    let fixture = fixture();
    let mut watch = Proc::spawn(&[
        "sockets", "--format", "json", "--", "python3", &fixture, "0",
    ]);
    let mut events = Events::of(&mut watch);
    let started = events.expect("watching", |e| e["event"] == "watching");
    let server_pid = started["pids"][0].as_i64().expect("the program's pid");
    let output = events.expect("its first line", |e| e["event"] == "output");
    let addr: SocketAddr = output["text"]
        .as_str()
        .and_then(|t| t.strip_prefix("listening on "))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{output}"));
    let listen = events.expect("LISTEN", |e| about(e, addr, None));
    assert_eq!(listen["socket"]["state"], "LISTEN", "{listen}");
    assert_eq!(pids(&listen["socket"]), [server_pid], "{listen}");
    assert_eq!(listen["socket"]["proto"], "tcp");

    // The server closes first: its side goes to FIN_WAIT2, held by no process, then TIME_WAIT.
    let mut client = TcpStream::connect(addr)?;
    assert_eq!(hello(&client)?, server_pid);
    let me = client.local_addr()?;
    let established = events.expect("ESTABLISHED", |e| about(e, addr, Some(me)));
    assert_eq!(
        established["socket"]["state"], "ESTABLISHED",
        "{established}"
    );
    assert_eq!(pids(&established["socket"]), [server_pid]);
    client.write_all(b"close\n")?;
    let closed = events.expect("closed by the server", |e| {
        about(e, addr, Some(me)) && e["socket"]["pids"] == Value::Array(vec![])
    });
    assert_eq!(closed["event"], "changed", "{closed}");
    assert_eq!(closed["from_state"], "ESTABLISHED", "{closed}");
    assert_eq!(
        closed["from_pids"],
        Value::from(vec![server_pid]),
        "{closed}"
    );
    let mut rest = Vec::new();
    client.read_to_end(&mut rest)?;
    drop(client);
    events.expect("TIME_WAIT", |e| {
        about(e, addr, Some(me)) && e["socket"]["state"] == "TIME_WAIT"
    });

    // The client closes first and the server forgets to close: CLOSE_WAIT, still held by the server.
    let other = TcpStream::connect(addr)?;
    hello(&other)?;
    let other_addr = other.local_addr()?;
    events.expect("second connection", |e| {
        about(e, addr, Some(other_addr)) && e["socket"]["state"] == "ESTABLISHED"
    });
    drop(other);
    let waiting = events.expect("CLOSE_WAIT", |e| {
        about(e, addr, Some(other_addr)) && e["socket"]["state"] == "CLOSE_WAIT"
    });
    assert_eq!(pids(&waiting["socket"]), [server_pid], "{waiting}");

    // Ctrl-C: the watch stops the program, says what the kernel keeps, and exits with 130.
    events.watch.signal_group(libc::SIGINT);
    let ended = events.expect("ended", |e| e["event"] == "ended");
    assert_eq!(ended["reason"], "interrupted", "{ended}");
    assert_eq!(ended["signal"], libc::SIGINT, "{ended}");
    // SIGTERM was enough: the program does not inherit anything that keeps it from stopping.
    assert_eq!(ended["status"], "killed by signal 15 (SIGTERM)", "{ended}");
    let kept = ended["kept"].as_array().expect("kept connections");
    assert!(
        kept.iter().any(|k| k["local"] == addr.to_string()
            && k["remote"] == me.to_string()
            && k["state"] == "TIME_WAIT"),
        "the server's side of the first connection stays in TIME_WAIT: {ended}"
    );
    let status = events.watch.wait_exit();
    assert_eq!(status.code(), Some(130), "{}", events.watch.describe());
    assert!(
        !Path::new(&format!("/proc/{server_pid}")).exists(),
        "the program was left running"
    );
    Ok(())
}

#[test]
fn the_human_watch_shows_changes_with_times_and_the_meaning_of_their_states() -> TestResult {
    let fixture = fixture();
    let mut watch = Proc::spawn(&["sockets", "--", "python3", &fixture, "0"]);
    let first = watch.expect_line();
    assert!(first.starts_with("Watching the sockets of `"), "{first}");
    let mut listen = String::new();
    for _ in 0..MAX_EVENTS {
        let line = watch.expect_line();
        if line.contains("LISTEN") {
            listen = line;
            break;
        }
    }
    assert!(
        listen.trim_start().starts_with('+'),
        "a time first: {listen:?}"
    );
    assert!(listen.contains("new      TCP   127.0.0.1:"), "{listen:?}");
    assert!(listen.contains("0.0.0.0:*"), "{listen:?}");
    watch.signal_group(libc::SIGINT);
    let rest = watch.rest().join("\n");
    assert!(
        rest.contains("interrupted (signal 2); the program was stopped"),
        "{rest}"
    );
    assert!(rest.contains("gone     TCP"), "{rest}");
    assert!(rest.contains("What the states mean:"), "{rest}");
    assert!(rest.contains("LISTEN "), "{rest}");
    assert_eq!(watch.wait_exit().code(), Some(130));
    Ok(())
}

#[test]
fn a_forked_child_s_socket_is_shown_with_the_child_s_pid() -> TestResult {
    let fixture = fixture();
    let mut watch = Proc::spawn(&[
        "sockets", "--format", "json", "--", "python3", &fixture, "0", "--fork",
    ]);
    let mut events = Events::of(&mut watch);
    let started = events.expect("watching", |e| e["event"] == "watching");
    let parent = started["pids"][0].as_i64().expect("pid");
    let listen = events.expect("LISTEN", |e| e["socket"]["state"] == "LISTEN");
    let addr: SocketAddr = listen["socket"]["local"].as_str().expect("local").parse()?;
    let client = TcpStream::connect(addr)?;
    let child = hello(&client)?;
    assert_ne!(child, parent, "the fixture serves from a child");
    let me = client.local_addr()?;
    let held = events.expect("the child's connection", |e| {
        about(e, addr, Some(me)) && pids(&e["socket"]) == [child]
    });
    let forked = events.expect("the child process", |e| {
        e["event"] == "process-started" && e["process"]["pid"] == child
    });
    assert_eq!(forked["process"]["ppid"], parent, "{forked}");
    assert_eq!(held["socket"]["state"], "ESTABLISHED", "{held}");
    drop(client);
    events.watch.signal_group(libc::SIGINT);
    events.expect("ended", |e| e["event"] == "ended");
    assert_eq!(events.watch.wait_exit().code(), Some(130));
    for pid in [parent, child] {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} was left running"
        );
    }
    Ok(())
}

/// The fixture server run by the test itself, in its own process group, ended when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Result<Server, Box<dyn std::error::Error>> {
        let mut child = Command::new("python3")
            .args([fixture().as_str(), "0"])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Server {
            child,
            addr: "127.0.0.1:1".parse()?,
        };
        let line = rx.recv_timeout(WAIT)?;
        server.addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .parse()?;
        Ok(server)
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group of a child not reaped yet (its id is still ours).
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

#[test]
fn the_sockets_of_a_running_pid_are_a_table_and_json() -> TestResult {
    let server = Server::start()?;
    let table = run(&["sockets", &server.pid()], b"");
    table.assert_success();
    let text = table.stdout();
    let row = text
        .lines()
        .find(|l| l.starts_with("TCP ") && l.contains(&server.addr.to_string()))
        .unwrap_or_else(|| panic!("no row for {}\n{}", server.addr, table.describe()));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..5],
        [
            "TCP",
            &server.addr.to_string(),
            "0.0.0.0:*",
            "LISTEN",
            &server.pid()
        ],
        "{row}"
    );
    assert!(
        text.starts_with(&format!("Processes: {}", server.pid())),
        "{text}"
    );
    assert!(text.contains("What the states mean:\n  LISTEN"), "{text}");

    let json = run(&["sockets", "--format", "json", &server.pid()], b"");
    json.assert_success();
    let value: Value = serde_json::from_str(&json.stdout())?;
    assert_eq!(
        value["processes"][0]["pid"].to_string(),
        server.pid(),
        "{value}"
    );
    assert!(value["processes"][0]["command"]
        .as_str()
        .unwrap_or("")
        .contains("server.py"));
    assert_eq!(value["not_visible"], Value::Array(vec![]));
    let socket = &value["sockets"][0];
    let keys: Vec<&str> = socket
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["inode", "ip", "local", "pids", "proto", "remote", "state"],
        "{socket}"
    );
    assert_eq!(socket["local"], server.addr.to_string());
    assert_eq!(socket["remote"], Value::Null);
    assert!(socket["inode"].as_u64().unwrap_or(0) > 0, "{socket}");
    Ok(())
}

#[test]
fn watched_pids_show_a_first_look_then_end_when_the_processes_do() -> TestResult {
    let mut server = Server::start()?;
    let mut watch = Proc::spawn(&["sockets", "--watch", "--format", "json", &server.pid()]);
    let mut events = Events::of(&mut watch);
    let listen = events.expect("first look", |e| e["event"] == "new");
    assert_eq!(
        listen["socket"]["local"],
        server.addr.to_string(),
        "{listen}"
    );
    // The watch never signals a process it did not start: the test ends it.
    server.child.kill()?;
    let ended = events.expect("ended", |e| e["event"] == "ended");
    assert_eq!(ended["reason"], "exited", "{ended}");
    assert!(
        events.watch.wait_exit().success(),
        "{}",
        events.watch.describe()
    );
    Ok(())
}

#[test]
fn a_pid_that_is_no_process_and_no_target_at_all_are_usage_errors() {
    run(&["sockets", &i32::MAX.to_string()], b"")
        .assert_error(exit::USAGE, &["no process with pid 2147483647"]);
    run(&["sockets"], b"").assert_error(exit::USAGE, &["give the PIDs to show"]);
    run(&["sockets", "--", "./no-such-program"], b"")
        .assert_error(exit::USAGE, &["no-such-program"]);
}

#[test]
fn the_port_in_use_message_names_the_process_holding_it() -> TestResult {
    let tcp = TcpListener::bind("127.0.0.1:0")?;
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    let exe = std::env::current_exe()?;
    let me = format!("(held by pid {}: ", std::process::id());
    let name = exe.file_name().and_then(|n| n.to_str()).expect("a name");
    for (serve, port) in [
        ("echo", tcp.local_addr()?.port()),
        ("udp", udp.local_addr()?.port()),
    ] {
        let port = port.to_string();
        run(&["serve", serve, "--port", &port], b"").assert_error(
            exit::ADDR_IN_USE,
            &[&format!("port {port} is already in use"), &me, name],
        );
    }
    Ok(())
}
