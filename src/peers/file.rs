//! The lesson's file transfer: the sender streams every byte of a file over one TCP connection and
//! half-closes; the receiver writes every byte until EOF to a file.
//!
//! The receiver writes into a temporary file beside the output and renames it only once EOF arrived, so a
//! broken transfer never leaves a partial file under the final name. The sender waits for the receiver to
//! close before it reports success, so "sent" means the receiver has everything.

use std::fs::Permissions;
use std::io::{self, Read, Seek, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::{Handle, Stop, Watched};
use crate::error::{Error, Result};
use crate::wire::{self, Deadline};

/// How long the sender waits for the connection to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the sender waits, after its last byte, for the receiver to close: the receiver still has to
/// drain the socket buffers (a few MiB) and write them out.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes moved per read on the receiving side: memory stays bounded whatever the file size.
const CHUNK: usize = 256 * 1024;

/// What a receiver got: the file is complete at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// The size of the file.
    pub bytes: u64,
    /// Who sent it.
    pub peer: SocketAddr,
    /// Where it is (the receiver's output).
    pub path: PathBuf,
    /// Lowercase hex sha256 of the bytes received, computed as they arrived; `None` when the config
    /// turned hashing off.
    pub sha256: Option<String>,
}

/// What a receiver does about an output that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Existing {
    /// Refuse it when binding ([`Error::OutputExists`]), and never replace a file that appears meanwhile.
    #[default]
    Refuse,
    /// Replace it once the whole file arrived (`--force`).
    Replace,
}

/// Settings of the file receiver: [`ReceiverConfig::new`] with the output path, and the setters.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ReceiverConfig {
    /// Where the received bytes go, once the whole file arrived.
    pub out: PathBuf,
    /// Whether an existing `out` may be replaced (default: refused).
    pub existing: Existing,
    /// Give up when nobody connects within this, or when a connected sender then sends nothing for this
    /// long. `None`, the default, waits for ever, as a server started by hand should.
    pub wait: Option<Duration>,
    /// Compute the sha256 of the bytes as they arrive (default: yes). Hashing costs about as much CPU as
    /// the transfer itself on loopback: `sockspec serve file`, which does not show it, turns it off.
    pub sha256: bool,
}

impl ReceiverConfig {
    /// Receives into `out`, refusing an existing file, waiting as long as it takes.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        ReceiverConfig {
            out: out.into(),
            existing: Existing::Refuse,
            wait: None,
            sha256: true,
        }
    }

    /// Sets what to do about an existing output.
    pub fn existing(mut self, existing: Existing) -> Self {
        self.existing = existing;
        self
    }

    /// Waits at most `wait` for the sender to connect, and then for each of its bytes.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// Sets whether the sha256 of the bytes is computed.
    pub fn sha256(mut self, sha256: bool) -> Self {
        self.sha256 = sha256;
        self
    }
}

/// The handle of a spawned file receiver: [`Handle::wait`] returns what was [`Received`] once the
/// transfer ended; a stop before its end leaves no file and returns an error.
pub type FileHandle = Handle<Received>;

/// A bound file receiver: its address is known and its output is known to be writable before any
/// sender comes.
///
/// ```
/// use std::time::Duration;
/// use sockspec::peers::file::{self, FileReceiver, ReceiverConfig};
///
/// let dir = tempfile::tempdir()?;
/// let config = ReceiverConfig::new(dir.path().join("got.bin")).wait(Duration::from_secs(10));
/// let receiver = FileReceiver::bind("127.0.0.1:0".parse()?, config)?.spawn()?;
/// file::send_bytes(receiver.local_addr(), b"\x89PNG\r\n\x1a\n")?;
/// let got = receiver.wait(Duration::from_secs(10))?;
/// assert_eq!(got.bytes, 8);
/// assert_eq!(std::fs::read(&got.path)?, b"\x89PNG\r\n\x1a\n");
/// assert_eq!(got.sha256, Some(sockspec::wire::sha256_hex(b"\x89PNG\r\n\x1a\n")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FileReceiver {
    listener: TcpListener,
    addr: SocketAddr,
    temp: NamedTempFile,
    config: ReceiverConfig,
}

impl FileReceiver {
    /// Refuses an existing output (unless the config allows replacing it), creates the temporary file
    /// beside it (so an unwritable output fails now, with [`Error::WriteFile`]), then listens on `addr`.
    pub fn bind(addr: SocketAddr, config: ReceiverConfig) -> Result<Self> {
        let temp = create_temp_beside(&config.out, config.existing)?;
        let listener = wire::listen_tcp(addr, wire::LISTEN_BACKLOG)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        Ok(FileReceiver {
            listener,
            addr,
            temp,
            config,
        })
    }

    /// The address the receiver listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The temporary file the bytes go to until EOF: whoever stops this receiver from outside (a
    /// signal handler) removes it.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Accepts one connection and writes every byte until EOF to the output. On a broken transfer the
    /// temporary file is removed and [`Error::Broken`] says how many bytes arrived from whom.
    pub fn receive(self) -> Result<Received> {
        self.receive_until(&Stop::never())
    }

    /// Receives on a thread of its own; see [`FileHandle`].
    pub fn spawn(self) -> Result<FileHandle> {
        Handle::spawn("file receiver", self.addr, move |stop| {
            self.receive_until(&stop)
        })
    }

    fn receive_until(self, stop: &Stop) -> Result<Received> {
        let FileReceiver {
            listener,
            addr,
            mut temp,
            config,
        } = self;
        let ReceiverConfig {
            out,
            existing,
            wait,
            sha256,
        } = config;
        let accepted = super::accept_one(&listener, wait, stop)
            .map_err(|e| Error::io(format!("no sender connected to {addr}"), e))?;
        let Some((stream, peer)) = accepted else {
            return Err(Error::io(
                format!("stopped before a sender connected to {addr}"),
                io::Error::from(io::ErrorKind::Interrupted),
            ));
        };
        // One transfer per receiver: later clients are refused instead of queued for nothing.
        drop(listener);
        stream
            .set_read_timeout(wait)
            .map_err(|e| Error::io("cannot configure the connection", e))?;
        // A stop shuts the reading side down, so a read blocked on it ends at once, without the FIN
        // that a sender waiting for our close would take for "delivered"; it gets a reset instead.
        let mut stream = stop.watch(stream, Shutdown::Read);

        let mut buf = vec![0u8; CHUNK];
        let mut bytes = 0u64;
        let mut hasher = sha256.then(Sha256::new);
        loop {
            let n = match stream.read(&mut buf) {
                // A shut-down connection reads as EOF too: only the sender's EOF completes the file.
                Ok(0) if !stop.requested() => break,
                Ok(n) if !stop.requested() => n,
                // `temp` is dropped on return, which removes the partial file.
                Ok(_) => return Err(stopped(stream, peer, bytes)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) if stop.requested() => return Err(stopped(stream, peer, bytes)),
                Err(e) => {
                    let source = match wait {
                        Some(wait) if wire::is_timeout(&e) => io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("nothing arrived for {:.1} s", wait.as_secs_f64()),
                        ),
                        _ => e,
                    };
                    return Err(Error::Broken {
                        peer,
                        bytes,
                        source,
                    });
                }
            };
            if let Err(source) = temp.as_file_mut().write_all(&buf[..n]) {
                // A reset tells the sender that its bytes were not kept.
                let _ = wire::reset(stream.into_inner());
                return Err(Error::WriteFile { path: out, source });
            }
            if let Some(hasher) = &mut hasher {
                hasher.update(&buf[..n]);
            }
            bytes += n as u64;
        }
        let persisted = match existing {
            Existing::Refuse => temp.persist_noclobber(&out),
            Existing::Replace => temp.persist(&out),
        };
        if let Err(e) = persisted {
            let _ = wire::reset(stream.into_inner());
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                return Err(Error::OutputExists { path: out });
            }
            return Err(Error::WriteFile {
                path: out,
                source: e.error,
            });
        }
        // The orderly close, after the rename, is the sender's confirmation.
        drop(stream);
        Ok(Received {
            bytes,
            peer,
            path: out,
            sha256: hasher.map(|h| wire::hex(&h.finalize())),
        })
    }
}

/// Ends a transfer that a stop cut short: a reset tells the sender its bytes were not kept.
fn stopped(stream: Watched, peer: SocketAddr, bytes: u64) -> Error {
    let _ = wire::reset(stream.into_inner());
    Error::Broken {
        peer,
        bytes,
        source: io::Error::new(io::ErrorKind::Interrupted, "the receiver was stopped"),
    }
}

/// A hidden temporary file in the directory of `out`, so that the final rename stays on one file system.
/// An existing `out` is refused unless `existing` allows replacing it.
fn create_temp_beside(out: &Path, existing: Existing) -> Result<NamedTempFile> {
    let write_err = |source: io::Error| Error::WriteFile {
        path: out.to_path_buf(),
        source,
    };
    let Some(name) = out.file_name() else {
        return Err(write_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file name",
        )));
    };
    if out.is_dir() {
        return Err(write_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "is a directory",
        )));
    }
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // A dangling symbolic link exists too: the rename would replace it.
    if existing == Existing::Refuse && out.symlink_metadata().is_ok() {
        return Err(Error::OutputExists {
            path: out.to_path_buf(),
        });
    }
    // A missing directory is the common mistake: report it without the temporary file's name.
    std::fs::metadata(dir).map_err(write_err)?;
    tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".part")
        // Mode 0666 minus the umask, as for any file a program creates (a temp file would be 0600).
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| write_err(without_temp_path(e)))
}

/// tempfile adds the temporary file's name to its errors (`... at path ".out.bin.x.part"`); the user knows
/// only OUT, which the error names, so only the cause is kept.
fn without_temp_path(e: io::Error) -> io::Error {
    let text = e.to_string();
    match text.find(" at path ") {
        Some(at) if e.raw_os_error().is_none() => io::Error::new(e.kind(), &text[..at]),
        _ => e,
    }
}

/// Sends every byte of `path` to the receiver at `addr`, half-closes, and waits for the receiver to close.
/// Returns the number of bytes sent.
pub fn send_file(addr: SocketAddr, path: &Path) -> Result<u64> {
    let read_err = |source: io::Error| Error::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    // Opening a FIFO would block until a writer comes, and a directory fails only at the first read:
    // look first. O_NONBLOCK keeps the open itself from blocking should the path change meanwhile; it
    // has no effect on a regular file.
    check_regular(&std::fs::metadata(path).map_err(read_err)?).map_err(read_err)?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(read_err)?;
    check_regular(&file.metadata().map_err(read_err)?).map_err(read_err)?;
    // `io::copy` from a File to a TcpStream uses sendfile(2) on Linux: no copy through user space.
    deliver(addr, |stream| match io::copy(&mut file, stream) {
        Ok(sent) => Ok(sent),
        Err(source) if is_connection_lost(&source) => Err(Error::Broken {
            peer: addr,
            // sendfile moves the file offset, so it says how far the transfer got.
            bytes: file.stream_position().unwrap_or(0),
            source,
        }),
        Err(e) => Err(Error::io(
            format!("cannot send {} to {addr}", path.display()),
            e,
        )),
    })
}

/// As [`send_file`], with the file's content given as bytes: sends them, half-closes, and waits for
/// the receiver to close. Returns the number of bytes sent.
pub fn send_bytes(addr: SocketAddr, bytes: &[u8]) -> Result<u64> {
    deliver(addr, |stream| {
        let mut sent = 0u64;
        for piece in bytes.chunks(CHUNK) {
            stream.write_all(piece).map_err(|source| Error::Broken {
                peer: addr,
                bytes: sent,
                source,
            })?;
            sent += piece.len() as u64;
        }
        Ok(sent)
    })
}

/// Connects to `addr`, lets `copy` send the content, half-closes, and waits for the receiver's close.
fn deliver(addr: SocketAddr, copy: impl FnOnce(&mut TcpStream) -> Result<u64>) -> Result<u64> {
    let mut stream = wire::connect(addr, Deadline::after(CONNECT_TIMEOUT))?;
    // Until the last byte is out, any end of this process (an error, a kill) closes with a reset, so the
    // receiver cannot mistake a cut-short file for a whole one.
    set_linger(&stream, Some(Duration::ZERO))?;
    let sent = copy(&mut stream)?;
    // Everything is sent: the normal end is the orderly FIN.
    set_linger(&stream, None)?;
    wire::finish_sending(&stream)
        .map_err(|e| Error::io(format!("cannot finish the transfer to {addr}"), e))?;
    wait_for_close(&mut stream, addr, sent)?;
    Ok(sent)
}

fn check_regular(meta: &std::fs::Metadata) -> io::Result<()> {
    let why = if meta.is_dir() {
        "is a directory"
    } else if !meta.is_file() {
        "not a regular file"
    } else {
        return Ok(());
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, why))
}

fn set_linger(stream: &TcpStream, linger: Option<Duration>) -> Result<()> {
    socket2::SockRef::from(stream)
        .set_linger(linger)
        .map_err(|e| Error::io("cannot configure the connection", e))
}

/// Waits for the receiver's orderly close; whatever it sends meanwhile (an acknowledgement) is skipped.
fn wait_for_close(stream: &mut TcpStream, addr: SocketAddr, sent: u64) -> Result<()> {
    let deadline = Deadline::after(CLOSE_TIMEOUT);
    let mut sink = [0u8; 4096];
    loop {
        let Some(left) = deadline.remaining() else {
            return Err(Error::io(
                format!(
                    "{addr} did not close the connection within {} s after the last byte, \
                     so delivery is not confirmed",
                    CLOSE_TIMEOUT.as_secs()
                ),
                io::Error::from(io::ErrorKind::TimedOut),
            ));
        };
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| Error::io("cannot configure the connection", e))?;
        match stream.read(&mut sink) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if wire::is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            // A reset after the last byte: the receiver did not keep the file.
            Err(source) => {
                return Err(Error::Broken {
                    peer: addr,
                    bytes: sent,
                    source,
                })
            }
        }
    }
}

fn is_connection_lost(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_about_the_temporary_file_do_not_name_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = tempfile::Builder::new()
            .suffix(".part")
            .tempfile_in(&missing)
            .unwrap_err();
        // The premise: tempfile names its file.
        assert!(err.to_string().contains(".part"), "{err}");
        let kind = err.kind();
        let stripped = without_temp_path(err);
        assert_eq!(stripped.kind(), kind);
        assert!(!stripped.to_string().contains(".part"), "{stripped}");
        assert!(stripped.to_string().contains("os error"), "{stripped}");
    }
}
