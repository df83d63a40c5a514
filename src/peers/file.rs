//! The lesson's file transfer: the sender streams every byte of a file over one TCP connection and
//! half-closes; the receiver writes every byte until EOF to a file.
//!
//! The receiver writes into a temporary file beside the output and renames it only once EOF arrived, so a
//! broken transfer never leaves a partial file under the final name. The sender waits for the receiver to
//! close before it reports success, so "sent" means the receiver has everything.

use std::fs::Permissions;
use std::io::{self, Read, Seek, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::NamedTempFile;

use crate::cli::{self, SendFileArgs, ServeFileArgs};
use crate::error::{Error, Result};
use crate::exit;
use crate::wire::{self, Deadline};

/// How long the sender waits for the connection to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the sender waits, after its last byte, for the receiver to close: the receiver still has to
/// drain the socket buffers (a few MiB) and write them out.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes moved per read on the receiving side: memory stays bounded whatever the file size.
const CHUNK: usize = 256 * 1024;

/// What a receiver got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub bytes: u64,
    pub peer: SocketAddr,
    pub path: PathBuf,
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

/// A bound file receiver: its address is known and its output is known to be writable before any
/// sender comes.
pub struct FileReceiver {
    listener: TcpListener,
    addr: SocketAddr,
    out: PathBuf,
    temp: NamedTempFile,
    existing: Existing,
    wait: Option<Duration>,
}

impl FileReceiver {
    /// Refuses an existing output, creates the temporary file beside `out` (so an unwritable output
    /// fails now, with [`Error::WriteFile`]), then listens on `addr`.
    pub fn bind(addr: SocketAddr, out: &Path) -> Result<Self> {
        Self::bind_with(addr, out, Existing::Refuse)
    }

    /// As [`FileReceiver::bind`], with `existing` saying whether an existing output may be replaced.
    pub fn bind_with(addr: SocketAddr, out: &Path, existing: Existing) -> Result<Self> {
        let temp = create_temp_beside(out, existing)?;
        let listener = wire::listen_tcp(addr, wire::LISTEN_BACKLOG)?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the listening address", e))?;
        Ok(FileReceiver {
            listener,
            addr,
            out: out.to_path_buf(),
            temp,
            existing,
            wait: None,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The temporary file the bytes go to until EOF: whoever stops this receiver from outside (a
    /// signal handler) removes it.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Gives up when nobody connects within `wait`, or when a connected sender then sends nothing for
    /// `wait`. `None`, the default, waits for ever, as a server started by hand should.
    pub fn set_wait(&mut self, wait: Option<Duration>) {
        self.wait = wait;
    }

    /// Accepts one connection and writes every byte until EOF to the output. On a broken transfer the
    /// temporary file is removed and [`Error::Broken`] says how many bytes arrived from whom.
    pub fn receive(self) -> Result<Received> {
        let FileReceiver {
            listener,
            out,
            mut temp,
            existing,
            wait,
            ..
        } = self;
        let (mut stream, peer) = super::accept_one(&listener, wait).map_err(|e| {
            Error::io(
                format!("no sender connected to {}", listener_addr(&listener)),
                e,
            )
        })?;
        // One transfer per receiver: later clients are refused instead of queued for nothing.
        drop(listener);
        stream
            .set_read_timeout(wait)
            .map_err(|e| Error::io("cannot configure the connection", e))?;

        let mut buf = vec![0u8; CHUNK];
        let mut bytes = 0u64;
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // `temp` is dropped on return, which removes the partial file.
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
                let _ = wire::reset(stream);
                return Err(Error::WriteFile { path: out, source });
            }
            bytes += n as u64;
        }
        let persisted = match existing {
            Existing::Refuse => temp.persist_noclobber(&out),
            Existing::Replace => temp.persist(&out),
        };
        if let Err(e) = persisted {
            let _ = wire::reset(stream);
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
        })
    }
}

fn listener_addr(listener: &TcpListener) -> String {
    listener
        .local_addr()
        .map_or_else(|_| "the listener".to_string(), |a| a.to_string())
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
    let mut stream = wire::connect(addr, Deadline::after(CONNECT_TIMEOUT))?;
    // Until the last byte is out, any end of this process (an error, a kill) closes with a reset, so the
    // receiver cannot mistake a cut-short file for a whole one.
    set_linger(&stream, Some(Duration::ZERO))?;
    // `io::copy` from a File to a TcpStream uses sendfile(2) on Linux: no copy through user space.
    let sent = match io::copy(&mut file, &mut stream) {
        Ok(sent) => sent,
        Err(source) if is_connection_lost(&source) => {
            return Err(Error::Broken {
                peer: addr,
                // sendfile moves the file offset, so it says how far the transfer got.
                bytes: file.stream_position().unwrap_or(0),
                source,
            });
        }
        Err(e) => {
            return Err(Error::io(
                format!("cannot send {} to {addr}", path.display()),
                e,
            ))
        }
    };
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

/// `sockspec serve file OUT`: prints `listening on ADDR`, receives one file, prints what arrived.
/// SIGINT, SIGTERM or SIGHUP remove the temporary file and exit with 128 + the signal number.
pub fn cli_serve(args: &ServeFileArgs) -> Result<u8> {
    // Blocked before any thread starts, so that every thread inherits the mask and only the waiter
    // below takes these signals.
    let signals = block_signals(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP])?;
    let existing = if args.force {
        Existing::Replace
    } else {
        Existing::Refuse
    };
    let receiver = FileReceiver::bind_with(args.listen.addr()?, &args.out, existing)?;
    remove_on_signal(
        signals,
        receiver.temp_path().to_path_buf(),
        args.out.clone(),
    )?;
    cli::announce(receiver.local_addr())?;
    let got = receiver.receive()?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "received {} bytes from {} into {}",
        got.bytes,
        got.peer,
        got.path.display()
    )
    .and_then(|_| out.flush())
    .map_err(|e| Error::io("cannot write standard output", e))?;
    Ok(exit::OK)
}

/// Blocks `signals` in the calling thread (and the threads it starts later); returns them as a set.
fn block_signals(signals: &[libc::c_int]) -> Result<libc::sigset_t> {
    // SAFETY: sigemptyset initialises the set before sigaddset and pthread_sigmask read it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        match libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) {
            0 => Ok(set),
            rc => Err(Error::io(
                "cannot block the stop signals",
                io::Error::from_raw_os_error(rc),
            )),
        }
    }
}

/// Starts a thread that waits for one of the blocked `signals`, then removes `temp`, says so on one line
/// and exits with 128 + the signal number (as a shell reports a process killed by it).
fn remove_on_signal(signals: libc::sigset_t, temp: PathBuf, out: PathBuf) -> Result<()> {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut signal = 0;
            // SAFETY: `signals` is an initialised set and `signal` a valid out-parameter.
            if unsafe { libc::sigwait(&signals, &mut signal) } != 0 {
                return;
            }
            // Held until the exit, so that an error the main thread is about to print cannot follow ours.
            let mut stderr = io::stderr().lock();
            let said = match std::fs::remove_file(&temp) {
                // Renamed already: the transfer ended just before the signal.
                Err(e) if e.kind() == io::ErrorKind::NotFound && out.exists() => {
                    format!("interrupted after {} was written", out.display())
                }
                _ => format!("interrupted; nothing written to {}", out.display()),
            };
            let _ = writeln!(stderr, "sockspec: {said}");
            std::process::exit(128 + signal);
        })
        .map(drop)
        .map_err(|e| Error::io("cannot start the signal thread", e))
}

/// `sockspec send-file HOST PORT FILE`: sends the file, prints `sent N bytes`.
pub fn cli_send(args: &SendFileArgs) -> Result<u8> {
    let sent = send_file(args.server.addr()?, &args.file)?;
    let mut out = io::stdout().lock();
    writeln!(out, "sent {sent} bytes")
        .and_then(|_| out.flush())
        .map_err(|e| Error::io("cannot write standard output", e))?;
    Ok(exit::OK)
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
