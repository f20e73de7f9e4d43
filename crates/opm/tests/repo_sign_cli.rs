//! `opm repo index --sign KEYID` through the real binary, with a throwaway
//! gpg key in a temporary `GNUPGHOME`: the apt and dnf indexes get
//! signatures gpg verifies and the public key is written next to them; an
//! unknown key changes nothing (exit 2); indexing again unsigned leaves no
//! stale signature behind; and `opm run` installs an opkg from a signed
//! repository with apt and with dnf, each checking the signature.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use opm_testkit::gpg::{gpg_command, new_signing_key};
use opm_testkit::tools::{have_tool, output_text};

const MOTD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs/motd");

/// `gpg ARGS` in `home`; its output.
fn gpg(home: &Path, args: &[&str]) -> Output {
    gpg_command(home).args(args).output().unwrap()
}

/// `opm ARGS` with `home` as GNUPGHOME and an empty settings file.
fn opm(dir: &Path, home: &Path, args: &[&str]) -> Output {
    std::fs::write(dir.join("opm.toml"), "").unwrap();
    Command::new(assert_cmd::cargo::cargo_bin("opm"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OPM_SETTINGS", dir.join("opm.toml"))
        .env("GNUPGHOME", home)
        .args(args)
        .output()
        .unwrap()
}

/// A throwaway signing key in `home` (created): its fingerprint.
fn new_key(home: &Path) -> String {
    std::fs::create_dir(home).unwrap();
    new_signing_key(home)
}

#[test]
fn signed_indexes_verify_and_unsigned_ones_leave_no_stale_signature() {
    if !have_tool("gpg") || !have_tool("createrepo_c") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("gnupg");
    let fingerprint = new_key(&home);

    let repo = dir.path().join("repo");
    let repo_text = repo.to_str().unwrap();
    for format in ["deb", "rpm"] {
        let out = opm(
            dir.path(),
            &home,
            &["pack", "--format", format, "-o", repo_text, MOTD],
        );
        assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    }

    // An unknown key: refused before anything is written.
    let out = opm(
        dir.path(),
        &home,
        &["repo", "index", "--sign", "NOSUCHKEY", repo_text],
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("signing with gpg key 'NOSUCHKEY' failed at exporting its public key"),
        "{stderr}"
    );
    assert!(!repo.join("Release").exists() && !repo.join("repodata").exists());
    // Not a key id at all (it would be an option to gpg).
    let out = opm(
        dir.path(),
        &home,
        &["repo", "index", "--sign=--homedir=/x", repo_text],
    );
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give a key id"),
        "{}",
        output_text(&out)
    );

    let out = opm(
        dir.path(),
        &home,
        &["repo", "index", "--sign", &fingerprint, repo_text],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let verify = |args: &[&str]| {
        let out = gpg(&home, &[&["--verify"], args].concat());
        assert!(
            out.status.success(),
            "gpg --verify {args:?}: {}",
            output_text(&out)
        );
    };
    let at = |name: &str| repo.join(name).display().to_string();
    verify(&[&at("InRelease")]);
    verify(&[&at("Release.gpg"), &at("Release")]);
    verify(&[&at("repodata/repomd.xml.asc"), &at("repodata/repomd.xml")]);
    let key = std::fs::read_to_string(repo.join("opm-archive-key.asc")).unwrap();
    assert!(
        key.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"),
        "{key}"
    );
    // The signed Release is the one written: InRelease carries its text.
    let release = std::fs::read_to_string(repo.join("Release")).unwrap();
    let inrelease = std::fs::read_to_string(repo.join("InRelease")).unwrap();
    assert!(inrelease.contains(&release), "{inrelease}");

    // A changed index no longer matches the signature...
    std::fs::write(repo.join("Release"), format!("{release}Label: evil\n")).unwrap();
    let out = gpg(&home, &["--verify", &at("Release.gpg"), &at("Release")]);
    assert!(!out.status.success(), "{}", output_text(&out));
    // ...and indexing again unsigned drops every signature.
    let out = opm(dir.path(), &home, &["repo", "index", repo_text]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    for stale in ["InRelease", "Release.gpg", "repodata/repomd.xml.asc"] {
        assert!(!repo.join(stale).exists(), "{stale} outlived its index");
    }
}

#[test]
fn opm_installs_an_opkg_from_a_signed_repository_with_apt() {
    if have_tool("gpg") && have_tool("apt-get") && have_tool("dpkg") {
        installs_from_a_signed_repository("apt");
    }
}

#[test]
fn opm_installs_an_opkg_from_a_signed_repository_with_dnf() {
    if have_tool("gpg") && have_tool("dnf") && have_tool("rpm") && have_tool("createrepo_c") {
        installs_from_a_signed_repository("dnf");
    }
}

/// `opm run` on a head node installs motd with `backend` from a repository
/// signed by `opm repo index --sign`, named with its key.
fn installs_from_a_signed_repository(backend: &str) {
    let format = if backend == "apt" { "deb" } else { "rpm" };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("gnupg");
    let fingerprint = new_key(&home);
    let repo = dir.path().join("repo");
    let repo_text = repo.to_str().unwrap();
    let out = opm(
        dir.path(),
        &home,
        &["pack", "--format", format, "-o", repo_text, MOTD],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));
    let out = opm(
        dir.path(),
        &home,
        &["repo", "index", "--sign", &fingerprint, repo_text],
    );
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));

    // The head node: its own root, the signed repository with its key.
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(dir.path().join("opm.conf"), "server\nhead\n").unwrap();
    let signed = format!(
        "[signed-by={}] {repo_text}",
        repo.join("opm-archive-key.asc").display()
    );
    let db = format!("sqlite:{}", dir.path().join("opm.db").display());
    let conf = dir.path().join("opm.conf").display().to_string();
    let root_text = root.display().to_string();
    let head = |args: &[&str]| {
        let mut all = vec![
            "--db",
            &db,
            "--conf",
            &conf,
            "--root",
            &root_text,
            "--backend",
            backend,
            "--repo",
            &signed,
        ];
        all.extend_from_slice(args);
        opm(dir.path(), &home, &all)
    };
    for args in [
        &["init"][..],
        &["opkg", "import", MOTD],
        &["install", "motd"],
        &["cluster", "phase", "complete"],
        &["run"],
    ] {
        let out = head(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "opm {args:?}: {}",
            output_text(&out)
        );
    }
    let (config, checked) = if backend == "apt" {
        ("etc/apt/sources.list.d/opm.list", "deb [signed-by=")
    } else {
        (
            "var/lib/opm/yum.repos.d/opm.repo",
            "repo_gpgcheck=1\ngpgkey=file://",
        )
    };
    let config = std::fs::read_to_string(root.join(config)).unwrap();
    assert!(config.contains(checked), "{config}");
    assert!(!config.contains("trusted=yes"), "{config}");
    let installed = head(&["--json", "status"]);
    let rows: serde_json::Value = serde_json::from_slice(&installed.stdout).unwrap();
    assert_eq!(rows[0]["current"], "finished", "{rows}");
    assert!(
        root.join("usr/lib/oscar/packages/motd").is_dir(),
        "motd's package dir is not in {}",
        root.display()
    );
}
