//! Resolves raw arguments into the settings a command runs with.
//!
//! Precedence: flags, then environment (both through clap), then the
//! settings file, then built-in defaults.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::{BackendName, GlobalArgs};
use crate::exit::bad_input;

/// The settings file read when none is named.
pub const DEFAULT_SETTINGS_PATH: &str = "/etc/opm/opm.toml";
/// The opm.conf read when none is named.
pub const DEFAULT_CONF_PATH: &str = "/etc/opm.conf";

/// What the settings file may hold; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    db: Option<String>,
    conf: Option<PathBuf>,
    root: Option<PathBuf>,
    #[serde(default)]
    repo: Vec<String>,
    backend: Option<BackendName>,
}

/// Fully resolved settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    /// Database URL, if one was given anywhere.
    pub db: Option<String>,
    /// Path of this machine's opm.conf.
    pub conf: PathBuf,
    /// Root filesystem for this machine's own packages.
    pub root: PathBuf,
    /// Package repositories, in order.
    pub repos: Vec<String>,
    /// Chosen package-manager backend, `None` to detect.
    pub backend: Option<BackendName>,
    /// Machine-readable output.
    pub json: bool,
    /// Log verbosity: 0 quiet, 1 normal, 2+ verbose.
    pub verbosity: u8,
}

impl Settings {
    /// Layers flags and environment over the settings file over defaults.
    pub fn resolve(args: &GlobalArgs) -> anyhow::Result<Settings> {
        let file = match &args.settings {
            Some(path) => read_settings_file(path)?,
            None if Path::new(DEFAULT_SETTINGS_PATH).exists() => {
                read_settings_file(Path::new(DEFAULT_SETTINGS_PATH))?
            }
            None => SettingsFile::default(),
        };
        Ok(Settings {
            db: args.db.clone().or(file.db),
            conf: args
                .conf
                .clone()
                .or(file.conf)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CONF_PATH)),
            root: args
                .root
                .clone()
                .or(file.root)
                .unwrap_or_else(|| PathBuf::from("/")),
            repos: if args.repo.is_empty() {
                file.repo
            } else {
                args.repo.clone()
            },
            backend: args.backend.or(file.backend),
            json: args.json,
            verbosity: if args.quiet { 0 } else { 1 + args.verbose },
        })
    }
}

fn read_settings_file(path: &Path) -> anyhow::Result<SettingsFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("cannot read settings file {}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| bad_input(format!("settings file {}: {}", path.display(), e.message())))
}
