//! What can go wrong while reading an opkg source, and the diagnostics that
//! point at the exact spot in the file.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A slip opm can live with; reported, then ignored.
    Warning,
    /// The file cannot be used as it is.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding, anchored at a file, line and column (both 1-based; the
/// column counts characters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, as given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Warning or error.
    pub severity: Severity,
    /// What is wrong, and what to do when that is not obvious.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, self.severity, self.message
        )
    }
}

/// Why an opkg source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OpkgError {
    /// The file or directory could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A directory was given but it holds no config.xml.
    #[error("{} has no config.xml; an opkg source directory needs one", .dir.display())]
    NoConfig {
        /// The directory.
        dir: PathBuf,
    },
    /// The file is larger than [`crate::MAX_CONFIG_BYTES`].
    #[error("{} is larger than 16 MiB; a config.xml is a few kilobytes: check the path", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file was read but has errors; `diagnostics` holds every finding,
    /// errors and warnings, in file order.
    #[error("{}", summary(.diagnostics))]
    Invalid {
        /// Every finding, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

fn summary(diagnostics: &[Diagnostic]) -> String {
    let mut errors = diagnostics.iter().filter(|d| d.severity == Severity::Error);
    match errors.next() {
        Some(first) => {
            let more = errors.count();
            if more == 0 {
                first.to_string()
            } else {
                format!("{first} (and {more} more errors)")
            }
        }
        None => "invalid opkg source".to_owned(),
    }
}

impl OpkgError {
    /// Every finding behind the error: the diagnostics of an invalid file,
    /// or none for I/O trouble.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            OpkgError::Invalid { diagnostics } => diagnostics,
            OpkgError::Io { .. } | OpkgError::NoConfig { .. } | OpkgError::TooLarge { .. } => &[],
        }
    }
}

/// Why a configurator.html could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", .path.display())]
pub struct ConfiguratorError {
    /// The file.
    pub path: PathBuf,
    /// The operating system's reason.
    pub source: std::io::Error,
}

/// Why a scripts inventory could not be taken.
#[derive(Debug, thiserror::Error)]
#[error("cannot list {}: {source}", .path.display())]
pub struct InventoryError {
    /// The directory or entry that failed.
    pub path: PathBuf,
    /// The operating system's reason.
    pub source: std::io::Error,
}
