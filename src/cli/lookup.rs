//! `sockspec lookup NAME...`: the addresses the system resolver gives for each name, and why.

use std::io::{self, Write};

use clap::Args;

use super::write_stdout;
use crate::error::{Error, Result};
use crate::exit;
use crate::inspect::lookup::{self, LookupError};
use crate::inspect::resolver::Config;
use crate::inspect::Format;

#[derive(Debug, Clone, Args)]
#[command(after_help = LOOKUP_HELP)]
/// The flags of `sockspec lookup`.
pub struct LookupArgs {
    /// Host names or addresses to resolve.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// human: each name with its addresses and where they came from; json: an array, one object per
    /// name (`error` for a name that does not resolve).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

const LOOKUP_HELP: &str = "\
Examples:
  sockspec lookup localhost                   127.0.0.1 (and ::1), from /etc/hosts
  sockspec lookup 192.168.1.100               a numeric address: no lookup is needed
  sockspec lookup www.example.com --format json

Each name is resolved as a program's connect() resolves it: by the system resolver (getaddrinfo), which
asks the sources of `hosts:` in /etc/nsswitch.conf in order, usually /etc/hosts (files) and then DNS
(the servers of /etc/resolv.conf). Every IPv4 and IPv6 address is shown in the order a client tries
them, with the canonical name, and where the answer came from: the line of /etc/hosts, or a later
source such as DNS.

Exit codes: 0 every name resolved, 6 a name does not resolve (each such name is one line on stderr;
the others are still shown), 2 usage.";

pub(super) fn lookup(args: &LookupArgs) -> Result<u8> {
    let config = Config::system();
    let results: Vec<(&str, std::result::Result<lookup::Answer, LookupError>)> = args
        .names
        .iter()
        .map(|name| (name.as_str(), lookup::lookup(name, &config)))
        .collect();
    let failed = results.iter().any(|(_, r)| r.is_err());
    match args.format {
        Format::Human => {
            let shown: Vec<String> = results
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok().map(lookup::render))
                .collect();
            write_stdout(&shown.join("\n"))?;
            let mut stderr = io::stderr().lock();
            for (_, result) in &results {
                if let Err(e) = result {
                    let _ = writeln!(stderr, "sockspec: {e}");
                }
            }
        }
        Format::Json => {
            let values: Vec<serde_json::Value> = results
                .iter()
                .map(|(name, r)| match r {
                    Ok(answer) => serde_json::to_value(answer).unwrap_or_default(),
                    Err(e) => serde_json::json!({ "name": name, "error": e.to_string() }),
                })
                .collect();
            let json = serde_json::to_string_pretty(&values)
                .map_err(|e| Error::io("cannot write JSON", io::Error::other(e)))?;
            write_stdout(&(json + "\n"))?;
        }
    }
    Ok(if failed { exit::NOT_RESOLVED } else { exit::OK })
}
