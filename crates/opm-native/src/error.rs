//! The one error type of the package-manager backends.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while a backend prepares a root, takes its
/// lock, or runs a package manager in it.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// The root directory does not exist.
    #[error("root {0} does not exist; create it (an empty directory is a valid sandbox root)")]
    RootMissing(PathBuf),
    /// The root path names something that is not a directory.
    #[error("root {0} is not a directory")]
    RootNotDirectory(PathBuf),
    /// The root path is not valid UTF-8, so it cannot be passed to the tools
    /// as written.
    #[error("root {0} is not valid UTF-8; use a plain path")]
    RootNotUtf8(PathBuf),
    /// An image root that is the running system's `/` or one of its
    /// system directories: client packages would go into this machine
    /// (SPEC §9, trap 7).
    #[error(
        "image root {given} is this machine's {system} (the same directory by device and inode): an image's packages would be installed into the running system; give the image a directory of its own, e.g. /var/lib/oscar/images/NAME"
    )]
    SystemDirectory {
        /// The path as given.
        given: PathBuf,
        /// The system directory it is.
        system: &'static str,
    },
    /// A directory or file inside the root could not be created or written.
    #[error("root {root} is not writable: cannot create {path}: {source}")]
    RootNotWritable {
        /// The root.
        root: PathBuf,
        /// The path that could not be created.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A package name that no package manager would accept (and that could
    /// be taken for an option).
    #[error("invalid package name {0:?}: use lower-case letters, digits and + - . _")]
    InvalidPackageName(String),
    /// A package version no package manager would accept (and that could
    /// be taken for an option).
    #[error("invalid package version {0:?}: use letters, digits and + - . _ ~ :")]
    InvalidVersion(String),
    /// A `--repo` value that is neither a directory, a URL nor an apt source line.
    #[error(
        "invalid repository {0:?}: give a directory, a URL, '[signed-by=KEYFILE] DIR|URL' or a 'deb …' line"
    )]
    InvalidRepo(String),
    /// A repository the chosen backend cannot read (plain dpkg and rpm only
    /// read local directories).
    #[error(
        "the {backend} backend cannot use repository {repo}; give a local directory or use {instead}"
    )]
    RepoUnsupported {
        /// The backend.
        backend: &'static str,
        /// The repository as given.
        repo: String,
        /// The backend that can use it.
        instead: &'static str,
    },
    /// A local repository directory could not be read.
    #[error("cannot read repository {path}: {source}")]
    RepoUnreadable {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The packages are in none of the configured repositories (found
    /// before any tool ran, so nothing changed).
    #[error("{} not found in {repos} for root {root}; check --repo", packages.join(", "))]
    NotInRepo {
        /// The missing packages.
        packages: Vec<String>,
        /// The root the install was for.
        root: PathBuf,
        /// The repositories searched, comma-separated.
        repos: String,
    },
    /// No backend was named and none could be detected.
    #[error(
        "no package manager found (looked for apt-get, dpkg, dnf, rpm); install one or pass --backend"
    )]
    NoBackend,
    /// A backend name that is not one of apt, dpkg, dnf, rpm.
    #[error("unknown backend {0:?}: use apt, dpkg, dnf or rpm")]
    UnknownBackend(String),
    /// The program of a backend is not installed on this machine.
    #[error("{tool} is not installed: {source}")]
    ToolMissing {
        /// The program.
        tool: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Waiting for a started tool failed.
    #[error("cannot wait for {tool}: {source}")]
    Wait {
        /// The program.
        tool: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Another process holds the root's lock and did not let go in time.
    #[error(
        "root {root} is busy: {holder} holds {lock} (waited {waited:?}); try again when it is done"
    )]
    Busy {
        /// The root.
        root: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// Who holds it, as written in the lock file.
        holder: String,
        /// How long this process waited.
        waited: Duration,
    },
    /// The root's lock file could not be opened or locked.
    #[error("cannot lock root {root} through {lock}: {source}")]
    Lock {
        /// The root.
        root: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Signing a repository index with gpg failed.
    #[error("signing with gpg key '{key}' failed at {step}: {detail}")]
    Sign {
        /// The key as given.
        key: String,
        /// What was being done.
        step: String,
        /// gpg's messages, or what is wrong.
        detail: String,
    },
    /// A root without a package database was asked what it has installed:
    /// nothing was ever installed there, or the filesystem that holds it is
    /// not mounted. Either way its packages cannot be judged, so nothing is
    /// called missing.
    #[error(
        "root {root} has no {backend} package database ({database} is missing); check that the root is the right directory and is mounted"
    )]
    NoDatabase {
        /// The root.
        root: PathBuf,
        /// The backend asked.
        backend: &'static str,
        /// The database file looked for.
        database: PathBuf,
    },
    /// A package-manager run failed; carries the tool's complete output.
    #[error("{0}")]
    Tool(Box<ToolFailure>),
}

/// A failed package-manager run: what ran, on which packages and root, what
/// it was understood to mean, and the tool's complete output.
#[derive(Debug)]
pub struct ToolFailure {
    /// The program, e.g. `dpkg`.
    pub tool: String,
    /// The action, e.g. `install`.
    pub action: &'static str,
    /// The packages of the transaction.
    pub packages: Vec<String>,
    /// The root.
    pub root: PathBuf,
    /// How the run ended (`exit status 1`, `killed by signal 9`).
    pub status: String,
    /// What the output says went wrong.
    pub cause: Cause,
    /// Everything the tool printed, stdout then stderr.
    pub output: String,
}

/// What a failed run's output says went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The repositories do not have these packages.
    NotFound(Vec<String>),
    /// A package needs something that is not installed (name, dependency).
    MissingDependency(Vec<(String, String)>),
    /// The dependencies cannot be satisfied from the repositories.
    Unsatisfiable,
    /// These package files are damaged or not packages at all.
    BadPackage(Vec<String>),
    /// Another process holds the package database's own lock (for
    /// instance a dpkg left running by an opm that was killed).
    Locked(String),
    /// A signed repository's index did not verify with its key (another
    /// key signed it, it changed after signing, or it is not signed).
    Unverified,
    /// Nothing recognised; read the output.
    Other,
}

impl fmt::Display for Cause {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(names) => {
                write!(formatter, "not in the repositories: {}", names.join(", "))
            }
            Self::MissingDependency(pairs) => {
                let text: Vec<String> = pairs
                    .iter()
                    .map(|(package, dependency)| format!("{package} needs {dependency}"))
                    .collect();
                write!(
                    formatter,
                    "missing dependency: {}; install it in the same transaction",
                    text.join("; ")
                )
            }
            Self::Unsatisfiable => formatter.write_str("unsatisfiable dependencies"),
            Self::BadPackage(files) => {
                write!(formatter, "damaged package file: {}", files.join(", "))
            }
            Self::Locked(holder) => write!(
                formatter,
                "the package database is locked by {holder}; try again when it is done"
            ),
            Self::Unverified => formatter.write_str(
                "a repository's signature does not verify with its key; re-sign it with opm repo index --sign, or check the key in signed-by=",
            ),
            Self::Other => formatter.write_str("see the output"),
        }
    }
}

impl fmt::Display for ToolFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} failed to {} {} in root {} ({}): {}\n--- {} output ---\n{}",
            self.tool,
            self.action,
            self.packages.join(", "),
            self.root.display(),
            self.status,
            self.cause,
            self.tool,
            self.output.trim_end()
        )
    }
}

impl NativeError {
    /// The tool failure inside, if this is one.
    #[must_use]
    pub fn tool_failure(&self) -> Option<&ToolFailure> {
        match self {
            Self::Tool(failure) => Some(failure),
            _ => None,
        }
    }
}

/// Results of this crate.
pub type Result<T, E = NativeError> = std::result::Result<T, E>;
