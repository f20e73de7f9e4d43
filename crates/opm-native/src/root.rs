//! The filesystem a backend installs into: the machine's own `/` or a
//! sandbox or image directory.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{NativeError, Result};

/// A root directory that exists, is a directory and has a UTF-8 path (the
/// tools take it as an argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    path: PathBuf,
    text: String,
    host: bool,
}

impl Root {
    /// Checks `path` and makes it absolute.
    ///
    /// # Errors
    /// [`NativeError::RootMissing`], [`NativeError::RootNotDirectory`] or
    /// [`NativeError::RootNotUtf8`].
    pub fn new(path: impl AsRef<Path>) -> Result<Self> {
        let given = path.as_ref();
        let metadata = match fs::metadata(given) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(NativeError::RootMissing(given.to_owned()));
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(NativeError::RootNotDirectory(given.to_owned()));
            }
            Err(source) => {
                return Err(NativeError::RootNotWritable {
                    root: given.to_owned(),
                    path: given.to_owned(),
                    source,
                });
            }
        };
        if !metadata.is_dir() {
            return Err(NativeError::RootNotDirectory(given.to_owned()));
        }
        let path = fs::canonicalize(given).map_err(|source| NativeError::RootNotWritable {
            root: given.to_owned(),
            path: given.to_owned(),
            source,
        })?;
        let text = path
            .to_str()
            .ok_or_else(|| NativeError::RootNotUtf8(given.to_owned()))?
            .to_owned();
        let host = path == Path::new("/");
        Ok(Self { path, text, host })
    }

    /// Checks `path` as an image root: as [`Root::new`], and it must be
    /// neither the running system's `/` nor one of its
    /// [`SYSTEM_DIRECTORIES`]. The comparison is by device and inode, so
    /// `/./`, `//`, a symbolic link to `/etc` or a bind mount of `/usr` are
    /// refused as surely as `/` itself.
    ///
    /// # Errors
    /// Those of [`Root::new`], or [`NativeError::SystemDirectory`].
    pub fn image(path: impl AsRef<Path>) -> Result<Self> {
        let given = path.as_ref();
        let root = Self::new(given)?;
        match system_directory(root.path()) {
            Some(system) => Err(NativeError::SystemDirectory {
                given: given.to_owned(),
                system,
            }),
            None => Ok(root),
        }
    }

    /// The machine's own `/`.
    #[must_use]
    pub fn host() -> Self {
        Self {
            path: PathBuf::from("/"),
            text: "/".to_owned(),
            host: true,
        }
    }

    /// The absolute path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The absolute path as text, for tool arguments.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is the machine's own `/`.
    #[must_use]
    pub fn is_host(&self) -> bool {
        self.host
    }

    /// A path inside the root, e.g. `join("var/lib/dpkg")`.
    #[must_use]
    pub fn join(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }

    /// The text form of [`Root::join`], for tool arguments.
    #[must_use]
    pub fn join_str(&self, relative: &str) -> String {
        if self.host {
            format!("/{relative}")
        } else {
            format!("{}/{relative}", self.text)
        }
    }

    /// Whether the root has its own `/bin/sh`, so package scripts can run
    /// chrooted inside it (a real image) rather than on the host with
    /// `DPKG_ROOT` set (an empty sandbox).
    #[must_use]
    pub fn has_shell(&self) -> bool {
        self.host || self.join("bin/sh").exists()
    }

    /// Creates directories inside the root.
    ///
    /// # Errors
    /// [`NativeError::RootNotWritable`] naming the first one that failed.
    pub fn create_dirs(&self, relatives: &[&str]) -> Result<()> {
        for relative in relatives {
            let path = self.join(relative);
            fs::create_dir_all(&path).map_err(|source| self.not_writable(path, source))?;
        }
        Ok(())
    }

    /// Writes a file inside the root unless it already holds exactly `content`.
    ///
    /// # Errors
    /// [`NativeError::RootNotWritable`].
    pub fn write_file(&self, relative: &str, content: &str) -> Result<()> {
        let path = self.join(relative);
        if fs::read_to_string(&path).is_ok_and(|existing| existing == content) {
            return Ok(());
        }
        fs::write(&path, content).map_err(|source| self.not_writable(path, source))
    }

    /// Creates an empty file inside the root when it is missing.
    ///
    /// # Errors
    /// [`NativeError::RootNotWritable`].
    pub fn touch(&self, relative: &str) -> Result<()> {
        let path = self.join(relative);
        if path.exists() {
            return Ok(());
        }
        fs::write(&path, "").map_err(|source| self.not_writable(path, source))
    }

    /// The error for a path of this root that could not be written.
    #[must_use]
    pub fn not_writable(&self, path: PathBuf, source: std::io::Error) -> NativeError {
        NativeError::RootNotWritable {
            root: self.path.clone(),
            path,
            source,
        }
    }
}

/// The running system's directories that no image root may be: `/` and
/// the directories the system runs from or keeps its state in.
pub const SYSTEM_DIRECTORIES: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/bin",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local",
    "/usr/sbin",
    "/usr/share",
    "/var",
    "/var/lib",
    "/var/log",
];

/// The entry of [`SYSTEM_DIRECTORIES`] that `path` is, by device and
/// inode; `None` when it is none of them (or cannot be looked at: the
/// caller's own checks name that).
#[must_use]
pub fn system_directory(path: &Path) -> Option<&'static str> {
    let identity = identity(path)?;
    SYSTEM_DIRECTORIES
        .iter()
        .copied()
        .find(|system| self::identity(Path::new(system)) == Some(identity))
}

/// The device and inode of `path`, links followed.
fn identity(path: &Path) -> Option<(u64, u64)> {
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_root_is_named() {
        let error = Root::new("/opm-no-such-root").unwrap_err();
        assert!(matches!(error, NativeError::RootMissing(_)));
        assert_eq!(
            error.to_string(),
            "root /opm-no-such-root does not exist; create it (an empty directory is a valid sandbox root)"
        );
    }

    #[test]
    fn a_file_is_not_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        assert!(matches!(
            Root::new(&file).unwrap_err(),
            NativeError::RootNotDirectory(_)
        ));
        assert!(matches!(
            Root::new(file.join("below")).unwrap_err(),
            NativeError::RootNotDirectory(_)
        ));
    }

    #[test]
    fn a_sandbox_root_is_absolute_and_not_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        assert!(!root.is_host());
        assert!(root.path().is_absolute());
        assert_eq!(
            root.join_str("var/lib/dpkg"),
            format!("{}/var/lib/dpkg", root.as_str())
        );
        assert!(!root.has_shell());
    }

    #[test]
    fn slash_is_the_host() {
        let root = Root::new("/").unwrap();
        assert!(root.is_host());
        assert_eq!(root, Root::host());
        assert_eq!(root.join_str("var/lib/rpm"), "/var/lib/rpm");
    }

    #[test]
    fn an_image_root_is_never_a_system_directory_however_spelled() {
        let dir = tempfile::tempdir().unwrap();
        let to_root = dir.path().join("to-root");
        let to_etc = dir.path().join("to-etc");
        std::os::unix::fs::symlink("/", &to_root).unwrap();
        std::os::unix::fs::symlink("/etc", &to_etc).unwrap();
        let cases: Vec<(PathBuf, &str)> = vec![
            ("/".into(), "/"),
            ("/./".into(), "/"),
            ("//".into(), "/"),
            ("/etc/..".into(), "/"),
            (to_root.clone(), "/"),
            (to_root.join("."), "/"),
            ("/etc".into(), "/etc"),
            ("/etc/".into(), "/etc"),
            (to_etc.clone(), "/etc"),
            ("/usr".into(), "/usr"),
            ("/usr/../usr/./".into(), "/usr"),
            ("/var".into(), "/var"),
            ("/proc".into(), "/proc"),
        ];
        for (given, system) in cases {
            match Root::image(&given) {
                Err(NativeError::SystemDirectory { system: found, .. }) => {
                    assert_eq!(found, system, "{}", given.display());
                }
                other => panic!("{} was not refused: {other:?}", given.display()),
            }
        }
        let message = Root::image("/./").unwrap_err().to_string();
        assert!(
            message.starts_with("image root /./ is this machine's / (the same directory"),
            "{message}"
        );
        assert!(message.contains("a directory of its own"), "{message}");
        // A directory of its own is fine, and so is a system directory's
        // subdirectory (images commonly live under /var/lib).
        assert!(Root::image(dir.path()).is_ok());
        assert!(system_directory(dir.path()).is_none());
        // Missing paths keep their own error.
        assert!(matches!(
            Root::image("/opm-no-such-root").unwrap_err(),
            NativeError::RootMissing(_)
        ));
    }
}
