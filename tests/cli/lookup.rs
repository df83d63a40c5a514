//! `sockspec lookup`, offline: names come from a hosts file the test controls, and no query can leave
//! the machine.
//!
//! The system resolver reads `/etc/hosts` and `/etc/nsswitch.conf` and nothing else, so a test that
//! needs a name of its own runs `sockspec` in a private mount namespace where the test's files are
//! bind-mounted over those two, and in a private network namespace with no interface up: a DNS query
//! there fails at once inside the machine. Numeric addresses are never looked up and run as is.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sockspec::exit;

use crate::util::{run, Run, BIN, WAIT};

/// The usual hosts file, with a name of the lesson's.
const HOSTS: &str = "\
# written by the test
127.0.0.1\tlocalhost
::1 localhost ip6-localhost ip6-loopback
192.168.1.100 lesson-server.test lesson
";

/// Files first, then DNS (which has no route out of the test's network namespace).
const FILES_THEN_DNS: &str = "hosts: files dns\n";

/// Runs `sockspec ARGS` with the resolver reading `hosts` and `nsswitch`, offline (see the module
/// documentation). Needs root, or unprivileged user namespaces.
#[track_caller]
fn run_offline(hosts: &str, nsswitch: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let hosts_path = dir.path().join("hosts");
    let nss_path = dir.path().join("nsswitch.conf");
    std::fs::write(&hosts_path, hosts).expect("write hosts");
    std::fs::write(&nss_path, nsswitch).expect("write nsswitch.conf");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let c = |p: &Path| CString::new(p.to_str().expect("UTF-8")).expect("no NUL");
    let mut mounts = vec![
        (c(&hosts_path), c(Path::new("/etc/hosts"))),
        (c(&nss_path), c(Path::new("/etc/nsswitch.conf"))),
    ];
    // A running nscd would answer from the machine's own files: hide its socket.
    for nscd in ["/run/nscd", "/var/run/nscd"] {
        if Path::new(nscd).is_dir() {
            mounts.push((c(&empty), c(Path::new(nscd))));
        }
    }
    // SAFETY: getuid and getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let maps = [
        (c(Path::new("/proc/self/setgroups")), b"deny".to_vec()),
        (
            c(Path::new("/proc/self/uid_map")),
            format!("0 {uid} 1").into_bytes(),
        ),
        (
            c(Path::new("/proc/self/gid_map")),
            format!("0 {gid} 1").into_bytes(),
        ),
    ];
    let root = c(Path::new("/"));
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    // SAFETY: between fork and exec only async-signal-safe system calls (unshare, open, write, close,
    // mount) on buffers prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWNET) != 0 {
                // Not root: a user namespace gives this process the rights it needs inside it.
                if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWNET) != 0
                {
                    return fail();
                }
                for (path, text) in &maps {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
                    if fd < 0 || libc::write(fd, text.as_ptr().cast(), text.len()) < 0 {
                        return fail();
                    }
                    libc::close(fd);
                }
            }
            let none = std::ptr::null();
            if libc::mount(
                none,
                root.as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                none.cast(),
            ) != 0
            {
                return fail();
            }
            for (from, to) in &mounts {
                if libc::mount(from.as_ptr(), to.as_ptr(), none, libc::MS_BIND, none.cast()) != 0 {
                    return fail();
                }
            }
            Ok(())
        });
    }
    let cmdline = format!(
        "sockspec {} (offline, hosts file of the test)",
        args.join(" ")
    );
    let output = assert_cmd::Command::from_std(cmd)
        .timeout(WAIT)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {cmdline} in a private mount and network namespace: {e} \
                 (these tests need root or unprivileged user namespaces)"
            )
        });
    Run { cmdline, output }
}

#[test]
fn localhost_comes_from_the_hosts_file_with_both_loopback_addresses() {
    let run = run_offline(HOSTS, FILES_THEN_DNS, &["lookup", "localhost"]);
    run.assert_success();
    let out = run.stdout();
    assert!(out.starts_with("localhost\n"), "{}", run.describe());
    for needle in [
        "127.0.0.1  IPv4  loopback: this machine",
        "IPv6  loopback: this machine",
        "from /etc/hosts line 2: 127.0.0.1 localhost",
        "from /etc/hosts line 3: ::1 localhost ip6-localhost ip6-loopback",
        "localhost always names this machine",
    ] {
        assert!(out.contains(needle), "lacks {needle:?}\n{}", run.describe());
    }
    assert!(!out.contains("only IPv4"), "{}", run.describe());
}

#[test]
fn localhost_without_an_ipv6_line_is_said_to_have_none() {
    let run = run_offline(
        "127.0.0.1 localhost\n",
        FILES_THEN_DNS,
        &["lookup", "localhost"],
    );
    run.assert_success();
    let out = run.stdout();
    assert!(!out.contains("IPv6  loopback"), "{}", run.describe());
    assert!(
        out.contains("has no `::1 localhost` line"),
        "{}",
        run.describe()
    );
}

#[test]
fn a_name_from_the_hosts_file_names_its_line_and_canonical_name() {
    let run = run_offline(HOSTS, FILES_THEN_DNS, &["lookup", "lesson"]);
    run.assert_success();
    let out = run.stdout();
    for needle in [
        "192.168.1.100  IPv4  private: a local network (LAN) address",
        "canonical name: lesson-server.test",
        "from /etc/hosts line 4: 192.168.1.100 lesson-server.test lesson",
        "lesson is an alias of the canonical name lesson-server.test",
    ] {
        assert!(out.contains(needle), "lacks {needle:?}\n{}", run.describe());
    }
}

#[test]
fn a_name_nobody_knows_is_one_line_and_its_own_exit_code() {
    // DNS is asked, and cannot be reached from the test's network namespace.
    run_offline(HOSTS, FILES_THEN_DNS, &["lookup", "nothing.invalid"])
        .assert_error(exit::NOT_RESOLVED, &["cannot resolve \"nothing.invalid\""]);
    // Only the hosts file is asked: the resolver says there is no such name.
    run_offline(HOSTS, "hosts: files\n", &["lookup", "nothing.invalid"]).assert_error(
        exit::NOT_RESOLVED,
        &["cannot resolve \"nothing.invalid\": no such name (not in /etc/hosts"],
    );
}

#[test]
fn json_has_one_object_per_name_and_errors_in_place() -> Result<(), Box<dyn std::error::Error>> {
    let run = run_offline(
        HOSTS,
        "hosts: files\n",
        &[
            "lookup",
            "--format",
            "json",
            "lesson",
            "127.0.0.1",
            "nothing.invalid",
        ],
    );
    assert_eq!(
        run.output.status.code(),
        Some(exit::NOT_RESOLVED.into()),
        "{}",
        run.describe()
    );
    let value: Value = serde_json::from_str(&run.stdout())?;
    let [lesson, numeric, missing] = value.as_array().map(Vec::as_slice).unwrap_or_default() else {
        panic!("three objects expected\n{}", run.describe());
    };
    assert_eq!(lesson["name"], "lesson");
    assert_eq!(lesson["source"], "hosts-file");
    assert_eq!(lesson["canonical_name"], "lesson-server.test");
    assert_eq!(lesson["addresses"][0]["address"], "192.168.1.100");
    assert_eq!(lesson["addresses"][0]["family"], "ipv4");
    assert_eq!(lesson["hosts_lines"][0]["line"], 4);
    assert_eq!(lesson["resolver_order"], serde_json::json!(["files"]));
    assert_eq!(numeric["source"], "numeric");
    assert_eq!(missing["name"], "nothing.invalid");
    assert!(
        missing["error"]
            .as_str()
            .unwrap_or("")
            .contains("no such name"),
        "{missing}"
    );
    Ok(())
}

#[test]
fn numeric_addresses_need_no_lookup() {
    let run = run(
        &[
            "lookup",
            "127.0.0.1",
            "::1",
            "[::1]",
            "127.1",
            "192.168.1.100",
        ],
        b"",
    );
    run.assert_success();
    let out = run.stdout();
    for needle in [
        "127.0.0.1\n  127.0.0.1  IPv4  loopback: this machine\n  a numeric IPv4 address: no lookup is needed",
        "::1\n  ::1  IPv6  loopback: this machine\n  a numeric IPv6 address",
        "[::1]\n  ::1  IPv6",
        "127.1\n  127.0.0.1  IPv4  loopback: this machine\n  a numeric IPv4 address: no lookup is needed, a program connects to it as it is\n  written 127.1, it means 127.0.0.1",
        "192.168.1.100  IPv4  private",
    ] {
        assert!(out.contains(needle), "lacks {needle:?}\n{}", run.describe());
    }
}

#[test]
fn bad_names_are_one_line_errors() {
    run(&["lookup", "999.1.1.1"], b"").assert_error(
        exit::NOT_RESOLVED,
        &["\"999.1.1.1\" is not a valid IPv4 address"],
    );
    run(&["lookup", "[nope]"], b"").assert_error(exit::NOT_RESOLVED, &["\"[nope]\" is not a name"]);
    run(&["lookup"], b"").assert_error(exit::USAGE, &["NAME"]);
}
