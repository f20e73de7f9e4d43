//! The writers' output read back and installed by the real tools: dpkg-deb
//! and dpkg for `.deb`, rpm for `.rpm`, into sandbox roots (never `/`).

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
// Tests may unwrap (house rule); clippy counts the helpers as non-test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use opm_opkg::pack::{Entry, PackageSpec, write_deb, write_rpm};
use opm_opkg::{Rel, Relation, Version};
use opm_testkit::sandbox;
use opm_testkit::tools::{have_tool, stdout_of};

fn run(program: &str, args: &[&str]) -> String {
    stdout_of(Command::new(program).args(args))
}

fn relation(name: &str, constraint: Option<(Rel, &str)>) -> Relation {
    Relation {
        name: name.to_owned(),
        constraint: constraint.map(|(rel, version)| (rel, version.to_owned())),
    }
}

fn spec() -> PackageSpec {
    let long_dir = format!("/usr/share/doc/opkg-beta/{}", "d".repeat(120));
    PackageSpec {
        name: "opkg-beta".into(),
        version: Version::parse("1:2.5-3").unwrap(),
        arch: None,
        summary: "Beta, server part".into(),
        description: "Beta for tests.\n\nSecond paragraph.".into(),
        maintainer: "Tester <t@example.org>".into(),
        license: "GPL".into(),
        group: "Application/System".into(),
        homepage: None,
        rpm_requires: vec![],
        depends: vec![
            relation("opkg-alpha", Some((Rel::GreaterOrEqual, "1.0"))),
            relation("old", Some((Rel::Less, "2"))),
            relation("plain", None),
        ],
        conflicts: vec![relation("opkg-gamma", None)],
        provides: vec![relation("beta-thing", None)],
        files: vec![
            Entry::dir("/usr/lib/oscar/packages/beta"),
            Entry::file(
                "/usr/lib/oscar/packages/beta/config.xml",
                0o644,
                "<opkg/>\n",
            ),
            Entry::file(
                "/usr/lib/oscar/packages/beta/server-post-install",
                0o755,
                "#!/bin/sh\nexit 0\n",
            ),
            Entry::file(format!("{long_dir}/README"), 0o644, "long path\n"),
        ],
        changelog: vec![],
        mtime: 1_700_000_000,
    }
}

#[test]
fn dpkg_reads_and_installs_our_deb() {
    if !have_tool("dpkg-deb") || !have_tool("dpkg") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let deb = write_deb(&spec(), out.path()).unwrap();
    assert_eq!(deb.file_name().unwrap(), "opkg-beta_2.5-3_all.deb");
    let deb = deb.to_str().unwrap();

    let info = run("dpkg-deb", &["--info", deb]);
    assert!(info.contains(" Package: opkg-beta\n"), "{info}");
    assert!(info.contains(" Version: 1:2.5-3\n"), "{info}");
    assert!(info.contains(" Architecture: all\n"), "{info}");
    assert!(
        info.contains(" Depends: opkg-alpha (>= 1.0), old (<< 2), plain\n"),
        "{info}"
    );
    assert!(info.contains(" Conflicts: opkg-gamma\n"), "{info}");
    assert!(info.contains(" Provides: beta-thing\n"), "{info}");
    let fields = run("dpkg-deb", &["--field", deb, "Description"]);
    assert_eq!(
        fields,
        "Beta, server part\n Beta for tests.\n .\n Second paragraph.\n"
    );

    let contents = run("dpkg-deb", &["--contents", deb]);
    assert!(
        contents.contains(
            "drwxr-xr-x root/root         0 2023-11-14 22:13 ./usr/lib/oscar/packages/beta/\n"
        ),
        "{contents}"
    );
    assert!(contents.contains("-rwxr-xr-x root/root        17 2023-11-14 22:13 ./usr/lib/oscar/packages/beta/server-post-install\n"), "{contents}");
    assert!(contents.contains(&"d".repeat(120)), "{contents}");

    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    sandbox::dpkg_root(r).unwrap();
    let root_arg = format!("--root={}", r.display());
    let log_arg = format!("--log={}", r.join("var/log/dpkg.log").display());
    run(
        "dpkg",
        &[
            &root_arg,
            &log_arg,
            "--force-script-chrootless",
            "--force-depends",
            "-i",
            deb,
        ],
    );
    let status = run(
        "dpkg-query",
        &[
            &root_arg,
            "-W",
            "-f=${Version} ${db:Status-Status}\n",
            "opkg-beta",
        ],
    );
    assert_eq!(status, "1:2.5-3 installed\n");
    let script = r.join("usr/lib/oscar/packages/beta/server-post-install");
    let mode = std::fs::metadata(&script).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o755
    );
    // md5sums shipped in control.tar: dpkg can verify what it installed.
    run("dpkg", &[&root_arg, "--verify", "opkg-beta"]);
    run(
        "dpkg",
        &[
            &root_arg,
            &log_arg,
            "--force-script-chrootless",
            "-P",
            "opkg-beta",
        ],
    );
    assert!(!script.exists());
}

#[test]
fn rpm_reads_and_installs_our_rpm() {
    if !have_tool("rpm") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let path = write_rpm(&spec(), out.path()).unwrap();
    assert_eq!(path.file_name().unwrap(), "opkg-beta-2.5-3.noarch.rpm");
    let rpm = path.to_str().unwrap();
    let db = tempfile::tempdir().unwrap();
    let dbpath = db.path().to_str().unwrap();

    let info = run("rpm", &["--dbpath", dbpath, "-qip", rpm]);
    assert!(info.contains("Name        : opkg-beta\n"), "{info}");
    assert!(info.contains("Epoch       : 1\n"), "{info}");
    assert!(info.contains("Version     : 2.5\n"), "{info}");
    assert!(info.contains("Release     : 3\n"), "{info}");
    assert!(info.contains("Architecture: noarch\n"), "{info}");
    assert!(info.contains("Summary     : Beta, server part\n"), "{info}");
    let requires = run("rpm", &["--dbpath", dbpath, "-qp", "--requires", rpm]);
    for expected in ["opkg-alpha >= 1.0\n", "old < 2\n", "plain\n"] {
        assert!(requires.contains(expected), "{requires}");
    }
    let conflicts = run("rpm", &["--dbpath", dbpath, "-qp", "--conflicts", rpm]);
    assert_eq!(conflicts, "opkg-gamma\n");
    let provides = run("rpm", &["--dbpath", dbpath, "-qp", "--provides", rpm]);
    assert!(provides.contains("beta-thing\n"), "{provides}");
    let files = run("rpm", &["--dbpath", dbpath, "-qlvp", rpm]);
    assert!(
        files.lines().any(|l| l.starts_with("-rwxr-xr-x")
            && l.ends_with("/usr/lib/oscar/packages/beta/server-post-install")),
        "{files}"
    );
    assert!(
        files
            .lines()
            .any(|l| l.starts_with("drwxr-xr-x") && l.ends_with("/usr/lib/oscar/packages/beta")),
        "{files}"
    );

    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    run(
        "rpm",
        &["--root", r, "--dbpath", "/var/lib/rpm", "--initdb"],
    );
    let mut install = vec![
        "--root",
        r,
        "--dbpath",
        "/var/lib/rpm",
        "--nodeps",
        "--noscripts",
    ];
    if run("rpm", &["--help"]).contains("--force-debian") {
        install.push("--force-debian");
    }
    install.extend(["-i", rpm]);
    run("rpm", &install);
    let query = run(
        "rpm",
        &[
            "--root",
            r,
            "--dbpath",
            "/var/lib/rpm",
            "-q",
            "--qf",
            "%{EPOCH}:%{VERSION}-%{RELEASE}",
            "opkg-beta",
        ],
    );
    assert_eq!(query, "1:2.5-3");
    run(
        "rpm",
        &[
            "--root",
            r,
            "--dbpath",
            "/var/lib/rpm",
            "--nodeps",
            "-V",
            "opkg-beta",
        ],
    );
    assert!(
        Path::new(r)
            .join("usr/lib/oscar/packages/beta/config.xml")
            .is_file()
    );
}
