//! A name turned into addresses by the system resolver, as a program's `connect(("name", port))`
//! would, with where the answer came from: the hosts file (which line), or a later source (DNS).
//!
//! The addresses are what `getaddrinfo` returns (IPv4 and IPv6, in the order a client tries them, with
//! the canonical name); the explanation reads the resolver's files ([`super::resolver`]). A numeric
//! address is recognised first (`AI_NUMERICHOST`) and never looked up.

use std::ffi::{CStr, CString};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::resolver::{Config, HostsLine};

/// One address of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    pub address: IpAddr,
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// What kind of address it is (loopback, private, ...).
    pub means: &'static str,
}

impl Address {
    fn new(address: IpAddr) -> Address {
        Address {
            address,
            family: if address.is_ipv4() { "ipv4" } else { "ipv6" },
            means: meaning(address),
        }
    }
}

/// Where the addresses of an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The name is an address already.
    Numeric,
    /// Every address is on a line of the hosts file.
    HostsFile,
    /// Some from the hosts file, the others from a later source.
    HostsFileAndResolver,
    /// Not in the hosts file: a later source of the resolver (DNS, ...).
    Resolver,
}

/// What the resolver answered for one name, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub name: String,
    /// In the order `getaddrinfo` returned them: the order a client tries them.
    pub addresses: Vec<Address>,
    pub canonical_name: Option<String>,
    pub source: Source,
    pub hosts_file: String,
    /// The lines of the hosts file that name it.
    pub hosts_lines: Vec<HostsLine>,
    /// The sources the resolver asks, in order (`hosts:` of nsswitch.conf).
    pub resolver_order: Vec<String>,
    /// The explanation, sentence by sentence.
    pub notes: Vec<String>,
}

/// Why a name has no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("cannot resolve {name:?}: no such name (not in {hosts_file}, and no other source of the resolver knows it)")]
    NoSuchName { name: String, hosts_file: String },
    #[error("cannot resolve {name:?}: no answer from DNS ({reason}); is this machine offline?")]
    NoAnswer { name: String, reason: String },
    #[error("cannot resolve {name:?}: {reason}")]
    Other { name: String, reason: String },
    #[error(
        "{name:?} is not a valid IPv4 address (four numbers from 0 to 255, such as 127.0.0.1)"
    )]
    NotAnAddress { name: String },
    #[error("{name:?} is not a name: {reason}")]
    NotAName { name: String, reason: &'static str },
}

/// Resolves `name` with the system resolver and explains the answer with `config`.
pub fn lookup(name: &str, config: &Config) -> Result<Answer, LookupError> {
    check_name(name)?;
    // `[::1]`, as in a URL, is the address inside the brackets.
    let bracketed = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
    if let Ok(found) = getaddrinfo(bracketed.unwrap_or(name), true) {
        return Ok(numeric(name, found));
    }
    if bracketed.is_some() {
        return Err(LookupError::NotAName {
            name: name.to_string(),
            reason: "brackets hold an IPv6 address, and this is none",
        });
    }
    let found = getaddrinfo(name, false).map_err(|code| failure(name, code, config))?;
    Ok(explain(name, found, config))
}

fn check_name(name: &str) -> Result<(), LookupError> {
    let bad = |reason| {
        Err(LookupError::NotAName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.contains('\0') {
        return bad("it holds a NUL byte");
    }
    if name.len() > 253 {
        return bad("a host name has at most 253 characters");
    }
    // Digits and dots are meant as an address: `999.1.1.1` is a typo to point out, never a name to
    // send to DNS (as `wire::resolve` does for the peers).
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.') && name.parse::<Ipv4Addr>().is_err() {
        // inet_aton's short forms (`127.1`) are addresses too: getaddrinfo takes them below.
        if getaddrinfo(name, true).is_err() {
            return Err(LookupError::NotAnAddress {
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

/// What `getaddrinfo` gave: the addresses (each once, in its order) and the canonical name.
struct Found {
    addresses: Vec<IpAddr>,
    canonical: Option<String>,
}

/// Calls `getaddrinfo(name, NULL, hints)` for stream sockets of any family, asking for the canonical
/// name; with `numeric_only`, for a numeric address only (nothing is looked up). Errors are `EAI_*`.
fn getaddrinfo(name: &str, numeric_only: bool) -> Result<Found, i32> {
    let c_name = CString::new(name).map_err(|_| libc::EAI_NONAME)?;
    // SAFETY: a zeroed addrinfo is the documented way to start hints; the fields set are plain ints.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_UNSPEC;
    // One socket type, so each address comes once instead of once per type (stream, datagram, raw).
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_CANONNAME;
    if numeric_only {
        hints.ai_flags |= libc::AI_NUMERICHOST;
    }
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated name, null service, initialised hints, out-pointer to a local.
    let rc = unsafe { libc::getaddrinfo(c_name.as_ptr(), std::ptr::null(), &hints, &mut list) };
    if rc != 0 {
        return Err(rc);
    }
    let mut found = Found {
        addresses: Vec::new(),
        canonical: None,
    };
    let mut node = list;
    while !node.is_null() {
        // SAFETY: `node` is an element of the list getaddrinfo returned, not freed until below; its
        // ai_addr points to a sockaddr of the family it names, of ai_addrlen bytes.
        unsafe {
            let ai = &*node;
            if found.canonical.is_none() && !ai.ai_canonname.is_null() {
                found.canonical = Some(
                    CStr::from_ptr(ai.ai_canonname)
                        .to_string_lossy()
                        .into_owned(),
                );
            }
            let ip = match ai.ai_family {
                libc::AF_INET if !ai.ai_addr.is_null() => {
                    let sin = &*(ai.ai_addr as *const libc::sockaddr_in);
                    Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        sin.sin_addr.s_addr,
                    ))))
                }
                libc::AF_INET6 if !ai.ai_addr.is_null() => {
                    let sin6 = &*(ai.ai_addr as *const libc::sockaddr_in6);
                    Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
                }
                _ => None,
            };
            if let Some(ip) = ip.filter(|ip| !found.addresses.contains(ip)) {
                found.addresses.push(ip);
            }
            node = ai.ai_next;
        }
    }
    // SAFETY: the list came from getaddrinfo and is freed once, after its last use above.
    unsafe { libc::freeaddrinfo(list) };
    Ok(found)
}

fn failure(name: &str, code: i32, config: &Config) -> LookupError {
    let reason = || {
        // SAFETY: gai_strerror returns a pointer to a static NUL-terminated message.
        let text = unsafe { CStr::from_ptr(libc::gai_strerror(code)) };
        text.to_string_lossy().to_lowercase()
    };
    match code {
        libc::EAI_NONAME | libc::EAI_NODATA => LookupError::NoSuchName {
            name: name.to_string(),
            hosts_file: config.hosts_file.clone(),
        },
        libc::EAI_AGAIN => LookupError::NoAnswer {
            name: name.to_string(),
            reason: reason(),
        },
        libc::EAI_SYSTEM => LookupError::Other {
            name: name.to_string(),
            reason: std::io::Error::last_os_error().to_string(),
        },
        _ => LookupError::Other {
            name: name.to_string(),
            reason: reason(),
        },
    }
}

fn numeric(name: &str, found: Found) -> Answer {
    let addresses: Vec<Address> = found.addresses.into_iter().map(Address::new).collect();
    let mut notes = Vec::new();
    if let Some(a) = addresses.first() {
        let family = if a.address.is_ipv4() { "IPv4" } else { "IPv6" };
        notes.push(format!(
            "a numeric {family} address: no lookup is needed, a program connects to it as it is"
        ));
        let written = name.trim_start_matches('[').trim_end_matches(']');
        if written.parse::<IpAddr>().ok() != Some(a.address) {
            notes.push(format!("written {name}, it means {}", a.address));
        }
    }
    Answer {
        name: name.to_string(),
        addresses,
        canonical_name: None,
        source: Source::Numeric,
        hosts_file: String::new(),
        hosts_lines: Vec::new(),
        resolver_order: Vec::new(),
        notes,
    }
}

fn explain(name: &str, found: Found, config: &Config) -> Answer {
    let hosts_lines = config.hosts_lines(name);
    let in_hosts = |ip: &IpAddr| hosts_lines.iter().any(|l| l.addr == *ip);
    let from_hosts = found.addresses.iter().filter(|ip| in_hosts(ip)).count();
    let source = match from_hosts {
        0 => Source::Resolver,
        n if n == found.addresses.len() => Source::HostsFile,
        _ => Source::HostsFileAndResolver,
    };
    let mut notes = Vec::new();
    for line in &hosts_lines {
        let used = if found.addresses.contains(&line.addr) {
            ""
        } else {
            " (not in the answer)"
        };
        notes.push(format!(
            "from {} line {}: {}{used}",
            config.hosts_file, line.line, line.text
        ));
    }
    let later = later_source(config);
    match source {
        Source::Resolver => notes.push(format!(
            "not in {}: the answer came from a later source of the resolver ({}){later}",
            config.hosts_file,
            config.order()
        )),
        Source::HostsFileAndResolver => notes.push(format!(
            "the other addresses came from a later source of the resolver ({}){later}",
            config.order()
        )),
        _ => {}
    }
    if is_localhost(name) {
        notes.extend(localhost_notes(&found.addresses, source, config));
    }
    if let Some(canonical) = &found.canonical {
        if !canonical.eq_ignore_ascii_case(name.trim_end_matches('.')) {
            let how = if source == Source::Resolver {
                "a CNAME record in DNS"
            } else {
                "a further name on its hosts line"
            };
            notes.push(format!(
                "{name} is an alias of the canonical name {canonical} ({how})"
            ));
        }
    }
    Answer {
        name: name.to_string(),
        addresses: found.addresses.into_iter().map(Address::new).collect(),
        canonical_name: found.canonical,
        source,
        hosts_file: config.hosts_file.clone(),
        hosts_lines,
        resolver_order: config.sources.clone(),
        notes,
    }
}

/// `: DNS, asking 10.0.0.53 (from /etc/resolv.conf)` when DNS is among the sources after `files`.
fn later_source(config: &Config) -> String {
    if !config.sources.iter().any(|s| s == "dns") {
        return String::new();
    }
    match config.nameservers.as_slice() {
        [] => ": DNS".to_string(),
        servers => format!(
            ": DNS, asking {} (from {})",
            servers.join(", "),
            super::resolver::RESOLV_FILE
        ),
    }
}

fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

fn localhost_notes(addresses: &[IpAddr], source: Source, config: &Config) -> Vec<String> {
    let mut notes = vec![
        "localhost always names this machine, through its loopback interface: 127.0.0.1 for IPv4, \
         ::1 for IPv6; what is sent there never leaves the machine"
            .to_string(),
    ];
    if source == Source::Resolver {
        let who = if config.sources.iter().any(|s| s == "myhostname") {
            "systemd's myhostname module, whose built-in rule answers localhost itself"
        } else if config.sources.iter().any(|s| s == "resolve") {
            "systemd-resolved, whose built-in rule answers localhost itself"
        } else {
            "a later source of the resolver"
        };
        notes.push(format!("here the answer came from {who}"));
    }
    let v4 = addresses.iter().any(|a| a.is_ipv4());
    let v6 = addresses.iter().any(|a| a.is_ipv6());
    if v4 && !v6 {
        notes.push(format!(
            "only IPv4 is returned here ({} has no `::1 localhost` line): a program asking for an \
             IPv6 address of localhost finds none",
            config.hosts_file
        ));
    } else if v6 && !v4 {
        notes.push(format!(
            "only IPv6 is returned here ({} has no `127.0.0.1 localhost` line)",
            config.hosts_file
        ));
    }
    notes
}

/// What kind of address `ip` is, in a few words.
pub fn meaning(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                "loopback: this machine"
            } else if v4.is_unspecified() {
                "every address of this machine (for bind(), not a destination)"
            } else if v4.is_private() {
                "private: a local network (LAN) address, not reachable from the internet"
            } else if v4.is_link_local() {
                "link-local: this network link only"
            } else if v4.is_broadcast() {
                "broadcast: every machine on this network"
            } else if v4.is_multicast() {
                "multicast: a group of receivers"
            } else if a == 100 && (64..128).contains(&b) {
                "shared address space (carrier NAT), not reachable from the internet"
            } else {
                "public: an internet address"
            }
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            if v6.is_loopback() {
                "loopback: this machine"
            } else if v6.is_unspecified() {
                "every address of this machine (for bind(), not a destination)"
            } else if v6.to_ipv4_mapped().is_some() {
                "an IPv4 address written as IPv6 (::ffff:a.b.c.d), as an IPv6 socket sees it"
            } else if first & 0xffc0 == 0xfe80 {
                "link-local: this network link only"
            } else if first & 0xfe00 == 0xfc00 {
                "unique local: a private network address, not reachable from the internet"
            } else if v6.is_multicast() {
                "multicast: a group of receivers"
            } else {
                "public: an internet address"
            }
        }
    }
}

/// An answer as text: the name, its addresses (family and kind), the canonical name, the explanation.
pub fn render(answer: &Answer) -> String {
    let mut out = format!("{}\n", answer.name);
    let width = answer
        .addresses
        .iter()
        .map(|a| a.address.to_string().len())
        .max()
        .unwrap_or(0);
    for a in &answer.addresses {
        let family = if a.family == "ipv4" { "IPv4" } else { "IPv6" };
        let _ = writeln!(
            out,
            "  {:<width$}  {family}  {}",
            a.address.to_string(),
            a.means
        );
    }
    if let Some(canonical) = &answer.canonical_name {
        let _ = writeln!(out, "  canonical name: {canonical}");
    }
    for note in &answer.notes {
        let _ = writeln!(out, "  {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::resolver::parse_hosts;

    fn config(hosts: &str, sources: &[&str]) -> Config {
        Config {
            hosts_file: "/etc/hosts".into(),
            hosts: Ok(parse_hosts(hosts)),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            nameservers: vec!["10.0.0.53".into()],
        }
    }

    fn found(addresses: &[&str], canonical: &str) -> Found {
        Found {
            addresses: addresses.iter().map(|a| a.parse().unwrap()).collect(),
            canonical: Some(canonical.to_string()),
        }
    }

    #[test]
    fn numeric_addresses_are_not_looked_up_and_short_forms_are_spelled_out() {
        let cfg = config("", &["files", "dns"]);
        let a = lookup("127.1", &cfg).unwrap();
        assert_eq!(a.source, Source::Numeric);
        assert_eq!(a.addresses[0].address, IpAddr::from([127, 0, 0, 1]));
        assert!(
            a.notes.iter().any(|n| n.contains("it means 127.0.0.1")),
            "{a:#?}"
        );
        let b = lookup("::1", &cfg).unwrap();
        assert_eq!(
            (b.addresses[0].family, b.addresses[0].means),
            ("ipv6", "loopback: this machine")
        );
        assert!(matches!(
            lookup("999.1.1.1", &cfg),
            Err(LookupError::NotAnAddress { .. })
        ));
        assert!(matches!(
            lookup("", &cfg),
            Err(LookupError::NotAName { .. })
        ));
    }

    #[test]
    fn an_answer_from_the_hosts_file_names_its_line_and_the_alias() {
        let cfg = config(
            "127.0.0.1 localhost\n192.168.1.100 lesson-server.test lesson\n",
            &["files", "dns"],
        );
        let a = explain(
            "lesson",
            found(&["192.168.1.100"], "lesson-server.test"),
            &cfg,
        );
        assert_eq!(a.source, Source::HostsFile);
        let text = render(&a);
        assert!(text.contains("192.168.1.100  IPv4  private"), "{text}");
        assert!(
            text.contains("from /etc/hosts line 2: 192.168.1.100 lesson-server.test lesson"),
            "{text}"
        );
        assert!(
            text.contains(
                "alias of the canonical name lesson-server.test (a further name on its hosts line)"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_answer_not_in_the_hosts_file_came_from_dns() {
        let cfg = config("127.0.0.1 localhost\n", &["files", "dns"]);
        let a = explain(
            "www.example.test",
            found(&["203.0.113.7"], "cdn.example.test"),
            &cfg,
        );
        assert_eq!(a.source, Source::Resolver);
        let text = render(&a);
        assert!(text.contains("not in /etc/hosts"), "{text}");
        assert!(text.contains("DNS, asking 10.0.0.53"), "{text}");
        assert!(text.contains("(a CNAME record in DNS)"), "{text}");
    }

    #[test]
    fn localhost_is_explained_and_a_missing_ipv6_line_is_pointed_out() {
        let cfg = config("127.0.0.1 localhost\n", &["files", "dns"]);
        let a = explain("localhost", found(&["127.0.0.1"], "localhost"), &cfg);
        let text = render(&a);
        assert!(
            text.contains("localhost always names this machine"),
            "{text}"
        );
        assert!(text.contains("has no `::1 localhost` line"), "{text}");
        let cfg = config("", &["files", "myhostname", "dns"]);
        let a = explain("localhost", found(&["::1", "127.0.0.1"], "localhost"), &cfg);
        let text = render(&a);
        assert!(text.contains("systemd's myhostname module"), "{text}");
        assert!(!text.contains("only IPv"), "{text}");
    }
}
