//! The environment a script sees, built from nothing: the caller's environment
//! (and whatever secrets it holds) never leaks into a script.
//!
//! What a script gets, later entries winning:
//! 1. a fixed base: `PATH` (the usual sbin/bin dirs), `HOME=/root` (scripts run
//!    as root, as OSCAR's did), `LANG=C` (predictable tool output);
//! 2. the site's variables ([`SiteEnv`]: `OSCAR_HOME`, `PERL5LIB`, …), which
//!    may replace the base; never `OPM_*` or `OSCAR_PACKAGE_HOME`;
//! 3. each configuration value `name=value` (SPEC §1.8) twice:
//!    - always as `OPM_CONFIG_<NAME>`: ASCII letters upper-cased, digits kept,
//!      every other character replaced by `_` (`nfs-server` → `OPM_CONFIG_NFS_SERVER`);
//!      two names that map to the same variable are an error, never a silent loss;
//!    - also under its raw name when that is a shell identifier
//!      (`[A-Za-z_][A-Za-z0-9_]*`) and not one that changes how shells, the loader
//!      or interpreters behave (`PATH`, `IFS`, `LD_*`, `BASH_ENV`, …) or one of
//!      opm's own prefixes (`OPM_`, `OSCAR_`): legacy scripts read `$nfs_server`;
//!      the opkg's own value beats a site variable of the same name;
//! 4. the contract: `OSCAR_PACKAGE_HOME`, `OPM_STAGE`, `OPM_TARGET` (the node or
//!    image name), `OPM_TARGET_KIND` (`node`/`image`), `OPM_ROLE`, `OPM_ATTEMPT`,
//!    and during an upgrade (SPEC §1.9) `OPM_UPGRADE_FROM` and `OPM_UPGRADE_TO`.

use std::collections::BTreeMap;
use std::path::Path;

use opm_model::{Role, Stage, Target};

use super::error::ScriptError;
use super::site_env::SiteEnv;

/// `PATH` every script gets.
pub const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Prefix of the always-present configuration variables.
pub const CONFIG_PREFIX: &str = "OPM_CONFIG_";

/// Raw names never exported as-is: they change how shells, the dynamic loader,
/// locales or interpreters behave, or belong to the fixed environment.
const DENIED_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "SHELL",
    "IFS",
    "ENV",
    "BASH_ENV",
    "CDPATH",
    "PWD",
    "OLDPWD",
    "PS1",
    "PS2",
    "PS4",
    "GLOBIGNORE",
    "SHELLOPTS",
    "BASHOPTS",
    "TMPDIR",
    "TERM",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "NLSPATH",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "RES_OPTIONS",
];

/// Prefixes of raw names never exported as-is (same reasons as [`DENIED_NAMES`]).
const DENIED_PREFIXES: &[&str] = &[
    "LD_",
    "LC_",
    "OPM_",
    "OSCAR_",
    "BASH_FUNC_",
    "GCONV_",
    "MALLOC_",
    "PERL",
    "PYTHON",
    "RUBY",
    "NODE_",
];

/// Who and what a script runs for: the contract variables besides the package dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptContext {
    /// The stage being carried out.
    pub stage: Stage,
    /// The node or image the run is for.
    pub target: Target,
    /// The target's role.
    pub role: Role,
    /// Which attempt this is, counting from 1.
    pub attempt: u32,
    /// During an upgrade: the opkg versions it goes from and to.
    pub upgrade: Option<(String, String)>,
}

/// The `OPM_CONFIG_*` variable a configuration name maps to.
pub fn config_variable(name: &str) -> Result<String, ScriptError> {
    if name.is_empty() {
        return Err(ScriptError::ConfigName {
            name: name.to_owned(),
            reason: "is empty",
        });
    }
    if name.contains(['=', '\0']) {
        return Err(ScriptError::ConfigName {
            name: name.to_owned(),
            reason: "contains '=' or a NUL byte",
        });
    }
    let mangled: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    Ok(format!("{CONFIG_PREFIX}{mangled}"))
}

/// Whether a configuration name is also exported under its raw name.
pub fn exports_raw_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    starts_well
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !DENIED_NAMES.contains(&name)
        && !DENIED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// The whole environment of one script run (see the module docs for the rules).
pub fn script_environment(
    package_dir: &Path,
    context: &ScriptContext,
    site: &SiteEnv,
    config: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ScriptError> {
    let package_home = package_dir
        .to_str()
        .ok_or_else(|| ScriptError::NonUtf8Path {
            path: package_dir.to_path_buf(),
        })?;
    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), SCRIPT_PATH.to_owned());
    env.insert("HOME".to_owned(), "/root".to_owned());
    env.insert("LANG".to_owned(), "C".to_owned());
    env.extend(site.vars().clone());

    // Which name claimed each OPM_CONFIG_* variable, to report collisions by name.
    let mut claimed: BTreeMap<String, &str> = BTreeMap::new();
    for (name, value) in config {
        let variable = config_variable(name)?;
        if value.contains('\0') {
            return Err(ScriptError::ConfigValue { name: name.clone() });
        }
        if let Some(first) = claimed.insert(variable.clone(), name) {
            return Err(ScriptError::ConfigCollision {
                first: first.to_owned(),
                second: name.clone(),
                variable,
            });
        }
        if exports_raw_name(name) {
            env.insert(name.clone(), value.clone());
        }
        env.insert(variable, value.clone());
    }

    env.insert("OSCAR_PACKAGE_HOME".to_owned(), package_home.to_owned());
    env.insert("OPM_STAGE".to_owned(), context.stage.name().to_owned());
    env.insert(
        "OPM_TARGET".to_owned(),
        context.target.name.as_str().to_owned(),
    );
    env.insert(
        "OPM_TARGET_KIND".to_owned(),
        context.target.kind.name().to_owned(),
    );
    env.insert("OPM_ROLE".to_owned(), context.role.name().to_owned());
    env.insert("OPM_ATTEMPT".to_owned(), context.attempt.to_string());
    if let Some((from, to)) = &context.upgrade {
        env.insert("OPM_UPGRADE_FROM".to_owned(), from.clone());
        env.insert("OPM_UPGRADE_TO".to_owned(), to.clone());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::{Name, NameKind};

    fn context() -> ScriptContext {
        ScriptContext {
            stage: Stage::ShouldBeInstalled,
            target: Target::node(Name::new(NameKind::Node, "n3").unwrap()),
            role: Role::Server,
            attempt: 2,
            upgrade: None,
        }
    }

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn config_names_become_upper_case_variables() {
        assert_eq!(
            config_variable("nfs-server").unwrap(),
            "OPM_CONFIG_NFS_SERVER"
        );
        assert_eq!(config_variable("a.b c").unwrap(), "OPM_CONFIG_A_B_C");
        assert_eq!(config_variable("9lives").unwrap(), "OPM_CONFIG_9LIVES");
        assert_eq!(config_variable("größe").unwrap(), "OPM_CONFIG_GR__E");
    }

    #[test]
    fn unusable_config_names_are_errors() {
        for bad in ["", "a=b", "a\0b"] {
            let error = config_variable(bad).unwrap_err();
            assert!(
                matches!(error, ScriptError::ConfigName { .. }),
                "{bad:?}: {error}"
            );
            assert!(error.to_string().starts_with("configuration name '"));
        }
    }

    #[test]
    fn raw_names_are_exported_only_when_harmless() {
        for good in ["nfs_server", "_x", "Path", "Mode2"] {
            assert!(exports_raw_name(good), "{good}");
        }
        for bad in [
            "PATH",
            "IFS",
            "LD_PRELOAD",
            "BASH_ENV",
            "OPM_STAGE",
            "OSCAR_PACKAGE_HOME",
            "LC_ALL",
            "PYTHONPATH",
            "nfs-server",
            "9lives",
            "",
        ] {
            assert!(!exports_raw_name(bad), "{bad}");
        }
    }

    #[test]
    fn environment_holds_base_config_and_contract() {
        let env = script_environment(
            Path::new("/usr/lib/oscar/packages/slurm"),
            &context(),
            &SiteEnv::default(),
            &config(&[("nfs_server", "10.0.0.1"), ("mode-x", "fast")]),
        )
        .unwrap();
        assert_eq!(env["PATH"], SCRIPT_PATH);
        assert_eq!(env["HOME"], "/root");
        assert_eq!(env["OSCAR_PACKAGE_HOME"], "/usr/lib/oscar/packages/slurm");
        assert_eq!(env["OPM_STAGE"], "should_be_installed");
        assert_eq!(env["OPM_TARGET"], "n3");
        assert_eq!(env["OPM_TARGET_KIND"], "node");
        assert_eq!(env["OPM_ROLE"], "server");
        assert_eq!(env["OPM_ATTEMPT"], "2");
        assert_eq!(env["OPM_CONFIG_NFS_SERVER"], "10.0.0.1");
        assert_eq!(env["nfs_server"], "10.0.0.1");
        assert_eq!(env["OPM_CONFIG_MODE_X"], "fast");
        assert!(!env.contains_key("mode-x"));
        assert!(!env.contains_key("OPM_UPGRADE_FROM"));
        assert_eq!(env.len(), 12);
    }

    #[test]
    fn an_upgrade_says_from_and_to() {
        let mut upgrading = context();
        upgrading.upgrade = Some(("1:3.1-2".to_owned(), "1:3.2-1".to_owned()));
        let env = script_environment(
            Path::new("/usr/lib/oscar/packages/motd"),
            &upgrading,
            &SiteEnv::default(),
            &config(&[]),
        )
        .unwrap();
        assert_eq!(env["OPM_UPGRADE_FROM"], "1:3.1-2");
        assert_eq!(env["OPM_UPGRADE_TO"], "1:3.2-1");
    }

    #[test]
    fn dangerous_raw_names_do_not_override_the_base() {
        let env = script_environment(
            Path::new("/p"),
            &context(),
            &SiteEnv::default(),
            &config(&[("PATH", "/evil"), ("LD_PRELOAD", "/evil.so")]),
        )
        .unwrap();
        assert_eq!(env["PATH"], SCRIPT_PATH);
        assert!(!env.contains_key("LD_PRELOAD"));
        assert_eq!(env["OPM_CONFIG_PATH"], "/evil");
        assert_eq!(env["OPM_CONFIG_LD_PRELOAD"], "/evil.so");
    }

    #[test]
    fn site_variables_join_below_the_opkgs_values_and_the_contract() {
        let site = SiteEnv::new(
            &config(&[
                ("OSCAR_HOME", "/opt/oscar"),
                ("PATH", "/opt/oscar/bin:/usr/bin:/bin"),
                ("nfs_server", "site"),
            ]),
            &[],
            |_| None,
        )
        .unwrap();
        let env = script_environment(
            Path::new("/p"),
            &context(),
            &site,
            &config(&[("nfs_server", "opkg")]),
        )
        .unwrap();
        assert_eq!(env["OSCAR_HOME"], "/opt/oscar");
        assert_eq!(env["PATH"], "/opt/oscar/bin:/usr/bin:/bin");
        assert_eq!(env["nfs_server"], "opkg");
        assert_eq!(env["OSCAR_PACKAGE_HOME"], "/p");
        assert_eq!(env["HOME"], "/root");
    }

    #[test]
    fn colliding_names_are_an_error_naming_both() {
        let error = script_environment(
            Path::new("/p"),
            &context(),
            &SiteEnv::default(),
            &config(&[("a-b", "1"), ("a_b", "2")]),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "configuration names 'a-b' and 'a_b' both map to OPM_CONFIG_A_B; rename one of them"
        );
    }

    #[test]
    fn nul_in_a_value_is_an_error() {
        let error = script_environment(
            Path::new("/p"),
            &context(),
            &SiteEnv::default(),
            &config(&[("x", "a\0b")]),
        )
        .unwrap_err();
        assert!(matches!(error, ScriptError::ConfigValue { .. }), "{error}");
    }

    #[test]
    fn non_utf8_package_dir_is_an_error() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let dir = Path::new(OsStr::from_bytes(b"/p/\xff"));
        let error =
            script_environment(dir, &context(), &SiteEnv::default(), &BTreeMap::new()).unwrap_err();
        assert!(matches!(error, ScriptError::NonUtf8Path { .. }), "{error}");
    }
}
