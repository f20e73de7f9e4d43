//! Differential test: `--strict` against libxml2's own xsd validation
//! (`xmllint --schema opkg.xsd`) on line-level mutations of real files
//! (delete, duplicate or swap lines, swap values). They must agree, except
//! where opm refuses for its own reasons (name pattern, unusable version,
//! package names). Skipped loudly without xmllint or the corpus xsd.
//!
//! Few cases by default (each spawns xmllint); `OPM_XSD_DIFF_CASES` for more.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use opm_opkg::{Level, Opkg, Severity};
use proptest::prelude::*;

const XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/opkg.xsd"
);

/// Errors opm raises where the xsd has no opinion.
const OPM_ONLY: &[&str] = &[
    "invalid <name>",
    "is not usable",
    "<pkg>: ",
    "<dist> is empty",
];

/// Values swapped into the text, valid and invalid for their slots.
const VALUES: &[&str] = &[
    "core",
    "extra",
    "GPL",
    "GPLv2",
    "amd64",
    "aarch64",
    "&gt;=",
    "=&gt;",
    "maintainer",
    "owner",
    "2024-01-01T00:00:00Z",
    "2024-1-1",
    "1.0-1",
    "beta",
    "12 34",
    "0",
    "",
    " ",
    "http://a:b:c",
];

fn xmllint() -> bool {
    let ok = Path::new(XSD).is_file()
        && Command::new("xmllint")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: xmllint or ../shared/corpus/opkg.xsd missing (apt-get install libxml2-utils)"
        );
    }
    ok
}

fn seeds() -> Vec<String> {
    let mut dirs = vec![
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/full")),
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/minimal"
        )),
    ];
    for name in ["slurm", "opkgc-sample", "openmpi", "torque"] {
        dirs.push(
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/corpus/opkgs"
            ))
            .join(name),
        );
    }
    dirs.iter()
        .filter_map(|d| std::fs::read_to_string(d.join("config.xml")).ok())
        .collect()
}

#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize),
    /// Replace the text between the n-th `>` and the following `<`, or the
    /// n-th quoted attribute value.
    Value(usize, usize, bool),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        any::<usize>().prop_map(Edit::SwapLines),
        (any::<usize>(), 0..VALUES.len(), any::<bool>()).prop_map(|(n, v, a)| Edit::Value(n, v, a)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for edit in edits {
        // Line 0 is the XML declaration; keep it so the encoding is right.
        let n = lines.len();
        if n < 3 {
            break;
        }
        let pick = |i: usize| 1 + i % (n - 2);
        match edit {
            Edit::DeleteLine(i) => {
                lines.remove(pick(*i));
            }
            Edit::DuplicateLine(i) => {
                let at = pick(*i);
                let line = lines[at].clone();
                lines.insert(at, line);
            }
            Edit::SwapLines(i) => {
                let at = pick(*i);
                lines.swap(at, at + 1);
            }
            Edit::Value(i, v, attribute) => {
                let joined = lines.join("\n");
                let spots: Vec<(usize, usize)> = if *attribute {
                    quoted(&joined)
                } else {
                    between(&joined)
                };
                if spots.is_empty() {
                    continue;
                }
                let (start, end) = spots[i % spots.len()];
                let replaced = format!("{}{}{}", &joined[..start], VALUES[*v], &joined[end..]);
                lines = replaced.lines().map(str::to_owned).collect();
            }
        }
    }
    lines.join("\n")
}

/// Byte ranges of text between `>` and the next `<` that hold no newline.
fn between(text: &str) -> Vec<(usize, usize)> {
    let mut spots = Vec::new();
    for (i, _) in text.match_indices('>') {
        if let Some(len) = text[i + 1..].find('<')
            && !text[i + 1..i + 1 + len].contains('\n')
        {
            spots.push((i + 1, i + 1 + len));
        }
    }
    spots
}

/// Byte ranges of double-quoted attribute values after the declaration.
fn quoted(text: &str) -> Vec<(usize, usize)> {
    let start = text.find("?>").map_or(0, |i| i + 2);
    let mut spots = Vec::new();
    let mut open = None;
    for (i, c) in text[start..].char_indices() {
        if c == '"' {
            match open.take() {
                None => open = Some(start + i + 1),
                Some(from) => spots.push((from, start + i)),
            }
        }
    }
    spots
}

fn xsd_valid(dir: &Path, text: &str) -> bool {
    let file = dir.join("config.xml");
    std::fs::write(&file, text).unwrap();
    let output = Command::new("xmllint")
        .args(["--noout", "--schema", XSD])
        .arg(&file)
        .output()
        .unwrap();
    output.status.success()
}

fn cases() -> u32 {
    std::env::var("OPM_XSD_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn strict_agrees_with_xmllint(seed in any::<prop::sample::Index>(), edits in prop::collection::vec(edit(), 1..4)) {
        if !xmllint() {
            return Ok(());
        }
        let seeds = seeds();
        let text = apply(seed.get(&seeds).as_str(), &edits);
        let dir = tempfile::tempdir().unwrap();
        let libxml2 = xsd_valid(dir.path(), &text);
        let strict = Opkg::from_bytes(text.as_bytes(), "config.xml", Level::Strict);
        match (&strict, libxml2) {
            (Ok(_), true) => {}
            (Ok(loaded), false) => prop_assert!(false, "xmllint refuses, strict accepts ({:?}):\n{text}", loaded.warnings),
            (Err(error), true) => {
                let errors: Vec<_> = error.diagnostics().iter().filter(|d| d.severity == Severity::Error).collect();
                prop_assert!(
                    errors.iter().all(|d| OPM_ONLY.iter().any(|n| d.message.contains(n))),
                    "xmllint accepts, strict refuses: {errors:#?}\n{text}"
                );
            }
            (Err(_), false) => {}
        }
    }
}
