//! The one trait every backend implements, and what it returns.

use std::fmt;
use std::time::Duration;

use opm_model::Inventory;

use crate::command::Ran;
use crate::error::{Cause, NativeError, Result, ToolFailure};
use crate::repo::Repo;
use crate::root::Root;

/// A package as the root's package database records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct InstalledPackage {
    /// The package name.
    pub name: String,
    /// The full version (`[epoch:]version[-revision|-release]`).
    pub version: String,
    /// The architecture (`all`, `amd64`, `noarch`, `x86_64`, …).
    pub arch: String,
}

/// A package wanted at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The package name.
    pub name: String,
    /// The version, `[epoch:]version[-release]` (an opkg's version, which
    /// its native packages carry).
    pub version: String,
}

/// Installs, removes and queries packages in a root, from the configured
/// repositories.
///
/// The trait is synchronous on purpose: every call is one or a few child
/// processes that run to completion under the root's lock, and the engine
/// (tokio) runs a call in `spawn_blocking`, which keeps the backends free of
/// any runtime. Implementations are `Send + Sync` so one can be shared
/// across those blocking tasks.
///
/// Every method accepts an empty directory as root: the first call gives it
/// an empty package database (SPEC §4).
pub trait PackageManager: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Gives `root` an empty package database unless it has one; harmless
    /// on a root that is already set up.
    ///
    /// # Errors
    /// [`NativeError::RootNotWritable`] or a [`NativeError::Tool`] failure.
    fn prepare(&self, root: &Root) -> Result<()>;

    /// Installs `packages` and what they depend on (where the backend
    /// resolves dependencies) in one transaction, holding the root's lock.
    ///
    /// # Errors
    /// [`NativeError::InvalidPackageName`], [`NativeError::NotInRepo`],
    /// [`NativeError::Busy`] or a [`NativeError::Tool`] failure with the
    /// tool's complete output.
    fn install(&self, root: &Root, packages: &[String]) -> Result<()>;

    /// Installs `packages` at exactly the versions given, in one
    /// transaction: a package installed at another version is replaced in
    /// place, the package manager's upgrade (or downgrade: which version a
    /// row should have is the planner's decision, SPEC §1.9), never a
    /// removal first; one at its version already is left as it is.
    ///
    /// # Errors
    /// As for [`PackageManager::install`], and
    /// [`NativeError::InvalidVersion`]; [`NativeError::NotInRepo`] names
    /// the packages whose version no repository holds as `name=version`.
    fn install_versions(&self, root: &Root, packages: &[Versioned]) -> Result<()>;

    /// Removes those of `packages` that are installed, in one transaction;
    /// the rest are already gone, which is not an error.
    ///
    /// # Errors
    /// As for [`PackageManager::install`].
    fn remove(&self, root: &Root, packages: &[String]) -> Result<()>;

    /// The installed packages among `packages`, in the database's order; a
    /// package that is not (fully) installed is left out.
    ///
    /// # Errors
    /// [`NativeError::InvalidPackageName`] or a [`NativeError::Tool`] failure.
    fn query(&self, root: &Root, packages: &[String]) -> Result<Vec<InstalledPackage>>;

    /// What the package database of `root` says about each of `packages`
    /// (installed at which version, partly installed, missing), in one read
    /// of the database: one `dpkg-query` or `rpm --query` run for all the
    /// names. Takes no lock and changes nothing, so it answers beside a
    /// running transaction (with the state the database had when read).
    ///
    /// # Errors
    /// [`NativeError::InvalidPackageName`], [`NativeError::NoDatabase`] for
    /// a root without a package database (nothing is called missing),
    /// [`NativeError::ToolMissing`], or a [`NativeError::Tool`] failure when
    /// the database cannot be read.
    fn inventory(&self, root: &Root, packages: &[String]) -> Result<Inventory>;
}

/// What every backend is configured with.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repositories packages come from (`--repo`, in order).
    pub repos: Vec<Repo>,
    /// How long to wait for another process that holds the root's lock.
    pub lock_timeout: Duration,
    /// How long one package-manager run may take before its process group
    /// is killed (the root's database still answers afterwards, and the
    /// next run finishes the work); `None` waits as long as it runs.
    pub run_timeout: Option<Duration>,
}

impl Options {
    /// The given repositories, the default lock timeout of five minutes and
    /// no run time limit.
    #[must_use]
    pub fn new(repos: Vec<Repo>) -> Self {
        Self {
            repos,
            lock_timeout: Duration::from_secs(300),
            run_timeout: None,
        }
    }
}

/// The four backends of SPEC §4 (`--backend apt|dpkg|dnf|rpm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// apt-get with dependency resolution.
    Apt,
    /// plain dpkg from repository directories, no dependency resolution.
    Dpkg,
    /// dnf with dependency resolution.
    Dnf,
    /// plain rpm from repository directories, no dependency resolution.
    Rpm,
}

impl Backend {
    /// Every backend, in detection order within each family.
    pub const ALL: [Self; 4] = [Self::Apt, Self::Dpkg, Self::Dnf, Self::Rpm];

    /// The name used on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apt => "apt",
            Self::Dpkg => "dpkg",
            Self::Dnf => "dnf",
            Self::Rpm => "rpm",
        }
    }

    /// The program that must be installed for this backend.
    #[must_use]
    pub fn program(self) -> &'static str {
        match self {
            Self::Apt => "apt-get",
            Self::Dpkg => "dpkg",
            Self::Dnf => "dnf",
            Self::Rpm => "rpm",
        }
    }

    /// The backend's package manager.
    #[must_use]
    pub fn manager(self, options: Options) -> Box<dyn PackageManager> {
        match self {
            Self::Apt => Box::new(crate::apt::Apt::new(options)),
            Self::Dpkg => Box::new(crate::dpkg::Dpkg::new(options)),
            Self::Dnf => Box::new(crate::dnf::Dnf::new(options)),
            Self::Rpm => Box::new(crate::rpm::Rpm::new(options)),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::str::FromStr for Backend {
    type Err = NativeError;

    fn from_str(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|backend| backend.as_str() == text)
            .ok_or_else(|| NativeError::UnknownBackend(text.to_owned()))
    }
}

/// The error for a failed run: names the tool, action, packages and root,
/// keeps the complete output and what it was understood to mean.
#[must_use]
pub(crate) fn tool_failure(
    tool: &str,
    action: &'static str,
    packages: &[String],
    root: &Root,
    ran: &Ran,
    cause: Cause,
) -> NativeError {
    NativeError::Tool(Box::new(ToolFailure {
        tool: tool.to_owned(),
        action,
        packages: packages.to_vec(),
        root: root.path().to_owned(),
        status: ran.describe_status(),
        cause,
        output: ran.combined(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip_and_unknown_ones_are_refused() {
        for backend in Backend::ALL {
            assert_eq!(backend.as_str().parse::<Backend>().unwrap(), backend);
            assert_eq!(backend.manager(Options::new(vec![])).backend(), backend);
        }
        assert_eq!(
            "yum".parse::<Backend>().unwrap_err().to_string(),
            "unknown backend \"yum\": use apt, dpkg, dnf or rpm"
        );
    }
}
