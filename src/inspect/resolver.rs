//! The files that decide where the system resolver (glibc's `getaddrinfo`) looks for a name: the hosts
//! file (`/etc/hosts`), the order of sources (`hosts:` in `/etc/nsswitch.conf`) and the DNS servers
//! (`nameserver` in `/etc/resolv.conf`). Read only to explain an answer; the answer itself always
//! comes from the resolver.

use std::fs;
use std::net::IpAddr;

use serde::Serialize;

/// The hosts file the resolver reads; glibc has no setting to read another.
pub const HOSTS_FILE: &str = "/etc/hosts";
/// Where the order of the resolver's sources is set.
pub const NSSWITCH_FILE: &str = "/etc/nsswitch.conf";
/// Where the DNS servers are set.
pub const RESOLV_FILE: &str = "/etc/resolv.conf";

/// glibc's order when `nsswitch.conf` has no `hosts:` line (`dns [!UNAVAIL=return] files`).
const DEFAULT_SOURCES: [&str; 2] = ["dns", "files"];

/// A line of a hosts file: an address and the names that stand for it, the first the canonical one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostsLine {
    /// The line number, from 1.
    pub line: usize,
    /// The line as written (without its comment).
    pub text: String,
    #[serde(skip)]
    pub addr: IpAddr,
    #[serde(skip)]
    pub names: Vec<String>,
}

impl HostsLine {
    /// True when `name` is on this line (case does not matter in names).
    pub fn names(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// The lines of a hosts file that map an address: `ADDRESS NAME [ALIAS...]`, comments after `#`.
/// Lines the resolver would skip (no name, no valid address) are skipped too.
pub fn parse_hosts(text: &str) -> Vec<HostsLine> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.split('#').next().unwrap_or("").trim();
        let mut fields = content.split_whitespace();
        let Some(addr) = fields.next() else { continue };
        // An IPv6 address may carry a zone (`fe80::1%eth0`); the address is what is compared.
        let Ok(addr) = addr.split('%').next().unwrap_or(addr).parse::<IpAddr>() else {
            continue;
        };
        let names: Vec<String> = fields.map(str::to_string).collect();
        if names.is_empty() {
            continue;
        }
        out.push(HostsLine {
            line: i + 1,
            text: content.split_whitespace().collect::<Vec<_>>().join(" "),
            addr,
            names,
        });
    }
    out
}

/// The sources of the `hosts:` line of an nsswitch.conf (`files`, `dns`, `myhostname`, ...), without
/// the `[NOTFOUND=return]` actions; `None` when there is no such line.
pub fn parse_nsswitch_hosts(text: &str) -> Option<Vec<String>> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("").trim();
        let rest = line.strip_prefix("hosts:")?;
        Some(
            rest.split_whitespace()
                .filter(|w| !w.starts_with('['))
                .map(str::to_string)
                .collect(),
        )
    })
}

/// The `nameserver` addresses of a resolv.conf.
pub fn parse_nameservers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then(|| words.next().map(str::to_string))?
        })
        .collect()
}

/// The resolver's configuration as read from its files, each read best effort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    pub hosts_file: String,
    /// The lines of the hosts file, or why it could not be read.
    #[serde(skip)]
    pub hosts: Result<Vec<HostsLine>, String>,
    /// The sources the resolver asks, in order.
    pub sources: Vec<String>,
    /// The DNS servers, for the `dns` source.
    pub nameservers: Vec<String>,
}

impl Config {
    /// The system's configuration.
    pub fn system() -> Config {
        let hosts = fs::read_to_string(HOSTS_FILE)
            .map(|text| parse_hosts(&text))
            .map_err(|e| e.to_string());
        let sources = fs::read_to_string(NSSWITCH_FILE)
            .ok()
            .and_then(|text| parse_nsswitch_hosts(&text))
            .unwrap_or_else(|| DEFAULT_SOURCES.map(str::to_string).to_vec());
        let nameservers = fs::read_to_string(RESOLV_FILE)
            .map(|text| parse_nameservers(&text))
            .unwrap_or_default();
        Config {
            hosts_file: HOSTS_FILE.to_string(),
            hosts,
            sources,
            nameservers,
        }
    }

    /// The lines of the hosts file that name `name`.
    pub fn hosts_lines(&self, name: &str) -> Vec<HostsLine> {
        match &self.hosts {
            Ok(lines) => lines.iter().filter(|l| l.names(name)).cloned().collect(),
            Err(_) => Vec::new(),
        }
    }

    /// `hosts: files dns`, as the sources read.
    pub fn order(&self) -> String {
        format!("hosts: {}", self.sources.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_hold_an_address_and_names_comments_aside() {
        let text = "# comment\n127.0.0.1\tlocalhost\n\n::1 localhost ip6-localhost # both\n\
                    192.168.1.100 lesson-server.test Lesson\nnot-an-address name\n10.0.0.1\n";
        let lines = parse_hosts(text);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert_eq!(lines[0].line, 2);
        assert_eq!(lines[0].text, "127.0.0.1 localhost");
        assert_eq!(lines[1].text, "::1 localhost ip6-localhost");
        assert_eq!(lines[1].addr, "::1".parse::<IpAddr>().unwrap());
        assert!(lines[2].names("lesson") && lines[2].names("LESSON-SERVER.test."));
        assert!(!lines[2].names("lesson-server"));
    }

    #[test]
    fn the_hosts_line_of_nsswitch_gives_the_order_of_sources() {
        let text = "passwd: files\nhosts:  files mdns4_minimal [NOTFOUND=return] dns myhostname\n";
        assert_eq!(
            parse_nsswitch_hosts(text).unwrap(),
            ["files", "mdns4_minimal", "dns", "myhostname"]
        );
        assert_eq!(parse_nsswitch_hosts("passwd: files\n"), None);
    }

    #[test]
    fn nameservers_are_read_from_resolv_conf() {
        let text = "# generated\nsearch example.test\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n";
        assert_eq!(parse_nameservers(text), ["127.0.0.53", "::1"]);
    }
}
