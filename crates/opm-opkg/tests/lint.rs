//! Package quality an admin can check: lintian over the .debs and rpmlint
//! over the .rpms opm builds from `examples/opkgs` and the real OSCAR opkgs
//! of `../shared/corpus/real-opkgs` (read in place). Any lintian error fails;
//! any rpmlint error fails except the missing signature (opm does not sign
//! packages; repositories are signed instead) and the filters of
//! `tests/fixtures/rpmlintrc`, each about third-party content (see
//! docs/packaging.md).

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
// Tests may unwrap (house rule); clippy counts the helpers as non-test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use opm_opkg::pack::{SourceFiles, Target, opkg_specs, write_deb, write_rpm};
use opm_opkg::{Dist, Opkg};
use opm_testkit::shared::shared_dir;
use opm_testkit::tools::have_tool;

/// Our examples and, when `../shared` is there (else said loudly), the real opkgs.
fn sources() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut list: Vec<PathBuf> = std::fs::read_dir(manifest.join("../../examples/opkgs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("config.xml").is_file())
        .collect();
    let shared = shared_dir();
    let real = shared.join("corpus/real-opkgs");
    if real.is_dir() {
        for name in ["c3", "nfs", "torque", "sge", "ganglia"] {
            list.push(real.join(name));
        }
    } else {
        eprintln!(
            "SKIPPED (in part): ../shared not present: linting the examples only, not the real opkgs at {}",
            real.display()
        );
    }
    list.sort();
    list
}

/// Every package of every source, written as deb (debian, amd64) or rpm
/// (rhel-9, x86_64) into `out`.
fn build(out: &Path, deb: bool) -> Vec<PathBuf> {
    let target = Target {
        dist: Some(Dist::parse(if deb { "debian" } else { "rhel-9" })),
        arch: Some(if deb { "amd64" } else { "x86_64" }.to_owned()),
        mtime: 1_700_000_000,
    };
    let mut written = Vec::new();
    for dir in sources() {
        let opkg = Opkg::from_path(&dir).unwrap().opkg;
        let files = SourceFiles::read(&dir).unwrap();
        for spec in opkg_specs(&opkg, &files, &target).unwrap() {
            written.push(if deb {
                write_deb(&spec, out).unwrap()
            } else {
                write_rpm(&spec, out).unwrap()
            });
        }
    }
    written
}

#[test]
fn lintian_finds_no_error_in_our_debs() {
    if !have_tool("lintian") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let debs = build(out.path(), true);
    let output = Command::new("lintian")
        .args(["--tag-display-limit", "0"])
        .args(&debs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("E: "))
        .collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
    assert!(
        text.lines()
            .all(|line| !line.starts_with("W: ") || listed_warning(line)),
        "a lintian warning not listed in docs/packaging.md:\n{text}"
    );
}

/// The lintian warnings docs/packaging.md lists with their reasons.
fn listed_warning(line: &str) -> bool {
    [
        "empty-binary-package",
        "incorrect-path-for-interpreter /usr/bin/env perl",
        "initial-upload-closes-no-bugs",
    ]
    .iter()
    .any(|tag| line.contains(tag))
}

#[test]
fn rpmlint_finds_no_error_but_the_missing_signature() {
    if !have_tool("rpmlint") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let rpms = build(out.path(), false);
    let rc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rpmlintrc");
    let home = tempfile::tempdir().unwrap();
    let output = Command::new("rpmlint")
        // rpmlint reads ~/.config/rpmlint too: keep the tester's out.
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .arg("--ignore-unused-rpmlintrc")
        .arg("-r")
        .arg(&rc)
        .args(&rpms)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let errors: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(": E: ") && !line.contains(": E: no-signature"))
        .collect();
    assert!(errors.is_empty(), "rpmlint errors:\n{}", errors.join("\n"));
    assert!(
        text.contains(&format!("{} packages and 0 specfiles checked", rpms.len())),
        "{text}"
    );
}
