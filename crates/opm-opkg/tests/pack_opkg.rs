//! Opkg sources to native packages: our example opkgs (`examples/opkgs`)
//! become three .deb and three .rpm each, with the right files, modes,
//! summaries and per-part dependencies, and install (dependencies resolved
//! by apt) into a sandbox root. The corpus packs too.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
// Tests may unwrap (house rule); clippy counts the helpers as non-test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use opm_opkg::pack::{
    Content, PackError, PackageSpec, SourceFiles, Target, deb_relation, opkg_specs, rpm_relation,
    write_apt_index, write_deb, write_rpm,
};
use opm_opkg::{Dist, Opkg};
use opm_testkit::sandbox;
use opm_testkit::tools::{have_tool, stdout_of};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/opkgs")
}

fn target(dist: Option<&str>, arch: Option<&str>) -> Target {
    Target {
        dist: dist.map(Dist::parse),
        arch: arch.map(str::to_owned),
        mtime: 1_700_000_000,
    }
}

fn specs_of(dir: &Path, target: &Target) -> Result<Vec<PackageSpec>, PackError> {
    let loaded = Opkg::from_path(dir).unwrap();
    let files = SourceFiles::read(dir)?;
    opkg_specs(&loaded.opkg, &files, target)
}

fn paths(spec: &PackageSpec) -> Vec<(String, u32, bool)> {
    let mut list: Vec<_> = spec
        .files
        .iter()
        .map(|e| (e.path.clone(), e.mode, matches!(e.content, Content::Dir)))
        .collect();
    list.sort();
    list
}

#[test]
fn example_sources_are_valid_against_the_xsd() {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/opkg.xsd");
    if !xsd.is_file() {
        eprintln!("SKIPPED: ../shared not present");
        return;
    }
    if !have_tool("xmllint") {
        return;
    }
    for name in ["alpha", "beta"] {
        let config = examples().join(name).join("config.xml");
        stdout_of(
            Command::new("xmllint")
                .arg("--noout")
                .arg("--schema")
                .arg(&xsd)
                .arg(&config),
        );
    }
}

#[test]
fn alpha_splits_into_api_server_and_client() {
    let specs = specs_of(&examples().join("alpha"), &target(None, None)).unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["opkg-alpha", "opkg-alpha-server", "opkg-alpha-client"]
    );
    let [api, server, client] = &specs[..] else {
        unreachable!()
    };
    assert_eq!(
        api.summary,
        "Example opkg alpha: every hook, no dependencies"
    );
    assert_eq!(server.summary, format!("{}, server part", api.summary));
    assert_eq!(client.summary, format!("{}, client part", api.summary));
    assert_eq!(api.version.to_string(), "1.2-1");
    assert_eq!(api.maintainer, "opm developers <opm@example.invalid>");
    assert!(specs.iter().all(|s| s.arch.is_none()));

    let home = "/usr/lib/oscar/packages/alpha";
    let api_paths = paths(api);
    assert!(api_paths.contains(&(home.to_owned(), 0o755, true)));
    assert!(api_paths.contains(&(format!("{home}/config.xml"), 0o644, false)));
    assert!(api_paths.contains(&(format!("{home}/api-post-image"), 0o755, false)));
    assert!(api_paths.contains(&("/usr/share/doc/opkg-alpha/README".to_owned(), 0o644, false)));
    assert!(api_paths.contains(&(
        "/usr/lib/oscar/testing/tests.d/test_alpha.sh".to_owned(),
        0o755,
        false
    )));
    assert!(
        !api_paths
            .iter()
            .any(|(p, _, _)| p.contains("/server-") || p.contains("/client-"))
    );
    let server_files: Vec<String> = paths(server).into_iter().map(|(p, _, _)| p).collect();
    assert_eq!(
        server_files,
        [
            home.to_owned(),
            format!("{home}/server-post-install"),
            format!("{home}/server-post-uninstall"),
            format!("{home}/server-pre-uninstall"),
            "/usr/share/doc/opkg-alpha-server".to_owned(),
            "/usr/share/doc/opkg-alpha-server/copyright".to_owned(),
        ]
    );
    let client_files: Vec<String> = paths(client).into_iter().map(|(p, _, _)| p).collect();
    assert_eq!(
        client_files,
        [
            home.to_owned(),
            format!("{home}/client-post-install"),
            format!("{home}/client-post-uninstall"),
            format!("{home}/client-pre-uninstall"),
            "/usr/share/doc/opkg-alpha-client".to_owned(),
            "/usr/share/doc/opkg-alpha-client/copyright".to_owned(),
        ]
    );
}

#[test]
fn beta_requires_the_same_part_of_alpha_in_each_format() {
    let specs = specs_of(
        &examples().join("beta"),
        &target(Some("debian"), Some("x86_64")),
    )
    .unwrap();
    let deb: Vec<Vec<String>> = specs
        .iter()
        .map(|s| s.depends.iter().map(deb_relation).collect())
        .collect();
    assert_eq!(
        deb,
        [
            vec!["opkg-alpha (>= 1.0)"],
            vec!["opkg-alpha-server (>= 1.0)"],
            vec!["opkg-alpha-client (>= 1.0)"]
        ]
    );
    let rpm: Vec<String> = specs.iter().map(|s| rpm_relation(&s.depends[0])).collect();
    assert_eq!(
        rpm,
        [
            "opkg-alpha >= 1.0",
            "opkg-alpha-server >= 1.0",
            "opkg-alpha-client >= 1.0"
        ]
    );
}

const FILTERED: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>gamma</name>
  <summary>Filtered</summary>
  <license>GPL</license>
  <group>Application/System</group>
  <authors><author cat="maintainer"><name>A</name><email>a@example.org</email></author></authors>
  <filters><dist>debian</dist></filters>
  <clientDeps>
    <requires><filters><arch>x86_64</arch></filters><pkg>only-on-x86</pkg></requires>
  </clientDeps>
  <changelog>
    <versionEntry version="1.0-1">
      <changelogEntry authorName="A" date="2026-11-24T12:00:00Z"><item>x</item></changelogEntry>
    </versionEntry>
  </changelog>
</oscar>
"#;

#[test]
fn filters_pick_availability_and_make_parts_arch_specific() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.xml"), FILTERED).unwrap();

    let error = specs_of(dir.path(), &target(Some("rhel-9"), Some("x86_64"))).unwrap_err();
    assert_eq!(
        error.to_string(),
        "opkg gamma is not built for dist rhel-9, arch x86_64: its <filters> exclude that; \
         pass a --dist/--arch its filters list"
    );
    let error = specs_of(dir.path(), &target(Some("debian"), None)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "package opkg-gamma-client depends on the architecture (its opkg has <arch> filters); pass --arch"
    );
    let specs = specs_of(dir.path(), &target(Some("debian"), Some("x86_64"))).unwrap();
    let arches: Vec<Option<&str>> = specs.iter().map(|s| s.arch.as_deref()).collect();
    assert_eq!(arches, [None, None, Some("x86_64")]);
    assert_eq!(specs[2].depends[0].name, "only-on-x86");
    let specs = specs_of(dir.path(), &target(Some("debian"), Some("i386"))).unwrap();
    assert!(specs[2].depends.is_empty());
}

#[test]
fn examples_install_with_apt_into_a_sandbox_root() {
    if !have_tool("apt-get") || !have_tool("dpkg") {
        return;
    }
    let repo = tempfile::tempdir().unwrap();
    let target = target(Some("debian"), Some("x86_64"));
    for name in ["alpha", "beta"] {
        for spec in specs_of(&examples().join(name), &target).unwrap() {
            write_deb(&spec, repo.path()).unwrap();
        }
    }
    write_apt_index(repo.path(), SystemTime::now()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let config = sandbox::apt_root(r, repo.path()).unwrap();
    let apt = |args: &[&str]| {
        stdout_of(
            Command::new("apt-get")
                .env("APT_CONFIG", &config)
                .args(args),
        )
    };
    apt(&["update"]);
    apt(&["install", "-y", "opkg-beta-client"]);
    let alpha = r.join("usr/lib/oscar/packages/alpha");
    assert!(
        alpha.join("client-post-install").is_file(),
        "alpha's client part came along"
    );
    assert!(
        !alpha.join("server-post-install").exists(),
        "but not its server part"
    );
    let mode =
        std::fs::metadata(r.join("usr/lib/oscar/packages/beta/client-post-install")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o755
    );

    // A packaged script runs and records how it was run.
    let record = r.join("record");
    stdout_of(
        Command::new(alpha.join("client-post-install"))
            .arg("one")
            .current_dir(&alpha)
            .env("OPM_TEST_RECORD", &record)
            .env("OPM_STAGE", "run-script-post-clients"),
    );
    let line = std::fs::read_to_string(&record).unwrap();
    assert!(
        line.starts_with("opkg=alpha\tscript=client-post-install\targs=one\t"),
        "{line}"
    );
    assert!(
        line.contains("\tOPM_STAGE=run-script-post-clients\t"),
        "{line}"
    );
}

#[test]
fn examples_write_as_rpm_with_per_part_requirements() {
    if !have_tool("rpm") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let target = target(Some("rhel-9"), Some("x86_64"));
    let mut written = Vec::new();
    for spec in specs_of(&examples().join("beta"), &target).unwrap() {
        written.push(write_rpm(&spec, out.path()).unwrap());
    }
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "opkg-beta-2.0-1.noarch.rpm",
            "opkg-beta-server-2.0-1.noarch.rpm",
            "opkg-beta-client-2.0-1.noarch.rpm"
        ]
    );
    let db = tempfile::tempdir().unwrap();
    let requires = stdout_of(
        Command::new("rpm")
            .args(["--dbpath", db.path().to_str().unwrap(), "-qp", "--requires"])
            .arg(&written[1]),
    );
    assert!(
        requires.contains("opkg-alpha-server >= 1.0\n"),
        "{requires}"
    );
    let summary = stdout_of(
        Command::new("rpm")
            .args([
                "--dbpath",
                db.path().to_str().unwrap(),
                "-qp",
                "--qf",
                "%{SUMMARY}",
            ])
            .arg(&written[2]),
    );
    assert_eq!(
        summary,
        "Example opkg beta: depends on alpha (>= 1.0), client part"
    );
}

#[test]
fn a_missing_config_is_an_io_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let error = SourceFiles::read(dir.path()).unwrap_err();
    assert!(error.to_string().contains("config.xml: "), "{error}");
}
