//! Small files written whole or not at all: a token, a key, a certificate,
//! an opm.conf. Each is written to a temporary file beside its place with
//! its mode set at creation (a key is never readable by others, not even
//! for an instant), synced, then moved into place, and the directory is
//! synced: after a crash the file is the old one or the new one, never a
//! part of either.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// A temporary name beside `path`, unique to this process.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// The directory `path` is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to a new temporary file beside `path` with `mode`.
fn write_temporary(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<PathBuf> {
    let temp = temporary(path);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
    match written {
        Ok(()) => Ok(temp),
        Err(error) => {
            let _ = std::fs::remove_file(&temp);
            Err(error)
        }
    }
}

/// Syncs the directory of `path`, so a rename or link into it lasts.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(parent(path))?.sync_all()
}

/// Puts `bytes` at `path` with `mode`, replacing what is there at once.
///
/// # Errors
/// The I/O error; `path` is then as it was.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let temp = write_temporary(path, bytes, mode)?;
    if let Err(error) = std::fs::rename(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    sync_dir(path)
}

/// Puts `bytes` at `path` with `mode` unless something is there already
/// (`AlreadyExists`, nothing written): the complete file is linked into
/// place, which fails rather than replaces.
///
/// # Errors
/// The I/O error; `path` is then as it was.
pub fn create(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let temp = write_temporary(path, bytes, mode)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    linked?;
    sync_dir(path)
}

/// Moves `from` over `to` at once (both in one directory).
///
/// # Errors
/// The I/O error.
pub fn promote(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::rename(from, to)?;
    sync_dir(to)
}

#[cfg(test)]
mod tests {
    // Test code: a temp dir.
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn files_get_their_mode_and_create_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        create(&key, b"one", 0o600).unwrap();
        let error = create(&key, b"two", 0o600).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&key).unwrap(), b"one");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        replace(&key, b"three", 0o644).unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), b"three");
        // No temporary file is left behind either way.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
