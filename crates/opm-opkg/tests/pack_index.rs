//! `write_apt_index` and `opm_native::createrepo` make repositories the
//! real apt and dnf resolve dependencies from, installing into sandbox
//! roots.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
// Tests may unwrap (house rule); clippy counts the helpers as non-test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use opm_opkg::pack::{Entry, PackageSpec, write_apt_index, write_deb, write_rpm};
use opm_opkg::{Rel, Relation, Version};
use opm_testkit::sandbox;
use opm_testkit::tools::{have_tool, stdout_of};

fn package(name: &str, version: &str, depends: Vec<Relation>) -> PackageSpec {
    PackageSpec {
        name: name.into(),
        version: Version::parse(version).unwrap(),
        arch: None,
        summary: format!("{name} for index tests"),
        description: "Made by pack_index.rs.".into(),
        maintainer: "Tester <t@example.org>".into(),
        license: "GPL".into(),
        group: "Application/System".into(),
        homepage: None,
        rpm_requires: vec![],
        depends,
        conflicts: vec![],
        provides: vec![],
        files: vec![Entry::file(
            format!("/usr/share/{name}/marker"),
            0o644,
            name.as_bytes().to_vec(),
        )],
        changelog: vec![],
        mtime: 1_700_000_000,
    }
}

fn pair() -> [PackageSpec; 2] {
    [
        package("opkg-alpha", "1.2-1", vec![]),
        package(
            "opkg-beta",
            "2.0-1",
            vec![Relation {
                name: "opkg-alpha".into(),
                constraint: Some((Rel::GreaterOrEqual, "1.0".into())),
            }],
        ),
    ]
}

#[test]
fn apt_installs_with_dependencies_from_our_flat_repo() {
    if !have_tool("apt-get") || !have_tool("dpkg") {
        return;
    }
    let repo = tempfile::tempdir().unwrap();
    for spec in pair() {
        write_deb(&spec, repo.path()).unwrap();
    }
    let index = write_apt_index(repo.path(), SystemTime::now()).unwrap();
    let names: Vec<&str> = index
        .packages
        .iter()
        .map(|(name, _, _)| name.as_str())
        .collect();
    assert_eq!(names, ["opkg-alpha", "opkg-beta"]);
    let packages = std::fs::read_to_string(repo.path().join("Packages")).unwrap();
    assert!(
        packages.contains("Filename: ./opkg-beta_2.0-1_all.deb\n"),
        "{packages}"
    );
    assert!(
        packages.contains("Depends: opkg-alpha (>= 1.0)\n"),
        "{packages}"
    );

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let config = sandbox::apt_root(r, repo.path()).unwrap();
    let apt = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.env("APT_CONFIG", &config).args(args);
        stdout_of(&mut command)
    };
    apt(&["update"]);
    apt(&["install", "-y", "--no-install-recommends", "opkg-beta"]);
    assert!(
        r.join("usr/share/opkg-alpha/marker").is_file(),
        "the dependency came along"
    );
    assert!(r.join("usr/share/opkg-beta/marker").is_file());
}

#[test]
fn dnf_installs_with_dependencies_from_createrepo_repodata() {
    if !have_tool("createrepo_c") || !have_tool("dnf") {
        return;
    }
    let repo = tempfile::tempdir().unwrap();
    for spec in pair() {
        write_rpm(&spec, repo.path()).unwrap();
    }
    let ran = opm_native::createrepo::run(repo.path()).unwrap();
    assert!(ran.success(), "{}", ran.combined());
    assert!(repo.path().join("repodata/repomd.xml").is_file());

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    stdout_of(Command::new("rpm").args([
        "--root",
        r.to_str().unwrap(),
        "--dbpath",
        "/var/lib/rpm",
        "--initdb",
    ]));
    stdout_of(Command::new("dnf").args([
        &format!("--installroot={}", r.display()),
        &format!("--repofrompath=opm,file://{}", repo.path().display()),
        "--repo=opm",
        "--setopt=opm.gpgcheck=0",
        "--setopt=reposdir=/nonexistent",
        "--setopt=cachedir=/var/cache/dnf",
        "--releasever=1",
        "--nodocs",
        "--assumeyes",
        "--quiet",
        "install",
        "opkg-beta",
    ]));
    assert!(
        Path::new(r).join("usr/share/opkg-alpha/marker").is_file(),
        "the dependency came along"
    );
    assert!(Path::new(r).join("usr/share/opkg-beta/marker").is_file());
}
