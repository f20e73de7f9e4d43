//! `opm opkg check` and `opm opkg show` end to end, through the real binary:
//! verdicts and exit codes over the real corpus (read in place) and our own
//! fixtures, `show --json` snapshots, and every kind of bad input.

// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../opm-opkg/tests/fixtures");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(CORPUS);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: ../shared not present (no corpus at {CORPUS})");
        None
    }
}

/// A sandbox with an empty settings file, so neither /etc/opm/opm.toml nor
/// the caller's OPM_* environment can change what the test sees; commands
/// run in the fixtures directory so paths in the output are relative.
struct Sandbox {
    dir: TempDir,
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("opm.toml"), "").unwrap();
        Sandbox { dir }
    }

    fn opm(&self, args: &[&str]) -> Outcome {
        self.opm_in(Path::new(FIXTURES), args)
    }

    fn opm_in(&self, cwd: &Path, args: &[&str]) -> Outcome {
        let mut command = Command::cargo_bin("opm").unwrap();
        for var in [
            "OPM_DB",
            "OPM_CONF",
            "OPM_ROOT",
            "OPM_REPO",
            "OPM_BACKEND",
            "OPM_SETTINGS",
        ] {
            command.env_remove(var);
        }
        command.env("OPM_SETTINGS", self.dir.path().join("opm.toml"));
        command.current_dir(cwd).args(args);
        let output = command.output().unwrap();
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

#[test]
fn check_accepts_a_valid_source() {
    let out = Sandbox::new().opm(&["opkg", "check", "--strict", "full", "minimal/config.xml"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "full:1:1: warning: package opkg-demo+tools-server: conflict 'server-conflict-x86_64' \
         is not a valid Debian package name (lower-case letters, digits, '+', '-', '.'), so it \
         never matches a deb; limit it to rpm dists with <filters> or fix the name\n\
         full: ok (demo+tools 1.10-2, 1 warning)\nminimal/config.xml: ok (minimal 0.1)\n"
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn strict_check_over_the_whole_corpus_agrees_with_verdicts_tsv() {
    let Some(corpus) = corpus() else { return };
    let verdicts = std::fs::read_to_string(corpus.join("VERDICTS.tsv")).unwrap();
    let expected: Vec<(String, bool)> = verdicts
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut fields = l.split('\t');
            (
                fields.next().unwrap().to_owned(),
                fields.next().unwrap() == "valid",
            )
        })
        .collect();
    let mut args = vec!["--json", "opkg", "check", "--strict"];
    let names: Vec<String> = expected.iter().map(|(n, _)| format!("opkgs/{n}")).collect();
    args.extend(names.iter().map(String::as_str));
    let out = Sandbox::new().opm_in(&corpus, &args);
    assert_eq!(out.code, Some(2), "old-format and torque are xsd-invalid");
    assert!(
        out.stderr.contains("2 of 17 opkg sources cannot be used"),
        "{}",
        out.stderr
    );
    let reports: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(reports.len(), expected.len());
    for ((name, valid), report) in expected.iter().zip(&reports) {
        assert_eq!(report["path"], format!("opkgs/{name}"));
        assert_eq!(report["ok"], *valid, "{name}: {report:#}");
    }
}

#[test]
fn default_check_of_the_corpus_warns_on_torque_and_slurm_and_refuses_old_format() {
    let Some(corpus) = corpus() else { return };
    let out = Sandbox::new().opm_in(&corpus, &["opkg", "check", "opkgs/torque"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "opkgs/torque/config.xml:90:51: warning: changelog date '2014-07-1TT18:59:47+02:00' is not an xs:dateTime"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .ends_with("opkgs/torque: ok (torque 2.4.4-1, 2 warnings)\n"),
        "{}",
        out.stdout
    );

    let out = Sandbox::new().opm_in(
        &corpus,
        &["opkg", "check", "opkgs/slurm", "opkgs/old-format"],
    );
    assert_eq!(out.code, Some(2));
    assert_eq!(
        out.stdout,
        "opkgs/slurm:1:1: warning: package opkg-slurm-client: dependency 'slurm-pam_slurm' is not a valid Debian package name (lower-case letters, digits, '+', '-', '.'), so no deb can satisfy it; limit it to rpm dists with <filters> or fix the name\n\
         opkgs/slurm:1:1: warning: package opkg-slurm-server: dependency 'slurm-pam_slurm' is not a valid Debian package name (lower-case letters, digits, '+', '-', '.'), so no deb can satisfy it; limit it to rpm dists with <filters> or fix the name\n\
         opkgs/slurm: ok (slurm 2.8.1-1, 2 warnings)\n\
         opkgs/old-format/config.xml:19:3: error: this is an old OSCAR config.xml (a <version> element); opm reads only the opkg format of OSCAR 5.1 and later, where the version comes from <changelog> and packages from <serverDeps>/<clientDeps>: convert it with opkg-convert or rewrite it\n\
         opkgs/old-format: invalid (1 error)\n"
    );
    assert_eq!(
        out.stderr,
        "error: 1 of 2 opkg sources cannot be used; fix the errors above\n"
    );
}

#[test]
fn check_reports_unreadable_inputs_as_errors() {
    let sandbox = Sandbox::new();
    let empty = tempfile::tempdir().unwrap();
    let empty_path = empty.path().display().to_string();
    let out = sandbox.opm(&["opkg", "check", "no-such-dir", &empty_path, "minimal"]);
    assert_eq!(out.code, Some(2));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("no-such-dir:1:1: error: cannot read no-such-dir: "),
        "{}",
        out.stdout
    );
    assert_eq!(lines[1], "no-such-dir: invalid (1 error)");
    assert_eq!(
        lines[2],
        format!(
            "{empty_path}:1:1: error: {empty_path} has no config.xml; an opkg source directory needs one"
        )
    );
    assert_eq!(lines[4], "minimal: ok (minimal 0.1)");
}

#[test]
fn check_looks_at_the_scripts_of_a_source_directory() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    std::fs::create_dir_all(source.join("scripts")).unwrap();
    std::fs::write(
        source.join("config.xml"),
        include_str!("../../opm-opkg/tests/fixtures/minimal/config.xml"),
    )
    .unwrap();
    for name in ["post_install", "api-post-deploy"] {
        std::fs::write(source.join("scripts").join(name), "#!/bin/sh\n").unwrap();
    }
    let sandbox = Sandbox::new();
    let out = sandbox.opm_in(dir.path(), &["opkg", "check", "src"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "src/scripts/post_install:1:1: warning: post_install and api-post-deploy are both the api-post-deploy hook; opm runs api-post-deploy, so remove post_install\n\
         src: ok (minimal 0.1, 1 warning)\n"
    );
    std::fs::remove_dir_all(source.join("scripts")).unwrap();
    std::fs::write(source.join("scripts"), "not a directory").unwrap();
    let out = sandbox.opm_in(dir.path(), &["opkg", "check", "src"]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stdout
            .starts_with("src/scripts:1:1: error: cannot list src/scripts: "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with("src: invalid (1 error)\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn check_needs_a_path() {
    let out = Sandbox::new().opm(&["opkg", "check"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("PATH"), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

#[test]
fn check_json_carries_every_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let text = include_str!("../../opm-opkg/tests/fixtures/minimal/config.xml")
        .replace("<license>GPL</license>", "<license>GPLv2</license>");
    std::fs::write(dir.path().join("config.xml"), text).unwrap();
    let sandbox = Sandbox::new();
    let out = sandbox.opm_in(dir.path(), &["--json", "opkg", "check", "config.xml"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let reports: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    insta::assert_json_snapshot!("opkg_check_json_warning", reports);
    let strict = sandbox.opm_in(
        dir.path(),
        &["--json", "opkg", "check", "--strict", "config.xml"],
    );
    assert_eq!(strict.code, Some(2));
    let reports: serde_json::Value = serde_json::from_str(&strict.stdout).unwrap();
    assert_eq!(reports[0]["ok"], false);
    assert_eq!(reports[0]["diagnostics"][0]["severity"], "error");
}

#[test]
fn show_json_of_the_full_fixture() {
    let sandbox = Sandbox::new();
    let out = sandbox.opm(&[
        "--json", "opkg", "show", "--dist", "debian", "--arch", "amd64", "full",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    insta::assert_json_snapshot!("opkg_show_full_debian_amd64", value);

    let out = sandbox.opm(&[
        "opkg",
        "show",
        "--json",
        "--dist",
        "rhel-9",
        "--arch",
        "x86_64",
        "full/config.xml",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(value["dist"], "rhel-9");
    assert_eq!(value["available"], true);
    let server: Vec<&str> = value["deps"]["server"]["requires"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        server,
        [
            "server-dep-rhel-after-8",
            "server-dep-everywhere",
            "common-dep",
            "mpi"
        ]
    );
}

#[test]
fn show_text_of_the_full_fixture() {
    let out = Sandbox::new().opm(&["opkg", "show", "full"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    insta::assert_snapshot!("opkg_show_full_text", out.stdout);
}

#[test]
fn show_json_of_the_real_slurm() {
    let Some(corpus) = corpus() else { return };
    let out = Sandbox::new().opm_in(
        &corpus,
        &[
            "--json",
            "opkg",
            "show",
            "--dist",
            "debian",
            "--arch",
            "amd64",
            "opkgs/slurm",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    insta::assert_json_snapshot!("opkg_show_slurm_debian_amd64", value);
}

#[test]
fn show_refuses_an_unusable_source() {
    let Some(corpus) = corpus() else { return };
    let out = Sandbox::new().opm_in(&corpus, &["opkg", "show", "opkgs/old-format"]);
    assert_eq!(out.code, Some(2));
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.starts_with(
            "opkgs/old-format/config.xml:19:3: error: this is an old OSCAR config.xml"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with(
            "error: opkgs/old-format is not a usable opkg source; run opm opkg check for details\n"
        ),
        "{}",
        out.stderr
    );
    let out = Sandbox::new().opm(&["opkg", "show", "nowhere"]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.starts_with("error: cannot read nowhere: "),
        "{}",
        out.stderr
    );
}
