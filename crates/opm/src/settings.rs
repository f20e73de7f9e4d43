//! Resolves raw arguments into the settings a command runs with.
//!
//! Precedence: flags, then environment (both through clap), then the
//! settings file, then built-in defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use opm_api::drain::DrainConfig;
use opm_model::{Limit, RolloutPolicy};
use opm_native::script::SiteEnv;
use opm_plan::drain::CommandTemplate;
use opm_store::{AnyStore, OpenMode, StoreError, redact_url};
use serde::Deserialize;

use crate::cli::{BackendName, GlobalArgs};
use crate::exit::bad_input;
use crate::logging::LogFormat;

/// The settings file read when none is named.
pub const DEFAULT_SETTINGS_PATH: &str = "/etc/opm/opm.toml";
/// The database used when none is named (SPEC §4).
pub const DEFAULT_DB: &str = "sqlite:/var/lib/opm/opm.db";
/// Where a node's agent keeps unacknowledged reports when nothing says.
pub const DEFAULT_SPOOL: &str = "/var/lib/opm/agent-spool.json";
/// Seconds between periodic verifies when nothing says (SPEC §1.9).
pub const DEFAULT_VERIFY_INTERVAL: u64 = 3600;
/// The opm.conf read when none is named.
pub const DEFAULT_CONF_PATH: &str = "/etc/opm.conf";
/// Where `opm agent enroll` puts the node's token when nothing says.
pub const DEFAULT_TOKEN_FILE: &str = "/var/lib/opm/agent.token";
/// Where `opm agent enroll` puts the CA certificate when nothing says.
pub const DEFAULT_CA_CERT: &str = "/etc/opm/ca.pem";
/// The address `opm server` listens on when nothing says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7060";
/// How long `opm server` waits for a node to drain when nothing says.
pub const DEFAULT_DRAIN_TIMEOUT: &str = "1h";

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
    server_url: Option<String>,
    listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    side_by_side_scripts: Option<bool>,
    verify_interval: Option<u64>,
    rollout_max_parallel: Option<LimitSetting>,
    rollout_max_failures: Option<LimitSetting>,
    rollout_canary: Option<u32>,
    drain_command: Option<String>,
    drained_command: Option<String>,
    resume_command: Option<String>,
    drain_timeout: Option<String>,
    #[serde(default)]
    script_env: BTreeMap<String, String>,
    #[serde(default)]
    script_env_pass: Vec<String>,
}

/// A rollout limit as the settings file may give it: a number of nodes
/// (`5`) or a text (`"5"`, `"10%"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum LimitSetting {
    Count(u32),
    Text(String),
}

impl LimitSetting {
    /// The limit; `key` names it in the error.
    fn limit(&self, key: &str) -> anyhow::Result<Limit> {
        match self {
            LimitSetting::Count(count) => Ok(Limit::Count(*count)),
            LimitSetting::Text(text) => text
                .parse()
                .map_err(|error| bad_input(format!("{key} in the settings file: {error}"))),
        }
    }
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
    /// The settings file in force (it may not exist): `--settings`,
    /// `OPM_SETTINGS`, else /etc/opm/opm.toml.
    pub settings_file: PathBuf,
    /// The URL nodes reach this head node's `opm server` at, written into
    /// enrolment files.
    pub server_url: Option<String>,
    /// The address `opm server` listens on unless `--listen` says.
    pub listen: Option<std::net::SocketAddr>,
    /// The certificate chain `opm server` serves HTTPS with unless
    /// `--tls-cert` says.
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Whether the head node's and images' passes (`opm run`, `opm
    /// server`) may run script-only stages of unrelated opkgs on one target
    /// side by side; `--side-by-side` overrides it per command. Off by
    /// default: OSCAR's scripts assume one at a time per host.
    pub side_by_side_scripts: bool,
    /// Seconds between the verifies `opm server` (head node and images)
    /// and `opm agent` (its node) run against the package databases, the
    /// first at start; 0 never (SPEC §1.9). `--verify-interval` overrides.
    pub verify_interval: u64,
    /// The rollout policy of install, upgrade, remove and rerun when
    /// their flags leave a part out: the file's `rollout_*` keys.
    pub rollout: RolloutPolicy,
    /// The drain settings (`drain_command`, `drained_command`,
    /// `resume_command`, `drain_timeout`) as written, for `opm settings`.
    pub drain_commands: Option<[String; 3]>,
    /// How long `opm server` waits for a node to drain, as written.
    pub drain_timeout: String,
    /// The same, checked: what `opm server` drains nodes with; `None`
    /// when no drain command is set.
    #[serde(skip)]
    pub drain: Option<DrainConfig>,
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
    /// How the daemons' log lines are written.
    #[serde(skip)]
    pub log_format: LogFormat,
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
        let settings_file = args
            .settings
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SETTINGS_PATH));
        let listen = match env_var("OPM_LISTEN").or(file.listen) {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                bad_input(format!(
                    "listen '{text}' (OPM_LISTEN or the settings file) is not an address like 0.0.0.0:7060"
                ))
            })?),
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
        let rollout = RolloutPolicy {
            max_parallel: file
                .rollout_max_parallel
                .map(|limit| limit.limit("rollout_max_parallel"))
                .transpose()?,
            max_failures: file
                .rollout_max_failures
                .map(|limit| limit.limit("rollout_max_failures"))
                .transpose()?,
            canary: file.rollout_canary,
        };
        rollout.check().map_err(|error| {
            bad_input(format!(
                "rollout_max_parallel in the settings file: {error}"
            ))
        })?;
        let drain_timeout = file
            .drain_timeout
            .clone()
            .unwrap_or_else(|| DEFAULT_DRAIN_TIMEOUT.to_owned());
        let drain_commands = drain_commands(
            file.drain_command,
            file.drained_command,
            file.resume_command,
        )?;
        let drain = drain_config(drain_commands.as_ref(), &drain_timeout)
            .map_err(|e| bad_input(format!("settings file {}: {e}", settings_file.display())))?;
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
            settings_file,
            server_url: env_var("OPM_SERVER_URL").or(file.server_url),
            listen,
            tls_cert: env_var("OPM_TLS_CERT").map(PathBuf::from).or(file.tls_cert),
            tls_key: env_var("OPM_TLS_KEY").map(PathBuf::from).or(file.tls_key),
            side_by_side_scripts: file.side_by_side_scripts.unwrap_or(false),
            verify_interval: file.verify_interval.unwrap_or(DEFAULT_VERIFY_INTERVAL),
            rollout,
            drain_commands,
            drain_timeout,
            drain,
            script_env,
            script_env_pass,
            site_env,
            json: args.json,
            verbosity: if args.quiet { 0 } else { 1 + args.verbose },
            log_format: args.log_format,
        })
    }
}

/// The three drain commands, all or none.
fn drain_commands(
    drain: Option<String>,
    drained: Option<String>,
    resume: Option<String>,
) -> anyhow::Result<Option<[String; 3]>> {
    match (drain, drained, resume) {
        (None, None, None) => Ok(None),
        (Some(drain), Some(drained), Some(resume)) => Ok(Some([drain, drained, resume])),
        _ => Err(bad_input(
            "drain_command, drained_command and resume_command go together: \
             set all three in the settings file, or none",
        )),
    }
}

/// The drain settings, checked: each command splits into words, the
/// timeout is a duration like "1h" or "90s".
fn drain_config(
    commands: Option<&[String; 3]>,
    timeout: &str,
) -> Result<Option<DrainConfig>, String> {
    let timeout = humantime::parse_duration(timeout).map_err(|e| {
        format!("drain_timeout '{timeout}' is not a duration like \"1h\" or \"90s\": {e}")
    })?;
    let Some([drain, drained, resume]) = commands else {
        return Ok(None);
    };
    let parse = |key: &str, text: &str| {
        text.parse::<CommandTemplate>()
            .map_err(|e| format!("{key} '{text}': {e}"))
    };
    Ok(Some(DrainConfig {
        drain: parse("drain_command", drain)?,
        drained: parse("drained_command", drained)?,
        resume: parse("resume_command", resume)?,
        timeout,
    }))
}

/// The verify interval of `flag` (beats the file) over the file's
/// `file` seconds; 0 is never.
fn verify_every(flag: Option<u64>, file: u64) -> Option<std::time::Duration> {
    match flag.unwrap_or(file) {
        0 => None,
        seconds => Some(std::time::Duration::from_secs(seconds)),
    }
}

/// A non-empty environment variable.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl Settings {
    /// The periodic verify interval in force: `flag` beats the settings
    /// file; 0 is never.
    pub fn verify_every(&self, flag: Option<u64>) -> Option<std::time::Duration> {
        verify_every(flag, self.verify_interval)
    }

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

/// Sets `keys` in the settings file at `path` (created when missing),
/// keeping everything else in it, comments too; written whole, so a crash
/// leaves the old file or the new one.
pub fn write_keys(path: &Path, keys: &[(&str, String)]) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(bad_input(format!(
                "cannot read settings file {}: {error}",
                path.display()
            )));
        }
    };
    let mut document: toml_edit::DocumentMut =
        text.parse().map_err(|e: toml_edit::TomlError| {
            bad_input(format!("settings file {}: {}", path.display(), e.message()))
        })?;
    for (key, value) in keys {
        document[key] = toml_edit::value(value.as_str());
    }
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    opm_api::files::replace(path, document.to_string().as_bytes(), 0o644)
        .map_err(|error| anyhow::anyhow!("cannot write settings file {}: {error}", path.display()))
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

    use super::{
        DEFAULT_CONF_PATH, DEFAULT_DB, DEFAULT_DRAIN_TIMEOUT, DEFAULT_LISTEN, DEFAULT_SPOOL,
        DEFAULT_VERIFY_INTERVAL, LimitSetting, SettingsFile, sqlite_path,
    };
    use crate::exit::BadInput;
    use opm_model::Limit;

    /// The settings file the packages install as /etc/opm/opm.toml.
    const PACKAGED: &str = include_str!("../../../contrib/opm.toml");

    #[test]
    fn the_packaged_settings_file_sets_nothing() {
        let file: SettingsFile = toml::from_str(PACKAGED).unwrap();
        assert!(file.db.is_none() && file.conf.is_none() && file.root.is_none());
        assert!(file.repo.is_empty() && file.backend.is_none() && file.server.is_none());
        assert!(file.token_file.is_none() && file.ca_cert.is_none() && file.spool.is_none());
        assert!(file.side_by_side_scripts.is_none());
        assert!(file.script_env.is_empty() && file.script_env_pass.is_empty());
        assert!(file.drain_command.is_none() && file.drain_timeout.is_none());
    }

    #[test]
    fn drain_settings_go_together_split_into_words_and_take_durations() {
        let three = |drain: &str| {
            Some([
                drain.to_owned(),
                "sh -c 'sinfo -h -n %n -o %t | grep -qx drain'".to_owned(),
                "scontrol update nodename=%n state=resume".to_owned(),
            ])
        };
        let slurm = r#"scontrol update nodename=%n state=drain reason="opm rollout""#;
        let config = super::drain_config(three(slurm).as_ref(), "1h")
            .unwrap()
            .unwrap();
        assert_eq!(config.timeout, std::time::Duration::from_secs(3600));
        let n12 = opm_model::Name::new(opm_model::NameKind::Node, "n12").unwrap();
        assert_eq!(
            config.drain.for_node(&n12),
            [
                "scontrol",
                "update",
                "nodename=n12",
                "state=drain",
                "reason=opm rollout"
            ]
        );
        assert_eq!(
            super::drain_config(three(slurm).as_ref(), "1h 30m")
                .unwrap()
                .unwrap()
                .timeout,
            std::time::Duration::from_secs(5400)
        );
        // No commands: nothing drains, but a bad timeout is still refused.
        assert!(super::drain_config(None, "90s").unwrap().is_none());
        let error = super::drain_config(None, "an hour").unwrap_err();
        assert!(
            error.starts_with("drain_timeout 'an hour' is not a duration"),
            "{error}"
        );
        let error = super::drain_config(three("scontrol 'open").as_ref(), "1h").unwrap_err();
        assert!(
            error.starts_with("drain_command 'scontrol 'open': "),
            "{error}"
        );
        let error = super::drain_config(three("").as_ref(), "1h").unwrap_err();
        assert!(error.contains("empty"), "{error}");
        // One command alone is refused by name.
        let error = super::drain_commands(Some("x".to_owned()), None, None).unwrap_err();
        assert!(error.to_string().contains("go together"), "{error}");
        assert!(super::drain_commands(None, None, None).unwrap().is_none());
    }

    #[test]
    fn the_packaged_settings_file_shows_every_setting_with_its_default() {
        // Settings are commented out as `#key = value`, prose as `# text`.
        let uncommented: String = PACKAGED
            .lines()
            .map(|line| match line.strip_prefix('#') {
                Some(rest) if !rest.starts_with([' ', '#']) && !rest.is_empty() => rest,
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let table: toml::Table = toml::from_str(&uncommented).unwrap();
        let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "admin_token_file",
                "backend",
                "ca_cert",
                "conf",
                "db",
                "drain_command",
                "drain_timeout",
                "drained_command",
                "listen",
                "repo",
                "resume_command",
                "rollout_canary",
                "rollout_max_failures",
                "rollout_max_parallel",
                "root",
                "script_env",
                "script_env_pass",
                "server",
                "server_url",
                "side_by_side_scripts",
                "spool",
                "tls_cert",
                "tls_key",
                "token_file",
                "verify_interval"
            ]
        );
        // Every key is one opm reads (unknown ones are refused), and every
        // value shown is the default opm uses when the key is absent;
        // backend, server, token_file, ca_cert, admin_token_file,
        // server_url, tls_cert, tls_key and script_env have none
        // and show an example. A field added to SettingsFile stops this
        // from compiling until the packaged file shows it too.
        let SettingsFile {
            db,
            conf,
            root,
            repo,
            backend,
            server,
            token_file,
            ca_cert,
            admin_token_file,
            server_url,
            listen,
            tls_cert,
            tls_key,
            verify_interval,
            rollout_max_parallel,
            rollout_max_failures,
            rollout_canary,
            spool,
            side_by_side_scripts,
            script_env,
            script_env_pass,
            drain_command,
            drained_command,
            resume_command,
            drain_timeout,
        } = toml::from_str(&uncommented).unwrap();
        // No rollout by default: the packaged file shows examples.
        assert_eq!(
            rollout_max_parallel.map(|l| l.limit("x").unwrap()),
            Some(Limit::Percent(10))
        );
        assert_eq!(
            rollout_max_failures.map(|l| l.limit("x").unwrap()),
            Some(Limit::Count(0))
        );
        assert_eq!(rollout_canary, Some(1));
        assert_eq!(db.as_deref(), Some(DEFAULT_DB));
        assert_eq!(conf, Some(PathBuf::from(DEFAULT_CONF_PATH)));
        assert_eq!(root, Some(PathBuf::from("/")));
        assert!(repo.is_empty());
        assert_eq!(spool, Some(PathBuf::from(DEFAULT_SPOOL)));
        assert_eq!(side_by_side_scripts, Some(false));
        assert!(script_env_pass.is_empty());
        assert!(backend.is_some() && server.is_some() && token_file.is_some());
        assert!(ca_cert.is_some() && !script_env.is_empty());
        assert_eq!(listen.as_deref(), Some(DEFAULT_LISTEN));
        assert_eq!(verify_interval, Some(DEFAULT_VERIFY_INTERVAL));
        assert!(server_url.is_some() && tls_cert.is_some() && tls_key.is_some());
        assert!(admin_token_file.is_some());
        // The drain commands show Slurm's as the example; the timeout its
        // default.
        assert!(drain_command.is_some() && drained_command.is_some() && resume_command.is_some());
        assert_eq!(drain_timeout.as_deref(), Some(DEFAULT_DRAIN_TIMEOUT));
        // opm.toml(5) gives each one a paragraph of its own.
        let page = include_str!("../../../contrib/man/opm.toml.5");
        for key in keys {
            assert!(
                page.contains(&format!("\n.BI \"{key} = "))
                    || page.contains(&format!("\n.B [{key}]\n")),
                "opm.toml(5) has no paragraph for {key}"
            );
        }
    }

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
    fn verify_interval_is_seconds_a_flag_beats_the_file_and_0_is_never() {
        let parse = |text: &str| toml::from_str::<SettingsFile>(text).map(|f| f.verify_interval);
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("verify_interval = 600").unwrap(), Some(600));
        // Seconds, not a duration string; nothing negative.
        assert!(parse("verify_interval = \"1h\"").is_err());
        assert!(parse("verify_interval = -1").is_err());
        let every = |flag, file| super::verify_every(flag, file);
        assert_eq!(every(None, 600), Some(std::time::Duration::from_secs(600)));
        assert_eq!(every(Some(5), 600), Some(std::time::Duration::from_secs(5)));
        assert_eq!(every(Some(0), 600), None);
        assert_eq!(every(None, 0), None);
        assert_eq!(super::DEFAULT_VERIFY_INTERVAL, 3600);
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

    #[test]
    fn rollout_limits_are_counts_or_percentages_by_name() {
        let parse = |text: &str| toml::from_str::<SettingsFile>(text);
        let file = parse("rollout_max_parallel = \"10%\"\nrollout_max_failures = 2").unwrap();
        let parallel = file.rollout_max_parallel.unwrap();
        assert_eq!(parallel.limit("k").unwrap(), Limit::Percent(10));
        assert_eq!(
            file.rollout_max_failures.unwrap().limit("k").unwrap(),
            Limit::Count(2)
        );
        let bad = LimitSetting::Text("150%".to_owned());
        let error = bad.limit("rollout_max_parallel").unwrap_err();
        assert!(error.downcast_ref::<BadInput>().is_some());
        assert!(
            error.to_string().contains("rollout_max_parallel"),
            "{error}"
        );
        assert!(parse("rollout_canary = -1").is_err());
    }
}
