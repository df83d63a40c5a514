//! Typed errors of the library; each says what went wrong in words a user can act on, and maps to an exit code.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::exit;
use crate::inspect::sockets::PortHolder;

/// Everything the library's peers, inspectors and grader can fail with. Each variant's message is a
/// sentence for a person; [`Error::exit_code`] gives the CLI's exit code for it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another socket already listens on the address (`EADDRINUSE`: the lesson's second program on port
    /// 54321).
    #[error(
        "cannot listen on {addr}: port {port} is already in use{}",
        in_use_by(holder.as_ref(), addr.port()),
        port = addr.port()
    )]
    AddrInUse {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// The process holding the port, when it can be seen (see
        /// [`crate::inspect::sockets::port_holder`]); `None` for another user's process or another
        /// network namespace.
        holder: Option<PortHolder>,
    },

    /// Binding or listening failed for another reason than the address being in use (permission, an
    /// address this host does not have).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// Nothing listens at the address: the connection was refused (`ECONNREFUSED`).
    #[error("nobody is listening at {addr} (connection refused): start the server first, or check the port")]
    Refused {
        /// The address that refused.
        addr: SocketAddr,
    },

    /// No connection was established before the connect deadline.
    #[error("cannot connect to {addr} within {secs:.1} s")]
    ConnectTimeout {
        /// The address that was tried.
        addr: SocketAddr,
        /// The deadline that expired, in seconds.
        secs: f64,
    },

    /// Connecting failed for another reason (unreachable network, a reset during the handshake).
    #[error("cannot connect to {addr}")]
    Connect {
        /// The address that was tried.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A host name the user gave does not resolve to an address.
    #[error("cannot resolve host {host:?}")]
    Resolve {
        /// The name as the user gave it.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },

    /// A file the user named (to send, a suite, a report) cannot be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The file, as the user named it.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A file cannot be written (a received file, a report).
    #[error("cannot write {}", path.display())]
    WriteFile {
        /// The file, as the user named it.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The output file exists and replacing it was not asked for: nothing the user has is overwritten.
    #[error("{} already exists: remove it, or pass --force to replace it", path.display())]
    OutputExists {
        /// The file that already exists.
        path: PathBuf,
    },

    /// A transfer that started but broke before its end (a reset, a read error): the work failed.
    #[error("transfer with {peer} broke after {bytes} bytes")]
    Broken {
        /// The other end of the transfer.
        peer: SocketAddr,
        /// How many bytes had gone through before it broke.
        bytes: u64,
        /// The error that broke it.
        #[source]
        source: io::Error,
    },

    /// The request itself is wrong (a bad option value, a suite that does not parse); the message says
    /// what and where.
    #[error("{0}")]
    Usage(String),

    /// No private network namespace or no packet socket in it: `handshake` cannot run here.
    #[error("cannot capture packets here: {0}")]
    CannotCapture(String),
    /// A mistake in the class manifest of `sockspec batch`, where it is: `sockspec.toml:12: suite: ...`.
    #[error("{}:{line}: {field}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// The line of the mistake, from 1.
        line: usize,
        /// The field at fault (`assignments[0].suite`).
        field: String,
        /// What is wrong, and what would be right.
        message: String,
    },

    /// A grade stopped by [`crate::grade::runs::interrupt`] (a signal): whoever interrupted it reports.
    #[error("the grade was interrupted")]
    Interrupted,

    /// Any other I/O failure, with a sentence saying what was being done (see [`Error::io`]).
    #[error("{context}")]
    Io {
        /// What was being done, as a sentence for the user.
        context: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with a sentence saying what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The process exit code that this error stands for (see [`crate::exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::AddrInUse { .. } | Error::Bind { .. } => exit::ADDR_IN_USE,
            Error::Refused { .. } | Error::ConnectTimeout { .. } | Error::Connect { .. } => {
                exit::CONNECT
            }
            Error::Resolve { .. } | Error::Usage(_) => exit::USAGE,
            Error::Manifest { .. } => exit::MANIFEST,
            Error::ReadFile { .. } | Error::WriteFile { .. } | Error::OutputExists { .. } => {
                exit::FILE
            }
            Error::Broken { .. } | Error::Io { .. } | Error::Interrupted => exit::FAILED,
            Error::CannotCapture(_) => exit::CANNOT_CAPTURE,
        }
    }

    /// True when the error is only a closed stdout (`sockspec ... | head`), which is not worth reporting.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Who holds a port in use: `(held by pid 1234: python3 server.py)`, or where to look when that cannot
/// be seen (another user's process, another network namespace).
fn in_use_by(holder: Option<&PortHolder>, port: u16) -> String {
    match holder {
        Some(holder) => format!(" (held by {holder})"),
        None => format!(", another program holds it (find it with `ss -ltnup 'sport = :{port}'`)"),
    }
}

/// The library's result type: [`Error`] unless another error is named.
pub type Result<T, E = Error> = std::result::Result<T, E>;
