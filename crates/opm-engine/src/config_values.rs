//! Configuration values (SPEC §1.8): the form's defaults overridden by the
//! admin's values, and the `.configurator.values` file legacy scripts read.

use std::collections::BTreeMap;
use std::path::Path;

use opm_opkg::Field;

/// The file, in the package dir, that holds the settled values.
pub const VALUES_FILE: &str = ".configurator.values";

/// The settled values: every form field with its default (several selected
/// values joined by `,`), then every admin value on top (an admin value for
/// a name the form does not have is kept: the admin asked for it).
pub fn settle(fields: &[Field], overrides: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = fields
        .iter()
        .map(|field| (field.name.clone(), field.defaults.join(",")))
        .collect();
    values.extend(
        overrides
            .iter()
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    values
}

/// `NAME=VALUE` lines, each value single-quoted for `sh` so any value
/// survives a `. .configurator.values`.
pub fn render(values: &BTreeMap<String, String>) -> String {
    values
        .iter()
        .map(|(name, value)| format!("{name}={}\n", shell_quote(value)))
        .collect()
}

/// `value` in single quotes, each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Writes the values file into `package_dir` through a temporary file and
/// a rename, so a crash never leaves half a file for a script to read.
///
/// # Errors
/// The I/O error of writing or renaming.
pub fn write_values(package_dir: &Path, values: &BTreeMap<String, String>) -> std::io::Result<()> {
    let final_path = package_dir.join(VALUES_FILE);
    let temporary = package_dir.join(format!("{VALUES_FILE}.tmp"));
    std::fs::write(&temporary, render(values))?;
    std::fs::rename(&temporary, &final_path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_opkg::{Configurator, FieldKind};

    fn field(name: &str, defaults: &[&str]) -> Field {
        Field {
            name: name.to_owned(),
            kind: FieldKind::Text,
            defaults: defaults.iter().map(|d| (*d).to_owned()).collect(),
            choices: Vec::new(),
        }
    }

    #[test]
    fn admin_values_beat_form_defaults_and_extra_names_stay() {
        let fields = [field("server", &["10.0.0.1"]), field("mode", &["a", "b"])];
        let overrides = BTreeMap::from([
            ("server".to_owned(), "head".to_owned()),
            ("extra".to_owned(), "1".to_owned()),
        ]);
        let values = settle(&fields, &overrides);
        assert_eq!(values["server"], "head");
        assert_eq!(values["mode"], "a,b");
        assert_eq!(values["extra"], "1");
        assert_eq!(values.len(), 3);
    }

    #[test]
    fn defaults_come_from_a_sloppy_real_form() {
        let html = "<html><body><form><p>Server <input name=server value=10.1.1.1></input>\
                    <h1>x</h1><select name=sched><option>fifo<option selected>fair</select>";
        let values = settle(&Configurator::parse(html), &BTreeMap::new());
        assert_eq!(values["server"], "10.1.1.1");
        assert_eq!(values["sched"], "fair");
    }

    #[test]
    fn every_value_survives_the_shell() {
        let values = BTreeMap::from([
            ("plain".to_owned(), "x".to_owned()),
            ("quote".to_owned(), "it's $HOME `x` \"y\"".to_owned()),
            ("empty".to_owned(), String::new()),
        ]);
        let text = render(&values);
        assert_eq!(
            text,
            "empty=''\nplain='x'\nquote='it'\\''s $HOME `x` \"y\"'\n"
        );
        let dir = tempfile::tempdir().unwrap();
        write_values(dir.path(), &values).unwrap();
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                ". ./{VALUES_FILE} && printf '%s|%s|%s' \"$plain\" \"$quote\" \"$empty\""
            ))
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "x|it's $HOME `x` \"y\"|"
        );
        assert!(!dir.path().join(format!("{VALUES_FILE}.tmp")).exists());
    }
}
