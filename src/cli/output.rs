//! Where `sockspec grade` writes its report (`-o FILE`), so that nothing the user has is lost or turned
//! into something else:
//!
//! - `-` (and `/dev/stdout`): standard output;
//! - a regular file, or a name that does not exist yet: a new file beside it, renamed over it once the
//!   report is whole, so a failed run leaves an older report as it was (its permissions are kept);
//! - a symlink: followed, and its target handled as above; the link itself is never replaced;
//! - a FIFO or a character device (`/dev/null`, a terminal): written in place, never replaced;
//! - a directory, a block device or a socket, or a name in `/dev` or `/proc` that does not exist: refused.
//!
//! Everything that can be found wrong is found by [`Output::open`], before any check runs.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::write_stdout;
use crate::error::{Error, Result};
use crate::grade::runs;
use crate::wire::Deadline;

/// How long a FIFO may wait for a reader, and a FIFO or device for the reader to take the report.
const DIRECT_WAIT: Duration = Duration::from_secs(30);

/// A symlink chain longer than this is a loop (the kernel's own limit is 40).
const MAX_LINKS: usize = 40;

/// Where the report goes; see the module documentation.
pub(super) enum Output {
    Stdout,
    /// A regular file, new or replaced: `temp` is renamed to `target` once the report is in it.
    Replace {
        shown: PathBuf,
        target: PathBuf,
        temp: tempfile::NamedTempFile,
        /// For the watchdog: the temporary file is removed if the grader is killed.
        _tracked: runs::Registration,
    },
    /// A character device, opened before the run.
    Device {
        shown: PathBuf,
        file: File,
    },
    /// A FIFO, opened when the report is ready: a reader may only come then.
    Fifo {
        shown: PathBuf,
    },
}

impl Output {
    /// Checks `-o FILE` (none: stdout) and prepares the writing: a usage error when it cannot be written.
    pub(super) fn open(path: Option<&Path>) -> Result<Output> {
        let Some(path) = path else {
            return Ok(Output::Stdout);
        };
        if is_own_stdout(path) {
            return Ok(Output::Stdout);
        }
        let cannot = |why: String| {
            Error::Usage(format!(
                "cannot write the report to {}: {why}",
                path.display()
            ))
        };
        let shown = path.to_path_buf();
        match fs::metadata(path) {
            Ok(meta) => {
                let kind = meta.file_type();
                if kind.is_dir() {
                    Err(cannot("it is a directory".into()))
                } else if kind.is_fifo() {
                    writable(path).map_err(|e| cannot(e.to_string()))?;
                    Ok(Output::Fifo { shown })
                } else if kind.is_char_device() {
                    let file = OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_NOCTTY)
                        .open(path)
                        .map_err(|e| cannot(e.to_string()))?;
                    Ok(Output::Device { shown, file })
                } else if kind.is_block_device() || kind.is_socket() {
                    Err(cannot(format!(
                        "it is a {}; a report goes to a file, a FIFO or a character device",
                        if kind.is_socket() {
                            "socket"
                        } else {
                            "block device"
                        }
                    )))
                } else if in_dev_or_proc(path) {
                    // A file behind a descriptor's name (`/dev/stderr` sent to a file by the shell):
                    // written in place, after what is there, never renamed over.
                    let file = OpenOptions::new()
                        .append(true)
                        .open(path)
                        .map_err(|e| cannot(e.to_string()))?;
                    Ok(Output::Device { shown, file })
                } else {
                    let target = resolve_links(path).map_err(|e| cannot(e.to_string()))?;
                    writable(&target).map_err(|e| cannot(e.to_string()))?;
                    let mode = meta.permissions().mode() & 0o7777;
                    replace(shown, target, Some(mode)).map_err(cannot)
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && in_dev_or_proc(path) => {
                Err(cannot("no such device".into()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Absent, or a symlink to something absent: made where the link points.
                let target = resolve_links(path).map_err(|e| cannot(e.to_string()))?;
                replace(shown, target, None).map_err(cannot)
            }
            Err(e) => Err(cannot(e.to_string())),
        }
    }

    /// Writes the whole report; an error names the file and is exit code 4 (see [`Error::WriteFile`]).
    pub(super) fn write(self, text: &str) -> Result<()> {
        let failed = |path: PathBuf| move |source| Error::WriteFile { path, source };
        match self {
            Output::Stdout => write_stdout(text),
            Output::Replace {
                shown,
                target,
                mut temp,
                _tracked,
            } => {
                temp.write_all(text.as_bytes())
                    .and_then(|_| temp.as_file().sync_all())
                    .map_err(failed(shown.clone()))?;
                temp.persist(&target).map_err(|e| failed(shown)(e.error))?;
                Ok(())
            }
            Output::Device { shown, mut file } => {
                write_by(&mut file, text.as_bytes(), Deadline::after(DIRECT_WAIT))
                    .map_err(failed(shown))
            }
            Output::Fifo { shown } => {
                let deadline = Deadline::after(DIRECT_WAIT);
                open_fifo(&shown, deadline)
                    .and_then(|mut file| write_by(&mut file, text.as_bytes(), deadline))
                    .map_err(failed(shown))
            }
        }
    }

    /// True when the report goes to standard output.
    pub(super) fn is_stdout(&self) -> bool {
        matches!(self, Output::Stdout)
    }

    /// Where the report goes, for a message: `report.json`, `standard output`.
    pub(super) fn describe(&self) -> String {
        match self {
            Output::Stdout => "standard output".into(),
            Output::Replace { shown, .. }
            | Output::Device { shown, .. }
            | Output::Fifo { shown } => shown.display().to_string(),
        }
    }
}

/// `-` and the names of this process's own stdout: written as stdout is, never reopened by name (a
/// reopened `/dev/stdout` would lose an `>>` append and could be renamed over).
fn is_own_stdout(path: &Path) -> bool {
    matches!(
        path.as_os_str().as_bytes(),
        b"-" | b"/dev/stdout" | b"/dev/fd/1" | b"/proc/self/fd/1"
    )
}

/// True for a path in `/dev` or `/proc` (`/dev/stderr`, `/proc/self/fd/3`): the names of devices and of
/// open descriptors, which are never replaced.
fn in_dev_or_proc(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let special = |p: &Path| p.starts_with("/dev") || p.starts_with("/proc");
    special(path) || fs::canonicalize(dir).is_ok_and(|real| special(&real))
}

/// The file at the end of `path`'s symlinks (`path` itself when it is none): what is replaced, so the
/// link stays a link. Relative targets are taken from the link's directory.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Fails when the file exists and may not be written (a read-only report is not replaced behind its
/// owner's back).
fn writable(path: &Path) -> io::Result<()> {
    let Ok(name) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return Err(io::Error::other("the name holds a NUL byte"));
    };
    // SAFETY: access(2) on a NUL-terminated path.
    if unsafe { libc::access(name.as_ptr(), libc::W_OK) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.kind() {
        io::ErrorKind::NotFound => Ok(()),
        io::ErrorKind::PermissionDenied => Err(io::Error::new(
            e.kind(),
            format!("it may not be written ({e})"),
        )),
        _ => Err(e),
    }
}

/// A new file beside `target` for the report, made now so that a place that cannot be written is found
/// before the run; `mode` is the permissions of the file it replaces.
fn replace(
    shown: PathBuf,
    target: PathBuf,
    mode: Option<u32>,
) -> std::result::Result<Output, String> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".sockspec-report-")
        // As a file written in place would be: readable by others unless the umask says otherwise.
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(&dir)
        .map_err(|e| match fs::metadata(&dir) {
            // Say what is wrong with the directory rather than with the temporary file's name.
            Err(why) => format!("{}: {why}", dir.display()),
            Ok(_) => e.to_string(),
        })?;
    if let Some(mode) = mode {
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())?;
    }
    let tracked = runs::track_temp(temp.path());
    Ok(Output::Replace {
        shown,
        target,
        temp,
        _tracked: tracked,
    })
}

/// Opens a FIFO for writing once a reader has it open (`ENXIO` until then), up to the deadline.
fn open_fifo(path: &Path, deadline: Deadline) -> io::Result<File> {
    let mut pause = Duration::from_millis(5);
    loop {
        match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Ok(file) => return Ok(file),
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                let Some(left) = deadline.remaining() else {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "nobody opened the FIFO for reading within {} s",
                            DIRECT_WAIT.as_secs()
                        ),
                    ));
                };
                std::thread::sleep(pause.min(left));
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `bytes` to a FIFO or device, never blocking past the deadline (a reader that stopped
/// reading, a terminal on hold).
fn write_by(file: &mut File, mut bytes: &[u8], deadline: Deadline) -> io::Result<()> {
    // SAFETY: fcntl on an fd this function's caller owns, with integer arguments.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    while !bytes.is_empty() {
        match file.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let Some(left) = deadline.remaining() else {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the reader took nothing for {} s", DIRECT_WAIT.as_secs()),
                    ));
                };
                let mut fd = libc::pollfd {
                    fd: file.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                // SAFETY: one valid pollfd, count 1; the result is only a wake-up, the write says more.
                unsafe { libc::poll(&mut fd, 1, ms) };
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_followed_to_the_file_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        let chain = dir.path().join("chain.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        std::os::unix::fs::symlink(&link, &chain).unwrap();
        assert_eq!(resolve_links(&chain).unwrap(), real);
        assert_eq!(resolve_links(&real).unwrap(), real);
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &looped).unwrap();
        assert!(resolve_links(&looped).is_err());
    }

    #[test]
    fn a_replaced_report_keeps_the_permissions_of_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.txt");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        Output::open(Some(&path)).unwrap().write("new\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn directories_are_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let Err(err) = Output::open(Some(dir.path())) else {
            panic!("a directory was accepted")
        };
        assert!(err.to_string().contains("it is a directory"), "{err}");
        assert_eq!(err.exit_code(), crate::exit::USAGE);
    }
}
