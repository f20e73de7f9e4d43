//! The five real OSCAR opkgs of `../shared/corpus/real-opkgs` (c3, nfs,
//! torque, sge, ganglia), read in place and never copied into this
//! repository (they are third-party files): each checks, packs as deb and
//! rpm, and every part of all five, with our example opkgs, installs into one
//! dpkg root and one rpm root and stays registered there (issue 17).

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
// Tests may unwrap (house rule); clippy counts the helpers as non-test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use opm_opkg::pack::{
    Content, PackageSpec, SourceFiles, Target, deb_bytes, opkg_specs, review, rpm_bytes, write_deb,
    write_rpm,
};
use opm_opkg::{Dist, Opkg, Severity};
use opm_testkit::sandbox;
use opm_testkit::shared::shared_dir;
use opm_testkit::tools::{have_tool, stdout_of};

const REAL: [&str; 5] = ["c3", "nfs", "torque", "sge", "ganglia"];

/// The real opkg sources, or `None` (said loudly) when `../shared` is absent.
/// `OPM_SHARED` names the shared directory for a checkout that does not sit
/// beside it (a git worktree elsewhere).
fn real() -> Option<Vec<PathBuf>> {
    let shared = shared_dir();
    let dir = shared.join("corpus/real-opkgs");
    if !dir.is_dir() {
        eprintln!(
            "SKIPPED: ../shared not present: the real OSCAR opkgs are read in place from {}, \
             which this checkout lacks",
            dir.display()
        );
        return None;
    }
    Some(REAL.iter().map(|name| dir.join(name)).collect())
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/opkgs");
    let mut list: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("config.xml").is_file())
        .collect();
    list.sort();
    list
}

fn target(dist: &str, arch: &str) -> Target {
    Target {
        dist: Some(Dist::parse(dist)),
        arch: Some(arch.to_owned()),
        mtime: 1_700_000_000,
    }
}

fn specs(dir: &Path, target: &Target) -> Vec<PackageSpec> {
    let opkg = Opkg::from_path(dir).unwrap().opkg;
    let files = SourceFiles::read(dir).unwrap();
    opkg_specs(&opkg, &files, target).unwrap()
}

fn paths(spec: &PackageSpec) -> Vec<&str> {
    spec.files.iter().map(|entry| entry.path.as_str()).collect()
}

#[test]
fn every_real_opkg_checks_and_packs_as_deb_and_rpm() {
    let Some(real) = real() else { return };
    for dir in &real {
        let opkg = Opkg::from_path(dir).unwrap().opkg;
        let files = SourceFiles::read(dir).unwrap();
        let errors: Vec<_> = review(&opkg, &files)
            .into_iter()
            .filter(|finding| finding.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", dir.display());
        for spec in opkg_specs(&opkg, &files, &target("debian", "amd64")).unwrap() {
            deb_bytes(&spec).unwrap();
        }
        for spec in opkg_specs(&opkg, &files, &target("rhel-9", "x86_64")).unwrap() {
            rpm_bytes(&spec).unwrap();
        }
    }
}

#[test]
fn ganglia_ships_every_top_level_config_file() {
    let Some(real) = real() else { return };
    let ganglia = real.iter().find(|dir| dir.ends_with("ganglia")).unwrap();
    let api = &specs(ganglia, &target("debian", "amd64"))[0];
    let image = api
        .files
        .iter()
        .find(|entry| entry.path == "/usr/lib/oscar/packages/ganglia/configurator_image.html")
        .expect("configurator_image.html is packaged: ganglia's api-post-image reads it");
    assert_eq!(image.mode, 0o644);
    assert!(paths(api).contains(&"/usr/lib/oscar/packages/ganglia/configurator.html"));
}

#[test]
fn testing_is_laid_out_as_opkgc_lays_it_out() {
    let Some(real) = real() else { return };
    let torque = real.iter().find(|dir| dir.ends_with("torque")).unwrap();
    let api = &specs(torque, &target("debian", "amd64"))[0];
    let testing: Vec<&str> = paths(api)
        .into_iter()
        .filter(|path| path.starts_with("/usr/lib/oscar/testing/"))
        .collect();
    assert!(testing.contains(&"/usr/lib/oscar/testing/apitests.d/torque_validate.apb"));
    assert!(testing.contains(&"/usr/lib/oscar/testing/data/torque"));
    assert!(
        testing
            .iter()
            .all(|path| path.starts_with("/usr/lib/oscar/testing/apitests.d")
                || path.starts_with("/usr/lib/oscar/testing/tests.d")
                || path.starts_with("/usr/lib/oscar/testing/data/torque")),
        "{testing:?}"
    );
    let ganglia = real.iter().find(|dir| dir.ends_with("ganglia")).unwrap();
    let api = &specs(ganglia, &target("debian", "amd64"))[0];
    assert!(paths(api).contains(&"/usr/lib/oscar/testing/tests.d/check_ganglia_nodes.pl"));
}

#[test]
fn every_package_owns_a_copyright_file_and_a_changelog() {
    let Some(real) = real() else { return };
    for dir in real.iter().chain(&examples()) {
        for spec in specs(dir, &target("debian", "amd64")) {
            let copyright = format!("/usr/share/doc/{}/copyright", spec.name);
            let file = spec
                .files
                .iter()
                .find(|entry| entry.path == copyright)
                .unwrap_or_else(|| panic!("{} has no {copyright}", spec.name));
            let Content::File(text) = &file.content else {
                panic!("{copyright} is not a file")
            };
            let text = String::from_utf8_lossy(text);
            assert!(
                text.starts_with("Format: https://www.debian.org/"),
                "{text}"
            );
            assert!(text.contains("\nCopyright: "), "{text}");
            assert!(!spec.changelog.is_empty(), "{} has no changelog", spec.name);
        }
    }
}

/// An empty dpkg root (SANDBOX.md), the packages in `debs` installed one
/// `dpkg -i` at a time, in order.
fn dpkg_root(debs: &[PathBuf]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    sandbox::dpkg_root(r).unwrap();
    for deb in debs {
        // --force-depends: the opkgs depend on distro packages (c3, torque,
        // ganglia-monitor-core-gmond, ...) that an empty root lacks; what is
        // tested is dpkg's own bookkeeping of opm's packages.
        // --force-conflicts: sge conflicts with torque's server part, and
        // altqueue with jobqueue, on purpose; all of them go into one root.
        stdout_of(
            Command::new("dpkg")
                .arg(format!("--root={}", r.display()))
                .arg(format!("--log={}/var/log/dpkg.log", r.display()))
                .args([
                    "--force-script-chrootless",
                    "--force-depends",
                    "--force-conflicts",
                    "-i",
                ])
                .arg(deb),
        );
    }
    root
}

fn dpkg_status(root: &Path, package: &str) -> String {
    let out = Command::new("dpkg-query")
        .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
        .args(["-W", "-f=${db:Status-Abbrev}", package])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn every_part_of_every_opkg_stays_registered_in_one_dpkg_root() {
    let Some(real) = real() else { return };
    if !have_tool("dpkg") || !have_tool("dpkg-query") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mut debs = Vec::new();
    let mut names = Vec::new();
    for dir in examples().iter().chain(&real) {
        for spec in specs(dir, &target("debian", "amd64")) {
            names.push(spec.name.clone());
            debs.push(write_deb(&spec, out.path()).unwrap());
        }
    }
    // One at a time, as opm installs them, then nfs again (a retry): each
    // later unpack takes over directories the earlier packages own too.
    let nfs: Vec<PathBuf> = debs
        .iter()
        .filter(|deb| {
            deb.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("opkg-nfs")
        })
        .cloned()
        .collect();
    debs.extend(nfs);
    let root = dpkg_root(&debs);
    let lost: Vec<String> = names
        .iter()
        .map(|name| (name, dpkg_status(root.path(), name)))
        .filter(|(_, status)| status != "ii")
        .map(|(name, status)| format!("{name}: '{status}'"))
        .collect();
    assert!(lost.is_empty(), "dpkg lost or half-installed: {lost:?}");
    assert!(names.len() >= 33, "{} packages", names.len());
}

#[test]
fn every_part_of_every_real_opkg_installs_into_one_rpm_root() {
    let Some(real) = real() else { return };
    if !have_tool("rpm") {
        return;
    }
    let help = stdout_of(Command::new("rpm").arg("--help"));
    if !help.contains("--force-debian") {
        eprintln!("SKIPPED: this rpm is not Debian's (no --force-debian)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let mut rpms = Vec::new();
    let mut names = Vec::new();
    for dir in &real {
        for spec in specs(dir, &target("rhel-9", "x86_64")) {
            names.push(spec.name.clone());
            rpms.push(write_rpm(&spec, out.path()).unwrap());
        }
    }
    let root = tempfile::tempdir().unwrap();
    let base = |command: &mut Command| {
        command
            .arg("--root")
            .arg(root.path())
            .args(["--dbpath", "/var/lib/rpm"]);
    };
    let mut init = Command::new("rpm");
    base(&mut init);
    stdout_of(init.arg("--initdb"));
    // --nodeps: the distro packages they require are absent, and sge
    // conflicts with torque's server part on purpose.
    let mut install = Command::new("rpm");
    base(&mut install);
    stdout_of(
        install
            .args(["--force-debian", "--nodeps", "--noscripts", "-ivh"])
            .args(&rpms),
    );
    for name in &names {
        let mut query = Command::new("rpm");
        base(&mut query);
        stdout_of(query.args(["-q", name]));
    }
    let mut server = Command::new("rpm");
    base(&mut server);
    let requires = stdout_of(server.args(["-q", "--requires", "opkg-c3-server"]));
    assert!(requires.contains("opkg-c3 = 4.1.9-1"), "{requires}");
}

#[test]
fn x86_64_blocks_apply_under_amd64_in_a_sis_style_opkg() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sis-style");
    let boot = [
        "systemimager-x86_64boot-standard",
        "systemimager-x86_64initrd-template",
    ];
    for arch in ["amd64", "x86_64"] {
        let server = &specs(&fixture, &target("debian", arch))[1];
        let names: Vec<&str> = server.depends.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [&["systemimager-server"][..], &boot].concat(),
            "--arch {arch}"
        );
        assert_eq!(opm_opkg::pack::deb_arch(server.arch.as_deref()), "amd64");
    }
    let server = &specs(&fixture, &target("debian", "i686"))[1];
    let names: Vec<&str> = server.depends.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["systemimager-server", "systemimager-i386boot-standard"]
    );
}
