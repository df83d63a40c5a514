//! Typed errors of the library; each says what went wrong in words a user can act on, and maps to an exit code.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::exit;
use crate::inspect::sockets::PortHolder;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `holder` is the process holding the port, when it can be seen (see [`crate::inspect::sockets::port_holder`]).
    #[error(
        "cannot listen on {addr}: port {port} is already in use{}",
        in_use_by(holder.as_ref(), addr.port()),
        port = addr.port()
    )]
    AddrInUse {
        addr: SocketAddr,
        holder: Option<PortHolder>,
    },

    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },

    #[error("nobody is listening at {addr} (connection refused): start the server first, or check the port")]
    Refused { addr: SocketAddr },

    #[error("cannot connect to {addr} within {secs:.1} s")]
    ConnectTimeout { addr: SocketAddr, secs: f64 },

    #[error("cannot connect to {addr}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },

    #[error("cannot resolve host {host:?}")]
    Resolve {
        host: String,
        #[source]
        source: io::Error,
    },

    #[error("cannot read {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot write {}", path.display())]
    WriteFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{} already exists: remove it, or pass --force to replace it", path.display())]
    OutputExists { path: PathBuf },

    /// A transfer that started but broke before its end (a reset, a read error): the work failed.
    #[error("transfer with {peer} broke after {bytes} bytes")]
    Broken {
        peer: SocketAddr,
        bytes: u64,
        #[source]
        source: io::Error,
    },

    #[error("{0}")]
    Usage(String),

    /// A mistake in the class manifest of `sockspec batch`, where it is: `sockspec.toml:12: suite: ...`.
    #[error("{}:{line}: {field}: {message}", path.display())]
    Manifest {
        path: PathBuf,
        line: usize,
        field: String,
        message: String,
    },

    /// A grade stopped by [`crate::grade::runs::interrupt`] (a signal): whoever interrupted it reports.
    #[error("the grade was interrupted")]
    Interrupted,

    #[error("{context}")]
    Io {
        context: String,
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

pub type Result<T, E = Error> = std::result::Result<T, E>;
