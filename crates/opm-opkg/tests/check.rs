//! Every error and warning path of config.xml checking, at both levels.
//! Each case mutates the minimal fixture; when xmllint is installed, the
//! strict verdict is also compared with libxml2's own xsd validation.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use opm_opkg::{Level, Opkg, OpkgError, Severity};

const MINIMAL: &str = include_str!("fixtures/minimal/config.xml");
const XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/opkg.xsd"
);

/// What a level makes of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Accepted without a word.
    Clean,
    /// Accepted with warnings.
    Warn,
    /// Refused.
    Error,
}
use Verdict::{Clean, Error, Warn};

struct Case {
    label: &'static str,
    /// Replacements applied to the fixture, each once, in order.
    edits: &'static [(&'static str, &'static str)],
    default: Verdict,
    strict: Verdict,
    /// A fragment of the message that must be reported.
    needle: &'static str,
    /// The xsd itself accepts the file (opm refuses it for its own reasons).
    xsd_valid: bool,
    /// A single replacement, for the common case.
    single: Option<(&'static str, &'static str)>,
}

const fn case(
    label: &'static str,
    from: &'static str,
    to: &'static str,
    default: Verdict,
    strict: Verdict,
    needle: &'static str,
) -> Case {
    edits(label, &[], default, strict, needle).with(from, to)
}

const fn edits(
    label: &'static str,
    edits: &'static [(&'static str, &'static str)],
    default: Verdict,
    strict: Verdict,
    needle: &'static str,
) -> Case {
    Case {
        label,
        edits,
        default,
        strict,
        needle,
        xsd_valid: !matches!(strict, Error),
        single: None,
    }
}

impl Case {
    /// This case with the single edit `from` -> `to`.
    const fn with(mut self, from: &'static str, to: &'static str) -> Case {
        self.single = Some((from, to));
        self
    }

    fn text(&self) -> String {
        let mut text = MINIMAL.to_owned();
        for (from, to) in self.single.iter().chain(self.edits) {
            assert!(
                text.contains(from),
                "{}: '{from}' not in the fixture",
                self.label
            );
            text = text.replacen(from, to, 1);
        }
        text
    }
}

const fn opm_only(mut c: Case) -> Case {
    c.xsd_valid = true;
    c
}

const AUTHOR: &str = "<author cat=\"maintainer\">";
const ITEM: &str = "<item>Initial.</item>";

fn cases() -> Vec<Case> {
    vec![
        case(
            "malformed xml",
            "</oscar>",
            "",
            Error,
            Error,
            "malformed XML",
        ),
        case(
            "mismatched tag",
            "</summary>",
            "</summry>",
            Error,
            Error,
            "malformed XML",
        ),
        case(
            "unknown entity",
            "Initial.",
            "&nbsp;",
            Error,
            Error,
            "unknown entity",
        ),
        case(
            "unknown encoding",
            "ISO-8859-1",
            "klingon",
            Error,
            Error,
            "unknown encoding",
        ),
        case(
            "no name",
            "<name>minimal</name>",
            "",
            Error,
            Error,
            "<oscar> has no <name>",
        ),
        opm_only(case(
            "upper-case name",
            "<name>minimal",
            "<name>Minimal",
            Error,
            Error,
            "invalid <name>",
        )),
        opm_only(case(
            "one-letter name",
            "<name>minimal",
            "<name>m",
            Error,
            Error,
            "too short",
        )),
        case(
            "two names",
            "<name>minimal</name>",
            "<name>minimal</name><name>other</name>",
            Error,
            Error,
            "may appear only once",
        ),
        edits(
            "no changelog",
            &[("<changelog>", "<!--"), ("</changelog>", "-->")],
            Error,
            Error,
            "<oscar> has no <changelog>",
        ),
        edits(
            "empty changelog",
            &[
                ("<versionEntry version=\"0.1\">", "<!--"),
                ("</versionEntry>", "-->"),
            ],
            Error,
            Error,
            "<changelog> has no <versionEntry>",
        ),
        case(
            "versionEntry without version",
            "<versionEntry version=\"0.1\">",
            "<versionEntry>",
            Error,
            Error,
            "no version attribute",
        ),
        opm_only(case(
            "unusable version",
            "version=\"0.1\"",
            "version=\"beta\"",
            Error,
            Error,
            "must start with a digit",
        )),
        case(
            "empty version",
            "version=\"0.1\"",
            "version=\"\"",
            Error,
            Error,
            "upstream version is empty",
        ),
        edits(
            "root package",
            &[("<oscar>", "<package>"), ("</oscar>", "</package>")],
            Error,
            Error,
            "old OSCAR config.xml (root element <package>)",
        ),
        case(
            "old version element",
            "<summary>",
            "<version><major>1</major></version><summary>",
            Error,
            Error,
            "old OSCAR config.xml (a <version> element)",
        ),
        case(
            "old rpmlist",
            "<summary>",
            "<rpmlist><rpm>x</rpm></rpmlist><summary>",
            Error,
            Error,
            "old OSCAR config.xml (an <rpmlist> element)",
        ),
        edits(
            "foreign root",
            &[("<oscar>", "<opkg>"), ("</oscar>", "</opkg>")],
            Error,
            Error,
            "the root element is <opkg>",
        ),
        case(
            "bad date",
            "2024-05-01T10:00:00",
            "2024-05-1TT10:00:00",
            Warn,
            Error,
            "is not an xs:dateTime",
        ),
        case(
            "no date",
            " date=\"2024-05-01T10:00:00\"",
            "",
            Warn,
            Error,
            "no date attribute",
        ),
        case(
            "no authorName",
            "authorName=\"Max Maintainer\" ",
            "",
            Warn,
            Error,
            "no authorName attribute",
        ),
        case(
            "bad closes",
            "date=\"2024-05-01T10:00:00\"",
            "date=\"2024-05-01T10:00:00\" closes=\"12 0\"",
            Warn,
            Error,
            "not a positive bug number",
        ),
        case(
            "unlisted license",
            "<license>GPL</license>",
            "<license>GPLv2+</license>",
            Warn,
            Error,
            "<license> 'GPLv2+' is not one the schema lists",
        ),
        case(
            "no license",
            "<license>GPL</license>",
            "",
            Warn,
            Error,
            "<oscar> has no <license>",
        ),
        case(
            "bad class",
            "<license>",
            "<class>extra</class><license>",
            Warn,
            Error,
            "out of order",
        ),
        case(
            "unlisted class",
            "<summary>",
            "<class>extra</class><summary>",
            Warn,
            Error,
            "<class> 'extra' is not one",
        ),
        case(
            "class with spaces",
            "<summary>",
            "<class> core </class><summary>",
            Clean,
            Error,
            "surrounding whitespace",
        ),
        case(
            "long summary",
            "The smallest valid opkg",
            "The smallest valid opkg, described at a length that the schema does not allow",
            Warn,
            Error,
            "the schema allows 67",
        ),
        case(
            "no summary",
            "<summary>The smallest valid opkg</summary>",
            "",
            Warn,
            Error,
            "<oscar> has no <summary>",
        ),
        case(
            "no group",
            "<group>Application/System</group>",
            "",
            Warn,
            Error,
            "<oscar> has no <group>",
        ),
        edits(
            "no authors",
            &[("<authors>", "<!--"), ("</authors>", "-->")],
            Warn,
            Error,
            "<oscar> has no <authors>",
        ),
        edits(
            "empty authors",
            &[(AUTHOR, "<!--"), ("</author>", "-->")],
            Warn,
            Error,
            "<authors> has no <author>",
        ),
        case(
            "author without cat",
            AUTHOR,
            "<author>",
            Warn,
            Error,
            "no cat attribute",
        ),
        case(
            "author with bad cat",
            AUTHOR,
            "<author cat=\"owner\">",
            Warn,
            Error,
            "author cat 'owner'",
        ),
        case(
            "author without email",
            "<email>max@example.org</email>",
            "",
            Warn,
            Error,
            "<author> has no <email>",
        ),
        case(
            "bad beginYear",
            "</email>",
            "</email><beginYear>MMIV</beginYear>",
            Warn,
            Error,
            "not a positive integer",
        ),
        case(
            "uri with a bad port",
            "<authors>",
            "<uri>http://a:b:c/</uri><authors>",
            Warn,
            Error,
            "not a valid URI",
        ),
        case(
            "unknown element",
            "<authors>",
            "<homepage>x</homepage><authors>",
            Warn,
            Error,
            "unexpected element <homepage>",
        ),
        case(
            "unknown attribute",
            "<oscar>",
            "<oscar id=\"1\">",
            Warn,
            Error,
            "unknown attribute 'id'",
        ),
        case(
            "attribute on summary",
            "<summary>",
            "<summary lang=\"en\">",
            Warn,
            Error,
            "unknown attribute 'lang' on <summary>",
        ),
        case(
            "attribute on item",
            "<item>",
            "<item n=\"1\">",
            Warn,
            Error,
            "unknown attribute 'n' on <item>",
        ),
        case(
            "xsi schema location",
            "<oscar>",
            "<oscar xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"opkg.xsd\">",
            Clean,
            Clean,
            "",
        ),
        case(
            "unknown xsi attribute",
            "<oscar>",
            "<oscar xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:bogus=\"1\">",
            Warn,
            Error,
            "unknown attribute 'xsi:bogus'",
        ),
        case(
            "xsi prefix bound elsewhere",
            "<oscar>",
            "<oscar xmlns:xsi=\"urn:not-xsi\" xsi:schemaLocation=\"a b\">",
            Warn,
            Error,
            "unknown attribute 'xsi:schemaLocation'",
        ),
        case(
            "empty default namespace",
            "<oscar>",
            "<oscar xmlns=\"\">",
            Clean,
            Clean,
            "",
        ),
        case(
            "prefixed element",
            "<authors>",
            "<x:uri xmlns:x=\"urn:x\">u</x:uri><authors>",
            Warn,
            Error,
            "unexpected element <{urn:x}uri>",
        ),
        case(
            "default namespace",
            "<oscar>",
            "<oscar xmlns=\"http://oscar.example/\">",
            Warn,
            Error,
            "default namespace",
        ),
        case(
            "stray text",
            "<authors>",
            "stray<authors>",
            Warn,
            Error,
            "text is not allowed directly inside <oscar>",
        ),
        case(
            "markup in summary",
            "valid opkg</summary>",
            "valid <b>opkg</b></summary>",
            Warn,
            Error,
            "may hold only text",
        ),
        case(
            "two summaries",
            "<license>",
            "<summary>again</summary><license>",
            Warn,
            Error,
            "may appear only once",
        ),
        case(
            "bad arch",
            "<changelog>",
            "<filters><arch>aarch64</arch></filters><changelog>",
            Warn,
            Error,
            "<arch> 'aarch64' is not one",
        ),
        case(
            "empty arch",
            "<changelog>",
            "<filters><arch/></filters><changelog>",
            Error,
            Error,
            "<arch> is empty",
        ),
        opm_only(case(
            "empty dist",
            "<changelog>",
            "<filters><dist/></filters><changelog>",
            Error,
            Error,
            "<dist> is empty",
        )),
        case(
            "bad rel",
            "<changelog>",
            "<apiDeps><requires><pkg rel=\"=&gt;\" version=\"1\">x</pkg></requires></apiDeps><changelog>",
            Error,
            Error,
            "rel '=>'",
        ),
        opm_only(case(
            "empty pkg",
            "<changelog>",
            "<apiDeps><requires><pkg/></requires></apiDeps><changelog>",
            Error,
            Error,
            "an empty package name",
        )),
        opm_only(case(
            "pkg with a space",
            "<changelog>",
            "<apiDeps><requires><pkg>a b</pkg></requires></apiDeps><changelog>",
            Error,
            Error,
            "contains ' '",
        )),
        case(
            "requires without pkg",
            "<changelog>",
            "<apiDeps><requires></requires></apiDeps><changelog>",
            Warn,
            Error,
            "<requires> has no <pkg>",
        ),
        case(
            "rel without version",
            "<changelog>",
            "<apiDeps><requires><pkg rel=\"&gt;\">x</pkg></requires></apiDeps><changelog>",
            Warn,
            Warn,
            "without a version is ignored",
        ),
        case(
            "empty pkg version",
            "<changelog>",
            "<apiDeps><requires><pkg version=\"\">x</pkg></requires></apiDeps><changelog>",
            Warn,
            Error,
            "empty version on <pkg>",
        ),
        case(
            "filters after pkg",
            "<changelog>",
            "<apiDeps><requires><pkg>x</pkg><filters/></requires></apiDeps><changelog>",
            Warn,
            Error,
            "out of order",
        ),
        case(
            "deps out of order",
            "<changelog>",
            "<clientDeps/><serverDeps/><changelog>",
            Warn,
            Error,
            "<serverDeps> is out of order",
        ),
        case(
            "suggests at opkg level",
            "<changelog>",
            "<suggests><pkg>x</pkg></suggests><changelog>",
            Warn,
            Error,
            "unexpected element <suggests>",
        ),
        case(
            "no item",
            ITEM,
            "",
            Warn,
            Error,
            "<changelogEntry> has no <item>",
        ),
        case(
            "no changelogEntry",
            "<versionEntry version=\"0.1\">",
            "<versionEntry version=\"0.1\"/><versionEntry version=\"0.0.1\">",
            Warn,
            Error,
            "<versionEntry> has no <changelogEntry>",
        ),
        case(
            "highest not first",
            "</changelog>",
            "<versionEntry version=\"0.2\"><changelogEntry authorName=\"a\" date=\"2024-05-01T10:00:00\"><item>x</item></changelogEntry></versionEntry></changelog>",
            Warn,
            Warn,
            "highest version 0.2 is not its first entry",
        ),
        case(
            "older epoch",
            "</changelog>",
            "<versionEntry version=\"1:0.0.1\"><changelogEntry authorName=\"a\" date=\"2024-05-01T10:00:00\"><item>x</item></changelogEntry></versionEntry></changelog>",
            Warn,
            Warn,
            "has a higher epoch",
        ),
    ]
}

fn verdict(outcome: &Result<opm_opkg::Loaded, OpkgError>) -> Verdict {
    match outcome {
        Ok(loaded) if loaded.warnings.is_empty() => Clean,
        Ok(_) => Warn,
        Err(_) => Error,
    }
}

fn messages(outcome: &Result<opm_opkg::Loaded, OpkgError>) -> Vec<String> {
    match outcome {
        Ok(loaded) => loaded.warnings.iter().map(ToString::to_string).collect(),
        Err(error) => error
            .diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

/// libxml2's verdict on `text`, or None without xmllint or the corpus xsd.
fn xmllint_valid(dir: &Path, label: &str, text: &[u8]) -> Option<bool> {
    if !Path::new(XSD).is_file() {
        return None;
    }
    let file = dir.join(format!("{}.xml", label.replace(' ', "-")));
    std::fs::write(&file, text).unwrap();
    let output = Command::new("xmllint")
        .args(["--noout", "--schema", XSD])
        .arg(&file)
        .output()
        .ok()?;
    Some(output.status.success())
}

#[test]
fn the_minimal_fixture_is_clean_at_both_levels() {
    for level in [Level::Default, Level::Strict] {
        let loaded = Opkg::from_str(MINIMAL, "minimal.xml", level).unwrap();
        assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
        assert_eq!(loaded.opkg.version.to_string(), "0.1");
        assert_eq!(loaded.opkg.version.release, None);
    }
}

#[test]
fn every_error_and_warning_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut xmllint_missing = false;
    for case in cases() {
        let text = case.text();
        for (level, expected) in [(Level::Default, case.default), (Level::Strict, case.strict)] {
            let outcome = Opkg::from_bytes(text.as_bytes(), "config.xml", level);
            let got = verdict(&outcome);
            let messages = messages(&outcome);
            assert_eq!(got, expected, "{} at {level:?}: {messages:#?}", case.label);
            if expected != Clean {
                assert!(
                    messages.iter().any(|m| m.contains(case.needle)),
                    "{} at {level:?}: no '{}' in {messages:#?}",
                    case.label,
                    case.needle
                );
            }
            for message in &messages {
                assert!(message.starts_with("config.xml:"), "{message}");
                let position: Vec<&str> = message.splitn(4, ':').collect();
                assert!(position[1].parse::<u32>().unwrap() >= 1, "{message}");
                assert!(position[2].parse::<u32>().unwrap() >= 1, "{message}");
            }
        }
        match xmllint_valid(dir.path(), case.label, text.as_bytes()) {
            Some(valid) => assert_eq!(valid, case.xsd_valid, "{}: xmllint disagrees", case.label),
            None => xmllint_missing = true,
        }
    }
    if xmllint_missing {
        eprintln!(
            "SKIPPED: xmllint or ../shared/corpus/opkg.xsd missing; strict verdicts not compared with libxml2 (apt-get install libxml2-utils)"
        );
    }
}

#[test]
fn diagnostics_point_at_the_offending_line_and_column() {
    let text = MINIMAL.replace("date=\"2024-05-01T10:00:00\"", "date=\"yesterday\"");
    let loaded = Opkg::from_str(&text, "c.xml", Level::Default).unwrap();
    let warning = &loaded.warnings[0];
    assert_eq!((warning.line, warning.column), (15, 51), "{warning}");
    assert_eq!(
        warning.to_string(),
        "c.xml:15:51: warning: changelog date 'yesterday' is not an xs:dateTime (YYYY-MM-DDThh:mm:ss with an optional zone)"
    );
    let broken = MINIMAL.replace("</summary>", "</summry>");
    let error = Opkg::from_str(&broken, "c.xml", Level::Default).unwrap_err();
    let first = &error.diagnostics()[0];
    assert_eq!(
        (first.line, first.severity),
        (4, Severity::Error),
        "{first}"
    );
}

#[test]
fn encodings_per_the_declaration() {
    let latin1: Vec<u8> = MINIMAL
        .replace("Max Maintainer</name>", "Max M\u{fc}ller</name>")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let loaded = Opkg::from_bytes(&latin1, "l.xml", Level::Strict).unwrap();
    assert_eq!(loaded.opkg.authors[0].name, "Max Müller");
    assert!(loaded.warnings.is_empty());

    let utf8 = MINIMAL.replace("Max Maintainer</name>", "Max Müller</name>");
    let loaded = Opkg::from_bytes(utf8.as_bytes(), "u.xml", Level::Strict).unwrap();
    assert_eq!(loaded.opkg.authors[0].name, "Max Müller");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].message.contains("holds UTF-8 text"));
    assert_eq!(loaded.warnings[0].line, 9);

    let declared_utf8 = MINIMAL.replace("ISO-8859-1", "UTF-8");
    let mut bad = declared_utf8.into_bytes();
    bad.extend_from_slice(b"\xff");
    let error = Opkg::from_bytes(&bad, "b.xml", Level::Default).unwrap_err();
    assert!(error.to_string().contains("invalid UTF-8"), "{error}");
}

#[test]
fn paths_resolve_to_config_xml() {
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
    let by_dir = Opkg::from_path(fixtures.join("minimal")).unwrap();
    let by_file = Opkg::from_path(fixtures.join("minimal/config.xml")).unwrap();
    assert_eq!(by_dir, by_file);
    let empty = tempfile::tempdir().unwrap();
    let error = Opkg::from_path(empty.path()).unwrap_err();
    assert!(matches!(error, OpkgError::NoConfig { .. }));
    assert!(
        error
            .to_string()
            .ends_with("has no config.xml; an opkg source directory needs one")
    );
    let huge = empty.path().join("huge.xml");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(opm_opkg::MAX_CONFIG_BYTES + 1).unwrap();
    let error = Opkg::from_path(&huge).unwrap_err();
    assert!(matches!(error, OpkgError::TooLarge { .. }), "{error}");
    assert!(
        error
            .to_string()
            .ends_with("is larger than 16 MiB; a config.xml is a few kilobytes: check the path")
    );
    let error = Opkg::from_path(empty.path().join("missing")).unwrap_err();
    assert!(error.to_string().starts_with("cannot read "), "{error}");
}
