//! Entry points: config.xml text, bytes or path to a checked [`Opkg`].

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::decode::{decode, line_column_bytes};
use crate::error::{Diagnostic, OpkgError, Severity};
use crate::model::Opkg;
use crate::schema::{Checker, Level, build};
use crate::xml::parse;

/// The largest config.xml read. Real ones are a few kilobytes; the limit
/// keeps a wrong path (a disk image, /dev/zero) from eating the memory.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A parsed opkg and the warnings its config.xml earned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The opkg.
    pub opkg: Opkg,
    /// Schema slips opm could live with, in file order.
    pub warnings: Vec<Diagnostic>,
}

/// The config.xml of `path`: `path` itself when it is a file, else
/// `path/config.xml`.
pub fn config_path(path: &Path) -> Result<PathBuf, OpkgError> {
    let metadata = std::fs::metadata(path).map_err(|source| OpkgError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !metadata.is_dir() {
        return Ok(path.to_owned());
    }
    let config = path.join("config.xml");
    if config.is_file() {
        Ok(config)
    } else {
        Err(OpkgError::NoConfig {
            dir: path.to_owned(),
        })
    }
}

impl Opkg {
    /// Reads the opkg source at `path` (a directory holding config.xml, or
    /// the config.xml itself) at the default level.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Loaded, OpkgError> {
        Opkg::from_path_with(path, Level::Default)
    }

    /// Reads the opkg source at `path` at `level`.
    pub fn from_path_with(path: impl AsRef<Path>, level: Level) -> Result<Loaded, OpkgError> {
        let config = config_path(path.as_ref())?;
        let io = |source| OpkgError::Io {
            path: config.clone(),
            source,
        };
        let file = std::fs::File::open(&config).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(OpkgError::TooLarge { path: config });
        }
        Opkg::from_bytes(&bytes, &config.display().to_string(), level)
    }

    /// Parses config.xml `bytes`, decoded as their XML declaration says;
    /// `file` names them in diagnostics.
    pub fn from_bytes(bytes: &[u8], file: &str, level: Level) -> Result<Loaded, OpkgError> {
        let (text, notes) = decode(bytes);
        let encoding_notes: Vec<Diagnostic> = notes
            .into_iter()
            .map(|note| {
                let (line, column) = line_column_bytes(bytes, note.offset);
                Diagnostic {
                    file: file.to_owned(),
                    line,
                    column,
                    severity: note.severity,
                    message: note.message,
                }
            })
            .collect();
        let Some(text) = text else {
            return Err(OpkgError::Invalid {
                diagnostics: encoding_notes,
            });
        };
        match Opkg::from_str(&text, file, level) {
            Ok(mut loaded) => {
                loaded.warnings.splice(0..0, encoding_notes);
                Ok(loaded)
            }
            Err(OpkgError::Invalid { mut diagnostics }) => {
                diagnostics.splice(0..0, encoding_notes);
                Err(OpkgError::Invalid { diagnostics })
            }
            Err(other) => Err(other),
        }
    }

    /// Parses config.xml `text` that is already decoded (its declared
    /// encoding is not looked at); `file` names it in diagnostics.
    pub fn from_str(text: &str, file: &str, level: Level) -> Result<Loaded, OpkgError> {
        let mut check = Checker::new(text, file, level);
        let opkg = match parse(text) {
            Ok(root) => build(&root, &mut check),
            Err(error) => {
                check.report(
                    error.offset,
                    Severity::Error,
                    format!("malformed XML: {}", error.message),
                );
                None
            }
        };
        let diagnostics = check.finish();
        match opkg {
            Some(opkg) if diagnostics.iter().all(|d| d.severity == Severity::Warning) => {
                Ok(Loaded {
                    opkg,
                    warnings: diagnostics,
                })
            }
            _ => Err(OpkgError::Invalid { diagnostics }),
        }
    }
}
