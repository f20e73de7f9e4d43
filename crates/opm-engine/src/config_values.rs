//! Configuration values (SPEC §1.8): the form's defaults overridden by the
//! admin's values, and the `.configurator.values` file legacy scripts read.
//!
//! The file is the XML that OSCAR's only reader of it,
//! `OSCAR::Package::getConfigurationValues`, parses with
//! `XMLin($file, suppressempty => '', forcearray => '1')`: one element per
//! value under an `<opt>` root (XML::Simple's default root), so the reader
//! gets name → list of values. What XML::Simple itself cannot give back,
//! by its rules rather than ours: a value of only white space reads back
//! as empty, and a name `content` (its ContentKey) reads back as a plain
//! string instead of a list.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use opm_opkg::{Field, FieldKind};

/// The file, in the package dir, that holds the settled values.
pub const VALUES_FILE: &str = ".configurator.values";

/// Mode of the values file: it may hold passwords (issue 16), and only
/// root's scripts read it.
pub const VALUES_MODE: u32 = 0o600;

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

/// `NAME='VALUE'` lines, for the stage's output.
pub fn listing(values: &BTreeMap<String, String>) -> String {
    values
        .iter()
        .map(|(name, value)| format!("{name}={}\n", shell_quote(value)))
        .collect()
}

/// `value` in single quotes, each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// A value XML cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnwritableValue {
    /// The value's name.
    pub name: String,
    /// The first character XML 1.0 does not allow.
    pub character: char,
}

impl fmt::Display for UnwritableValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the value of '{}' holds the control character U+{:04X}, which XML cannot carry; change it with opm config set",
            self.name, self.character as u32
        )
    }
}

impl std::error::Error for UnwritableValue {}

/// The text of the values file and the names it had to leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValuesFile {
    /// The file's text: empty when there are no values, so the reader's
    /// `-s $file` finds nothing, as on OSCAR before the form was filled in.
    pub text: String,
    /// Names that are not XML element names (`a b`, `9lives`): scripts
    /// still get them as `OPM_CONFIG_*`.
    pub left_out: Vec<String>,
}

/// The values as XMLin reads them back: a checkbox group's or multiple
/// select's value (stored joined by `,`, see [`settle`]) becomes one
/// element per value, every other value one element. (A choice that
/// itself holds a `,` is split too: the stored value cannot tell.)
///
/// # Errors
/// A value with a character XML 1.0 does not allow, naming it.
pub fn render(
    values: &BTreeMap<String, String>,
    fields: &[Field],
) -> Result<ValuesFile, UnwritableValue> {
    let mut text = String::new();
    let mut left_out = Vec::new();
    for (name, value) in values {
        if !is_xml_name(name) {
            left_out.push(name.clone());
            continue;
        }
        let several = fields.iter().any(|field| {
            field.name == *name
                && matches!(field.kind, FieldKind::Checkbox | FieldKind::MultiSelect)
        });
        let parts: Vec<&str> = if several && !value.is_empty() {
            value.split(',').collect()
        } else {
            vec![value.as_str()]
        };
        for part in parts {
            let escaped = xml_text(part).map_err(|character| UnwritableValue {
                name: name.clone(),
                character,
            })?;
            text.push_str(&format!("  <{name}>{escaped}</{name}>\n"));
        }
    }
    if !text.is_empty() {
        text = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opt>\n{text}</opt>\n");
    }
    Ok(ValuesFile { text, left_out })
}

/// Whether `name` can be an element name that XML::Simple gives back as a
/// hash key: a letter or `_`, then letters, digits, `-`, `.`, `_` (no `:`,
/// which namespace-aware parsers would split).
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// `value` as XML character data; `Err` with the first character XML 1.0
/// does not allow. A carriage return is written as `&#13;`: a parser turns
/// a literal one into a line feed.
fn xml_text(value: &str) -> Result<String, char> {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => return Err(c),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Writes the values file into `package_dir`, mode [`VALUES_MODE`],
/// through a fresh temporary file and a rename, so a crash never leaves
/// half a file for a script to read and the values are never readable by
/// others, not even for a moment.
///
/// # Errors
/// The I/O error of writing or renaming.
pub fn write_values(package_dir: &Path, text: &str) -> std::io::Result<()> {
    let final_path = package_dir.join(VALUES_FILE);
    let temporary = package_dir.join(format!("{VALUES_FILE}.tmp"));
    // A leftover of a crash may have another mode: start afresh.
    match std::fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(VALUES_MODE)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, &final_path)
}

/// Removes what opm wrote into `package_dir` (the values file and a
/// leftover temporary one), then the directory itself if that left it
/// empty: called once the opkg's package that owns the directory is gone,
/// whose removal left the directory behind because of these files.
///
/// # Errors
/// The I/O error of a removal, other than "not there" or "not empty".
pub fn remove_values(package_dir: &Path) -> std::io::Result<()> {
    let ignore = |result: std::io::Result<()>, also: std::io::ErrorKind| match result {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound && error.kind() != also => {
            Err(error)
        }
        _ => Ok(()),
    };
    for name in [VALUES_FILE.to_owned(), format!("{VALUES_FILE}.tmp")] {
        ignore(
            std::fs::remove_file(package_dir.join(name)),
            std::io::ErrorKind::NotFound,
        )?;
    }
    ignore(
        std::fs::remove_dir(package_dir),
        std::io::ErrorKind::DirectoryNotEmpty,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_opkg::{Configurator, FieldKind};
    use std::os::unix::fs::PermissionsExt;

    fn field(name: &str, kind: FieldKind, defaults: &[&str]) -> Field {
        Field {
            name: name.to_owned(),
            kind,
            defaults: defaults.iter().map(|d| (*d).to_owned()).collect(),
            choices: Vec::new(),
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// What OSCAR's `getConfigurationValues` gets from the file: XML::Simple's
    /// `XMLin` with OSCAR's options, dumped as JSON; `None` (with a SKIPPED
    /// line) when perl or XML::Simple is missing.
    #[allow(
        clippy::disallowed_methods,
        reason = "the test compares with OSCAR's own Perl reader, run as a child process"
    )]
    fn read_with_xml_simple(path: &Path) -> Option<serde_json::Value> {
        let output = std::process::Command::new("perl")
            .args([
                "-MXML::Simple",
                "-MJSON::PP",
                "-e",
                "my $v = -s $ARGV[0] ? XMLin($ARGV[0], suppressempty => '', forcearray => '1') : undef; \
                 print JSON::PP->new->canonical->allow_nonref->encode($v)",
            ])
            .arg(path)
            .output();
        match output {
            Ok(output) if output.status.success() => {
                Some(serde_json::from_slice(&output.stdout).unwrap())
            }
            Ok(output)
                if String::from_utf8_lossy(&output.stderr).contains("Can't locate XML/Simple") =>
            {
                eprintln!("SKIPPED: XML::Simple missing (apt-get install libxml-simple-perl)");
                None
            }
            Ok(output) => panic!("perl failed: {}", String::from_utf8_lossy(&output.stderr)),
            Err(error) => {
                eprintln!("SKIPPED: perl not runnable: {error}");
                None
            }
        }
    }

    #[test]
    fn admin_values_beat_form_defaults_and_extra_names_stay() {
        let fields = [
            field("server", FieldKind::Text, &["10.0.0.1"]),
            field("mode", FieldKind::MultiSelect, &["a", "b"]),
        ];
        let overrides = values(&[("server", "head"), ("extra", "1")]);
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
    fn xml_simple_reads_back_every_value() {
        let fields = [
            field("nodes", FieldKind::Checkbox, &[]),
            field("queues", FieldKind::MultiSelect, &[]),
            field("motd", FieldKind::Text, &[]),
        ];
        let settled = values(&[
            ("special", r#"a & b <c> "d" 'e' ]]> &amp;"#),
            ("unicode", "größe € 名前"),
            ("nodes", "n1,n2,n3"),
            ("queues", ""),
            ("motd", "hello, world"),
            ("empty", ""),
            ("lines", "one\ntwo\r\n\tthree"),
            ("nfs-server", "10.0.0.1"),
            ("a b", "left out"),
        ]);
        let file = render(&settled, &fields).unwrap();
        assert_eq!(file.left_out, ["a b"]);
        let dir = tempfile::tempdir().unwrap();
        write_values(dir.path(), &file.text).unwrap();
        let Some(read) = read_with_xml_simple(&dir.path().join(VALUES_FILE)) else {
            return;
        };
        assert_eq!(
            read,
            serde_json::json!({
                "special": [r#"a & b <c> "d" 'e' ]]> &amp;"#],
                "unicode": ["größe € 名前"],
                "nodes": ["n1", "n2", "n3"],
                "queues": [""],
                "motd": ["hello, world"],
                "empty": [""],
                "lines": ["one\ntwo\r\n\tthree"],
                "nfs-server": ["10.0.0.1"],
            })
        );
    }

    #[test]
    fn no_values_make_an_empty_file_the_reader_skips() {
        let file = render(&BTreeMap::new(), &[]).unwrap();
        assert_eq!(file.text, "");
        let dir = tempfile::tempdir().unwrap();
        write_values(dir.path(), &file.text).unwrap();
        if let Some(read) = read_with_xml_simple(&dir.path().join(VALUES_FILE)) {
            assert_eq!(read, serde_json::Value::Null);
        }
    }

    #[test]
    fn control_characters_are_refused_by_name() {
        let error = render(&values(&[("ok", "x"), ("bell", "a\u{7}b")]), &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the value of 'bell' holds the control character U+0007, which XML cannot carry; change it with opm config set"
        );
    }

    #[test]
    fn the_file_is_private_and_replaces_a_loose_leftover() {
        let dir = tempfile::tempdir().unwrap();
        let temporary = dir.path().join(format!("{VALUES_FILE}.tmp"));
        std::fs::write(&temporary, "stale").unwrap();
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o644)).unwrap();
        let old = dir.path().join(VALUES_FILE);
        std::fs::write(&old, "old").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();

        let file = render(&values(&[("password", "s3cret")]), &[]).unwrap();
        write_values(dir.path(), &file.text).unwrap();
        let metadata = std::fs::metadata(&old).unwrap();
        assert_eq!(metadata.permissions().mode() & 0o777, VALUES_MODE);
        assert!(std::fs::read_to_string(&old).unwrap().contains("s3cret"));
        assert!(!temporary.exists());
    }

    #[test]
    fn removing_the_values_takes_an_emptied_dir_along_and_keeps_a_used_one() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("p");
        std::fs::create_dir(&dir).unwrap();
        write_values(&dir, "<opt/>").unwrap();
        std::fs::write(dir.join(format!("{VALUES_FILE}.tmp")), "").unwrap();
        remove_values(&dir).unwrap();
        assert!(!dir.exists());
        // Again: nothing there is no error.
        remove_values(&dir).unwrap();

        std::fs::create_dir(&dir).unwrap();
        write_values(&dir, "<opt/>").unwrap();
        std::fs::write(dir.join("api-post-install"), "").unwrap();
        remove_values(&dir).unwrap();
        assert!(!dir.join(VALUES_FILE).exists());
        assert!(dir.join("api-post-install").exists());
    }

    #[test]
    fn the_listing_quotes_for_the_shell() {
        assert_eq!(
            listing(&values(&[("empty", ""), ("quote", "it's")])),
            "empty=''\nquote='it'\\''s'\n"
        );
    }
}
