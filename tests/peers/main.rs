//! The reference peers as libraries, driven over loopback by std clients with deadlines.

/// Chat: scripted conversations over in-memory input and output, both ways of ending, bare messages, the
/// other side closing while this one waits for its input.
mod chat;
/// Echo server: exact replies for arbitrary lines however they are cut, many clients, the three modes.
mod echo;
/// File transfer: byte-exact files of awkward sizes and contents, and nothing left by a broken transfer.
mod file;
/// Every peer's handle: stop returns what the peer saw, wait lets it end, a drop never hangs.
mod handles;
/// UDP: whole datagrams in order from several paced senders, the size limit, the line formats.
mod udp;
/// Helpers: addresses, deadlines, a seeded generator, clients that read while they write.
mod util;
