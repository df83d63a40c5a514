//! From a request target to a file under the served directory, never outside it: `..` segments (also
//! percent-encoded, `%2e%2e`) are refused before the file system is asked, and a path whose real location
//! (symlinks resolved) leaves the directory is refused after.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The file served for a directory.
pub const INDEX: &str = "index.html";

/// What a request target leads to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Resolved {
    /// A regular file inside the root, by its real path.
    File(PathBuf),
    /// A directory named without its trailing slash: the client is sent to `location`, so relative links
    /// in its index resolve inside it.
    Redirect {
        location: String,
    },
    NotFound,
    /// Outside the root (`..`, a symlink that leads out), or not a regular file (a FIFO, a device).
    Forbidden,
    /// Not a path at all: no leading `/`, a bad `%` escape, a NUL byte.
    BadRequest,
}

/// Where `target` (`/img/cat.png?x=1`, or absolute-form `http://host/img/cat.png`) leads under `root`,
/// which must be canonical.
pub(super) fn resolve(root: &Path, target: &str) -> Resolved {
    let Some(path) = path_of(target) else {
        return Resolved::BadRequest;
    };
    let Some(decoded) = percent_decode(path.as_bytes()) else {
        return Resolved::BadRequest;
    };
    if decoded.contains(&0) {
        return Resolved::BadRequest;
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return Resolved::Forbidden,
            name => relative.push(OsStr::from_bytes(name)),
        }
    }
    let real = match inside(root, &root.join(&relative)) {
        Ok(real) => real,
        Err(resolved) => return resolved,
    };
    match std::fs::metadata(&real) {
        Ok(meta) if meta.is_file() => Resolved::File(real),
        Ok(meta) if meta.is_dir() => {
            if !decoded.ends_with(b"/") {
                return Resolved::Redirect {
                    location: format!("{path}/"),
                };
            }
            match inside(root, &real.join(INDEX)) {
                Ok(index) if index.is_file() => Resolved::File(index),
                Ok(_) => Resolved::Forbidden,
                Err(resolved) => resolved,
            }
        }
        Ok(_) => Resolved::Forbidden,
        Err(e) => not_found_or_forbidden(&e),
    }
}

/// The real path of `path` if it lies inside `root`.
fn inside(root: &Path, path: &Path) -> Result<PathBuf, Resolved> {
    match path.canonicalize() {
        Ok(real) if real.starts_with(root) => Ok(real),
        Ok(_) => Err(Resolved::Forbidden),
        Err(e) => Err(not_found_or_forbidden(&e)),
    }
}

fn not_found_or_forbidden(e: &io::Error) -> Resolved {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Resolved::Forbidden,
        _ => Resolved::NotFound,
    }
}

/// The path part of a request target: origin-form as is, absolute-form without scheme and authority;
/// the query and fragment dropped. `None` for anything else (`*`, a bare name).
fn path_of(target: &str) -> Option<&str> {
    let path = if target.starts_with('/') {
        target
    } else {
        let rest = target
            .strip_prefix("http://")
            .or_else(|| target.strip_prefix("https://"))?;
        &rest[rest.find('/')?..]
    };
    let end = path.find(['?', '#']).unwrap_or(path.len());
    Some(&path[..end])
}

/// `%XX` escapes to bytes; `None` for a `%` not followed by two hex digits.
fn percent_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Opens a resolved file for reading without following a symlink swapped in since it was resolved, and
/// without blocking on a FIFO; checks again that it is a regular file.
pub(super) fn open(path: &Path) -> io::Result<(File, u64)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "not a regular file",
        ));
    }
    Ok((file, meta.len()))
}

/// The Content-Type for a file, by its extension; `application/octet-stream` when unknown.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(OsStr::to_str)
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("txt" | "md" | "py" | "c" | "h" | "rs") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("xml") => "application/xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("bmp") => "image/bmp",
        Some("pdf") => "application/pdf",
        Some("zip") => "application/zip",
        Some("wasm") => "application/wasm",
        Some("mp3") => "audio/mpeg",
        Some("mp4") => "video/mp4",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("www");
        std::fs::create_dir_all(root.join("img")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("index.html"), "<h1>hi</h1>").unwrap();
        std::fs::write(root.join("img/cat 1.png"), [0x89, b'P', b'N', b'G']).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("out.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("index.html"), root.join("in.html")).unwrap();
        let root = root.canonicalize().unwrap();
        (dir, root)
    }

    #[test]
    fn files_inside_are_found_by_their_real_path() {
        let (_dir, root) = tree();
        assert_eq!(resolve(&root, "/"), Resolved::File(root.join("index.html")));
        assert_eq!(
            resolve(&root, "/img/cat%201.png?v=2#top"),
            Resolved::File(root.join("img/cat 1.png"))
        );
        assert_eq!(
            resolve(&root, "http://example/./index.html"),
            Resolved::File(root.join("index.html"))
        );
        assert_eq!(
            resolve(&root, "/in.html"),
            Resolved::File(root.join("index.html"))
        );
        assert_eq!(
            resolve(&root, "/img"),
            Resolved::Redirect {
                location: "/img/".into()
            }
        );
        assert_eq!(resolve(&root, "/missing.html"), Resolved::NotFound);
        assert_eq!(resolve(&root, "/empty/"), Resolved::NotFound);
    }

    #[test]
    fn nothing_outside_the_root_is_reached() {
        let (_dir, root) = tree();
        for target in [
            "/../secret.txt",
            "/img/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E%2fsecret.txt",
            "/..%2fsecret.txt",
            "/out.txt",
        ] {
            assert_eq!(resolve(&root, target), Resolved::Forbidden, "{target}");
        }
        for target in ["*", "index.html", "/%zz", "/a%00b", "/%"] {
            assert_eq!(resolve(&root, target), Resolved::BadRequest, "{target}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(
            content_type(Path::new("a/INDEX.HTML")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("cat.png")), "image/png");
        assert_eq!(content_type(Path::new("noext")), "application/octet-stream");
    }
}
