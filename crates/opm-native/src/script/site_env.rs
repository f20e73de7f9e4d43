//! The variables a site gives every script: set ones (`[script_env]` in the
//! settings file, `--script-env NAME=VALUE`) and ones passed through from
//! opm's own environment (`script_env_pass`, `--script-env-pass NAME`).
//! Real OSCAR scripts need `OSCAR_HOME` (`use lib "$ENV{OSCAR_HOME}/lib"`),
//! `OSCAR_VERBOSE`, `OSCAR_UI`, `PERL5LIB`; everything else stays cleared.
//!
//! Checked once, when the settings are read, so a bad name stops the
//! command before anything runs:
//! - a name is a shell identifier (`[A-Za-z_][A-Za-z0-9_]*`);
//! - opm's contract is not the site's to change: `OPM_*` (`OPM_STAGE`,
//!   `OPM_CONFIG_*`, …) and `OSCAR_PACKAGE_HOME` are refused;
//! - a name is either set or passed through, not both (which would win
//!   would be a guess);
//! - values carry no NUL byte, and passed values are UTF-8.
//!
//! The fixed base (`PATH`, `HOME`, `LANG`) may be replaced: it is a default,
//! and a site with its tools in `/opt/...` needs another `PATH`. A
//! passed-through name that is not in opm's environment is left out, as
//! sudo's `env_keep` does.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Prefix of every variable opm itself sets for a script.
const RESERVED_PREFIX: &str = "OPM_";

/// Names outside [`RESERVED_PREFIX`] that opm sets for every script.
const RESERVED_NAMES: &[&str] = &["OSCAR_PACKAGE_HOME"];

/// A name or value of the site's script environment that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("script environment variable '{name}' {reason}")]
pub struct SiteEnvError {
    /// The variable's name as given.
    pub name: String,
    /// What is wrong, with a hint.
    pub reason: &'static str,
}

/// The site's variables for every script, checked (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteEnv {
    vars: BTreeMap<String, String>,
}

impl SiteEnv {
    /// The variables `set` plus those of `pass` that `lookup` (opm's own
    /// environment, as `std::env::var_os`) has.
    ///
    /// # Errors
    /// The first name or value that cannot be used.
    pub fn new(
        set: &BTreeMap<String, String>,
        pass: &[String],
        lookup: impl Fn(&str) -> Option<OsString>,
    ) -> Result<SiteEnv, SiteEnvError> {
        let refuse = |name: &str, reason| SiteEnvError {
            name: name.to_owned(),
            reason,
        };
        let mut vars = BTreeMap::new();
        for (name, value) in set {
            check_name(name)?;
            if value.contains('\0') {
                return Err(refuse(name, "has a NUL byte in its value"));
            }
            vars.insert(name.clone(), value.clone());
        }
        for name in pass {
            check_name(name)?;
            if set.contains_key(name) {
                return Err(refuse(
                    name,
                    "is both set and passed through; keep one of the two",
                ));
            }
            let Some(value) = lookup(name) else {
                continue;
            };
            let value = value.into_string().map_err(|_| {
                refuse(
                    name,
                    "to pass through is not valid UTF-8 in opm's environment",
                )
            })?;
            vars.insert(name.clone(), value);
        }
        Ok(SiteEnv { vars })
    }

    /// The variables, by name.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }
}

/// Whether `name` may be one of the site's variables.
fn check_name(name: &str) -> Result<(), SiteEnvError> {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let reason = if !identifier {
        "is not a variable name; use letters, digits and _, not starting with a digit"
    } else if name.starts_with(RESERVED_PREFIX) || RESERVED_NAMES.contains(&name) {
        "is set by opm for every script (OPM_*, OSCAR_PACKAGE_HOME) and cannot be changed; pick another name"
    } else {
        return Ok(());
    };
    Err(SiteEnvError {
        name: name.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    fn nothing(_: &str) -> Option<OsString> {
        None
    }

    #[test]
    fn set_and_passed_variables_are_kept_missing_ones_left_out() {
        let env = SiteEnv::new(
            &set(&[("OSCAR_HOME", "/opt/oscar"), ("PATH", "/opt/bin:/bin")]),
            &names(&["PERL5LIB", "OSCAR_UI"]),
            |name| (name == "PERL5LIB").then(|| OsString::from("/opt/oscar/lib")),
        )
        .unwrap();
        assert_eq!(
            env.vars(),
            &set(&[
                ("OSCAR_HOME", "/opt/oscar"),
                ("PATH", "/opt/bin:/bin"),
                ("PERL5LIB", "/opt/oscar/lib"),
            ])
        );
    }

    #[test]
    fn opms_own_variables_are_refused_set_or_passed() {
        for name in ["OPM_STAGE", "OPM_CONFIG_X", "OPM_", "OSCAR_PACKAGE_HOME"] {
            let error = SiteEnv::new(&set(&[(name, "x")]), &[], nothing).unwrap_err();
            assert_eq!(error.name, name);
            assert!(error.to_string().contains("set by opm"), "{error}");
            let error = SiteEnv::new(&BTreeMap::new(), &names(&[name]), nothing).unwrap_err();
            assert!(error.to_string().contains("set by opm"), "{error}");
        }
    }

    #[test]
    fn names_that_are_not_variables_are_refused() {
        for name in ["", "9x", "A-B", "A B", "A=B", "Ä"] {
            let error = SiteEnv::new(&set(&[(name, "x")]), &[], nothing).unwrap_err();
            assert!(error.to_string().contains("not a variable name"), "{error}");
        }
    }

    #[test]
    fn a_name_both_set_and_passed_is_refused() {
        let error =
            SiteEnv::new(&set(&[("OSCAR_UI", "cli")]), &names(&["OSCAR_UI"]), nothing).unwrap_err();
        assert_eq!(
            error.to_string(),
            "script environment variable 'OSCAR_UI' is both set and passed through; keep one of the two"
        );
    }

    #[test]
    fn unusable_values_are_refused() {
        let error = SiteEnv::new(&set(&[("X", "a\0b")]), &[], nothing).unwrap_err();
        assert!(error.to_string().contains("NUL"), "{error}");
        use std::os::unix::ffi::OsStringExt;
        let error = SiteEnv::new(&BTreeMap::new(), &names(&["X"]), |_| {
            Some(OsString::from_vec(b"\xff".to_vec()))
        })
        .unwrap_err();
        assert!(error.to_string().contains("UTF-8"), "{error}");
    }
}
