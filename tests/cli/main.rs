//! The `sockspec` binary run as a user runs it: one-shot commands through assert_cmd, servers as child
//! processes in their own process group, read line by line with deadlines.

/// `serve chat` and `chat` talking to each other through their stdin and stdout.
mod chat;
/// Running as `nobody`, or where no namespace can be made.
#[path = "../support/confine.rs"]
mod confine;
/// `serve echo` in its modes and the `echo` client.
mod echo;
/// Bad input of every kind: one line on stderr and the documented exit code.
mod errors;
/// `serve file` and `send-file`, checked by sha256.
mod file;
/// `handshake`: one connection captured segment by segment; its arithmetic, its close, TIME_WAIT.
mod handshake;
mod http;
/// `lookup`: names from a hosts file the test controls, localhost and numeric addresses, offline.
mod lookup;
/// `sockets`: a program's sockets as they change, running pids, forked children, port holders.
mod sockets;
/// `suite check`, `suite show`, `suite schema`: suite files and their JSON Schema.
mod suite;
/// `serve udp` and `send-udp`.
mod udp;
/// Running the binary: one-shot runs, spawned servers that are always ended, addresses to test against.
mod util;
