//! `sockspec handshake`: one TCP connection on loopback, captured segment by segment, with the
//! lesson's reading of each.

use std::io;

use clap::Args;

use super::write_stdout;
use crate::error::{Error, Result};
use crate::exit;
use crate::grade::netns;
use crate::inspect::handshake::{self, HandshakeError, Settings, Side};
use crate::inspect::Format;

#[derive(Debug, Clone, Args)]
#[command(after_help = HANDSHAKE_HELP)]
/// The flags of `sockspec handshake`.
pub struct HandshakeArgs {
    /// The server's port. The connection runs in a private network namespace, where every port is
    /// free: the lesson's 8888 never meets another program.
    #[arg(long, default_value_t = 8888)]
    pub port: u16,
    /// What the client sends (1 to 1000 bytes); the server answers `ECHO：` + it.
    #[arg(long, default_value = "hello", value_parser = parse_message, value_name = "TEXT")]
    pub message: String,
    /// The server calls close() first (by default the client does): then the server ends in TIME_WAIT.
    #[arg(long)]
    pub server_closes_first: bool,
    /// human: a table of the segments with their readings; json: one object (`segments`, each with
    /// `flags`, `seq`, `ack`, `relative_seq`, `relative_ack`, `len`, `phase`, `reading`; `time_wait`).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

const HANDSHAKE_HELP: &str = "\
Examples:
  sudo sockspec handshake                         the client closes first, and ends in TIME_WAIT
  sudo sockspec handshake --server-closes-first   the server closes first, and ends in TIME_WAIT
  sudo sockspec handshake --message 你好 --format json

The connection is real: a server listens on 127.0.0.1:PORT, a client connects, sends the message, reads
the answer (ECHO： + the message), and one side closes, then the other. It runs in a private network
namespace, and a packet socket on its lo captures every segment: flags, seq and ack (absolute, and
relative to each side's initial sequence number, as Wireshark shows them), payload length, window and
TCP options, each with its reading (first handshake: SYN, seq = ISN; second handshake: SYN-ACK,
ack = ISN + 1; ...). The socket table of the namespace (/proc/net/tcp) then shows who is left in
TIME_WAIT: the side that closed first.

Each side sends its ACKs at once (TCP_QUICKACK) and the second side closes only after acknowledging the
first FIN, so the four waves of the close show as four segments; a program that closes at once often
sends its FIN with that ACK (three segments).

Needs root (or unprivileged user namespaces), to make the namespace and the packet socket.

Exit codes: 0 shown, 2 usage, 7 cannot capture here (not root, no namespaces), 1 the connection failed.";

fn parse_message(text: &str) -> std::result::Result<String, String> {
    match text.len() {
        0 => Err("the message is empty: give 1 to 1000 bytes".to_string()),
        n if n > 1000 => Err(format!("the message has {n} bytes: at most 1000")),
        _ => Ok(text.to_string()),
    }
}

pub(super) fn handshake(args: &HandshakeArgs) -> Result<u8> {
    // An ordinary user may make network namespaces inside a user namespace of its own, which can only
    // be entered while this process has a single thread: now. If it fails, the run says why.
    let _ = netns::enter_user_namespace();
    let settings = Settings {
        port: args.port,
        message: args.message.as_bytes().to_vec(),
        closes_first: if args.server_closes_first {
            Side::Server
        } else {
            Side::Client
        },
    };
    let seen = handshake::run(&settings).map_err(|e| match e {
        HandshakeError::CannotCapture(why) => Error::CannotCapture(why),
        HandshakeError::Failed { context, source } => Error::io(context, source),
    })?;
    let text = match args.format {
        Format::Human => handshake::text::render(&seen),
        Format::Json => {
            serde_json::to_string_pretty(&seen)
                .map_err(|e| Error::io("cannot write JSON", io::Error::other(e)))?
                + "\n"
        }
    };
    write_stdout(&text)?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> std::result::Result<HandshakeArgs, clap::Error> {
        match Cli::try_parse_from(args)?.command {
            Command::Handshake(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_lessons() {
        let args = parse(&["sockspec", "handshake"]).unwrap();
        assert_eq!((args.port, args.message.as_str()), (8888, "hello"));
        assert!(!args.server_closes_first);
        let args = parse(&[
            "sockspec",
            "handshake",
            "--server-closes-first",
            "--port",
            "0",
        ])
        .unwrap();
        assert!(args.server_closes_first);
        assert_eq!(args.port, 0);
    }

    #[test]
    fn an_empty_or_long_message_is_a_usage_error() {
        assert!(parse(&["sockspec", "handshake", "--message", ""]).is_err());
        let long = "x".repeat(1001);
        assert!(parse(&["sockspec", "handshake", "--message", &long]).is_err());
    }
}
