//! Resolves raw arguments into the settings a command runs with.
//!
//! Precedence: flags, then environment (both through clap), then the
//! settings file, then built-in defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opm_native::script::SiteEnv;
use opm_store::{AnyStore, OpenMode, StoreError, redact_url};
use serde::Deserialize;

use crate::cli::{BackendName, GlobalArgs};
use crate::exit::bad_input;

/// The settings file read when none is named.
pub const DEFAULT_SETTINGS_PATH: &str = "/etc/opm/opm.toml";
/// The database used when none is named (SPEC §4).
pub const DEFAULT_DB: &str = "sqlite:/var/lib/opm/opm.db";
/// Where a node's agent keeps unacknowledged reports when nothing says.
pub const DEFAULT_SPOOL: &str = "/var/lib/opm/agent-spool.json";
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
    server: Option<String>,
    token_file: Option<PathBuf>,
    ca_cert: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
    spool: Option<PathBuf>,
    side_by_side_scripts: Option<bool>,
    #[serde(default)]
    script_env: BTreeMap<String, String>,
    #[serde(default)]
    script_env_pass: Vec<String>,
}

/// Fully resolved settings.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settings {
    /// Database URL, if one was given anywhere; shown with its passwords
    /// left out.
    #[serde(serialize_with = "serialize_redacted")]
    pub db: Option<String>,
    /// Path of this machine's opm.conf.
    pub conf: PathBuf,
    /// Root filesystem for this machine's own packages.
    pub root: PathBuf,
    /// Package repositories, in order.
    pub repos: Vec<String>,
    /// Chosen package-manager backend, `None` to detect.
    pub backend: Option<BackendName>,
    /// The head node's API, for agents.
    pub server: Option<String>,
    /// The file holding this node's API token.
    pub token_file: Option<PathBuf>,
    /// The CA certificates for an https server.
    pub ca_cert: Option<PathBuf>,
    /// The `opm server` the tools' commands run through, when not on the
    /// database here: `--remote`, or the settings file's `server` when it
    /// names an `admin_token_file`.
    pub remote: Option<String>,
    /// The file holding the admin token, for [`remote`](Self::remote).
    pub admin_token_file: Option<PathBuf>,
    /// The agent's spool of unacknowledged reports.
    pub spool: PathBuf,
    /// Whether the head node's and images' passes (`opm run`, `opm
    /// server`) may run script-only stages of unrelated opkgs on one target
    /// side by side; `--side-by-side` overrides it per command. Off by
    /// default: OSCAR's scripts assume one at a time per host.
    pub side_by_side_scripts: bool,
    /// Variables set for every script: the file's `[script_env]`, then
    /// `--script-env` flags (a flag beats the file by name).
    pub script_env: BTreeMap<String, String>,
    /// Variables of opm's own environment passed on to every script: the
    /// file's `script_env_pass`, then `--script-env-pass` flags.
    pub script_env_pass: Vec<String>,
    /// The two above, checked and with the passed values looked up: what
    /// scripts get besides opm's own variables.
    #[serde(skip)]
    pub site_env: SiteEnv,
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
        let mut script_env = file.script_env;
        script_env.extend(args.script_env.iter().cloned());
        let mut script_env_pass = file.script_env_pass;
        for name in &args.script_env_pass {
            if !script_env_pass.contains(name) {
                script_env_pass.push(name.clone());
            }
        }
        // Checked here, so a name opm will not give scripts stops every
        // command before anything runs (exit 2).
        let site_env =
            SiteEnv::new(&script_env, &script_env_pass, |name| std::env::var_os(name))
                .map_err(|e| bad_input(format!("{e} (settings file or --script-env flags)")))?;
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
            remote: args
                .remote
                .clone()
                .or_else(|| file.admin_token_file.as_ref().and(file.server.clone())),
            admin_token_file: args.admin_token_file.clone().or(file.admin_token_file),
            // `opm agent` has flags for these; `opm run` on a node reads
            // them from here alone. (`--server` of `opm request` is taken.)
            server: env_var("OPM_SERVER").or(file.server),
            token_file: env_var("OPM_TOKEN_FILE")
                .map(PathBuf::from)
                .or(file.token_file),
            ca_cert: env_var("OPM_CA_CERT").map(PathBuf::from).or(file.ca_cert),
            spool: env_var("OPM_SPOOL")
                .map(PathBuf::from)
                .or(file.spool)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SPOOL)),
            side_by_side_scripts: file.side_by_side_scripts.unwrap_or(false),
            script_env,
            script_env_pass,
            site_env,
            json: args.json,
            verbosity: if args.quiet { 0 } else { 1 + args.verbose },
        })
    }
}

/// A non-empty environment variable.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl Settings {
    /// The database URL in force: the one given, else [`DEFAULT_DB`].
    pub fn db_url(&self) -> &str {
        self.db.as_deref().unwrap_or(DEFAULT_DB)
    }

    /// Whether the database in force is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        is_postgres(self.db_url())
    }

    /// The database URL as shown to people: every password is replaced
    /// by `***`.
    pub fn shown_db(&self) -> String {
        redact_url(self.db_url())
    }

    /// The SQLite file the database URL names; other schemes are refused
    /// as bad input.
    pub fn sqlite_path(&self) -> anyhow::Result<PathBuf> {
        sqlite_path(self.db_url())
    }

    /// Opens the state store named by `--db`. [`OpenMode::Create`] is for
    /// `opm init`; every other command needs an initialised database.
    pub async fn open_store(&self, mode: OpenMode) -> anyhow::Result<AnyStore> {
        let url = self.db_url();
        if is_postgres(url) {
            return AnyStore::postgres(url, mode).await.map_err(store_error);
        }
        let path = self.sqlite_path()?;
        AnyStore::sqlite(&path, mode).await.map_err(store_error)
    }
}

/// A database URL for `opm settings --json`, passwords left out.
fn serialize_redacted<S: serde::Serializer>(
    db: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match db {
        Some(url) => serializer.serialize_some(&redact_url(url)),
        None => serializer.serialize_none(),
    }
}

/// Whether a database URL names a PostgreSQL database.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The file of a `sqlite:PATH` (or `sqlite://PATH`) database URL.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let shown = redact_url(url);
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty() {
            return Err(bad_input(format!(
                "database URL '{shown}' names no file; use sqlite:PATH"
            )));
        }
        return Ok(PathBuf::from(path));
    }
    if is_postgres(url) {
        return Err(bad_input(format!(
            "database URL '{shown}' names a PostgreSQL database, where a SQLite file (sqlite:PATH) was wanted"
        )));
    }
    Err(bad_input(format!(
        "database URL '{shown}' is not understood; use sqlite:PATH"
    )))
}

/// Turns a store failure into an error with the right exit code: what the
/// caller got wrong (unknown names, a file that is not an opm database, a
/// database that cannot be written) is bad input, the rest is a failure.
pub fn store_error(error: StoreError) -> anyhow::Error {
    if error.is_bad_input() {
        bad_input(error.to_string())
    } else {
        anyhow::Error::new(error)
    }
}

fn read_settings_file(path: &Path) -> anyhow::Result<SettingsFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("cannot read settings file {}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| bad_input(format!("settings file {}: {}", path.display(), e.message())))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::{SettingsFile, sqlite_path};
    use crate::exit::BadInput;

    #[test]
    fn side_by_side_scripts_is_off_unless_the_file_says_so() {
        let parse =
            |text: &str| toml::from_str::<SettingsFile>(text).map(|f| f.side_by_side_scripts);
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("side_by_side_scripts = true").unwrap(), Some(true));
        assert_eq!(parse("side_by_side_scripts = false").unwrap(), Some(false));
        // A near miss is refused by name, not silently ignored.
        let error = parse("side_by_side_script = true").unwrap_err();
        assert!(error.message().contains("side_by_side_script"), "{error}");
        assert!(parse("side_by_side_scripts = \"yes\"").is_err());
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:/var/lib/opm/opm.db").unwrap(),
            PathBuf::from("/var/lib/opm/opm.db")
        );
        assert_eq!(
            sqlite_path("sqlite://tmp/x.db").unwrap(),
            PathBuf::from("tmp/x.db")
        );
        assert_eq!(sqlite_path("sqlite:x.db").unwrap(), PathBuf::from("x.db"));
    }

    #[test]
    fn urls_in_errors_show_no_password() {
        for url in [
            "postgres://opm:s3cret@db/opm",
            "postgres://db/opm?password=s3cret",
            "mysql://opm:s3cret@db/x",
            "mysql://db/x?password=s3cret",
        ] {
            let error = sqlite_path(url).unwrap_err().to_string();
            assert!(!error.contains("s3cret"), "{error}");
            assert!(error.contains("***"), "{error}");
        }
    }

    #[test]
    fn other_urls_are_bad_input() {
        for url in ["sqlite:", "postgres://db/opm", "mysql://x", "/tmp/x.db"] {
            let error = sqlite_path(url).unwrap_err();
            assert!(error.downcast_ref::<BadInput>().is_some(), "{url}");
            assert!(error.to_string().contains("sqlite:PATH"), "{url}: {error}");
        }
    }
}
