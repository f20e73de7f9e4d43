//! Why a package could not be written or read back.

use std::io;
use std::path::PathBuf;

/// An error from building a native package or a repository index.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The package name is not one dpkg and rpm both accept.
    #[error("package name '{name}' is not usable: {reason}")]
    Name {
        /// The name as given.
        name: String,
        /// The broken rule.
        reason: &'static str,
    },
    /// A metadata field is not usable.
    #[error("package {package}: {field} '{value}' is not usable: {reason}")]
    Field {
        /// The package.
        package: String,
        /// The field (`summary`, `arch`, ...).
        field: &'static str,
        /// The value as given.
        value: String,
        /// The broken rule.
        reason: &'static str,
    },
    /// A dependency, conflict or provide cannot be written.
    #[error("package {package}: relation '{relation}' cannot be written: {reason}")]
    Relation {
        /// The package.
        package: String,
        /// The relation, as opkg sources spell it.
        relation: String,
        /// The broken rule.
        reason: &'static str,
    },
    /// A file entry is not usable.
    #[error("package {package}: file entry '{path}' is not usable: {reason}")]
    Entry {
        /// The package.
        package: String,
        /// The path as given.
        path: String,
        /// The broken rule.
        reason: &'static str,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A symbolic link of the source resolves outside the source directory:
    /// packing what it points at would ship the build host's files.
    #[error(
        "{}: a symbolic link to {}, outside the opkg source; opm packs nothing from outside the source: copy the file in or remove the link",
        link.display(),
        target.display()
    )]
    LinkOutside {
        /// The link.
        link: PathBuf,
        /// Where it resolves (or points, when it resolves nowhere).
        target: PathBuf,
    },
    /// A source entry opm cannot pack as it is.
    #[error("{}: {reason}", path.display())]
    Source {
        /// The entry.
        path: PathBuf,
        /// What is wrong, with what to do.
        reason: &'static str,
    },
    /// The rpm library refused the package.
    #[error("package {package}: the rpm writer failed: {source}")]
    Rpm {
        /// The package.
        package: String,
        /// The cause.
        source: ::rpm::Error,
    },
    /// The opkg's package-wide `<filters>` exclude the target.
    #[error(
        "opkg {opkg} is not built for dist {dist}, arch {arch}: its <filters> exclude that; pass a --dist/--arch its filters list"
    )]
    Unavailable {
        /// The opkg.
        opkg: String,
        /// The target dist, or `(none)`.
        dist: String,
        /// The target arch, or `(none)`.
        arch: String,
    },
    /// Arch filters make the package architecture-specific, but no
    /// architecture was given.
    #[error(
        "package {package} depends on the architecture (its opkg has <arch> filters); pass --arch"
    )]
    NeedsArch {
        /// The native package.
        package: String,
    },
    /// A file in a repository directory is not a package opm can index.
    #[error("{}: not a usable package: {reason}; remove it or rebuild it with opm pack", path.display())]
    Unreadable {
        /// The package file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl PackError {
    /// An [`PackError::Io`] for `path`.
    pub(super) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> PackError {
        let path = path.into();
        move |source| PackError::Io { path, source }
    }
}
