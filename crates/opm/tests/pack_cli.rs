//! `opm pack` and `opm repo index` end to end, through the real binary: our
//! example opkgs become packages the real tools read, repositories get
//! their indexes, and every kind of bad input exits 2 leaving nothing behind.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command as Tool;

use assert_cmd::Command;
use opm_testkit::tools::have_tool;
use tempfile::TempDir;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A temp directory with an empty settings file, so neither
/// /etc/opm/opm.toml nor the caller's OPM_* environment changes the run.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("opm.toml"), "").unwrap();
        Sandbox { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn opm(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut command = Command::cargo_bin("opm").unwrap();
        for var in [
            "OPM_DB",
            "OPM_CONF",
            "OPM_ROOT",
            "OPM_REPO",
            "OPM_BACKEND",
            "SOURCE_DATE_EPOCH",
        ] {
            command.env_remove(var);
        }
        command
            .env("OPM_SETTINGS", self.path("opm.toml"))
            .envs(env.iter().copied())
            .current_dir(EXAMPLES)
            .args(args);
        let out = command.output().unwrap();
        Outcome {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn pack_deb_then_index_gives_a_flat_apt_repository() {
    let sandbox = Sandbox::new();
    let out = sandbox.path("repo");
    let out_text = out.to_str().unwrap();
    let pack = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "-o",
            out_text,
            "alpha",
            "beta/config.xml",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_eq!(pack.code, Some(0), "{}", pack.stderr);
    assert_eq!(pack.stdout.lines().count(), 6, "{}", pack.stdout);
    assert!(
        pack.stdout.contains("/opkg-beta-client_2.0-1_all.deb ("),
        "{}",
        pack.stdout
    );
    assert_eq!(
        listing(&out),
        [
            "opkg-alpha-client_1.2-1_all.deb",
            "opkg-alpha-server_1.2-1_all.deb",
            "opkg-alpha_1.2-1_all.deb",
            "opkg-beta-client_2.0-1_all.deb",
            "opkg-beta-server_2.0-1_all.deb",
            "opkg-beta_2.0-1_all.deb",
        ]
    );
    let index = sandbox.opm(&["repo", "index", out_text], &[]);
    assert_eq!(index.code, Some(0), "{}", index.stderr);
    assert!(
        index
            .stdout
            .ends_with(&format!("indexed 6 .deb and 0 .rpm in {out_text}\n")),
        "{}",
        index.stdout
    );
    let packages = std::fs::read_to_string(out.join("Packages")).unwrap();
    assert_eq!(packages.matches("Package: ").count(), 6);
    assert!(
        packages.contains("Package: opkg-beta-server\nVersion: 2.0-1\nArchitecture: all\n"),
        "{packages}"
    );
    assert!(
        packages.contains("Depends: opkg-alpha-server (>= 1.0)\n"),
        "{packages}"
    );
    assert!(out.join("Packages.gz").is_file() && out.join("Release").is_file());
    if have_tool("dpkg-deb") {
        let info = Tool::new("dpkg-deb")
            .arg("--field")
            .arg(out.join("opkg-beta-server_2.0-1_all.deb"))
            .arg("Description")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(info.stdout).unwrap(),
            "Example opkg beta: depends on alpha (>= 1.0), server part\n \
             Beta's api, server and client packages each require the matching\n \
             package of alpha, version 1.0 or later; its scripts record how they\n \
             were run into the file named by OPM_TEST_RECORD.\n .\n \
             This is the server part of the OSCAR package beta: what its head node needs,\n \
             with the scripts opm runs there.\n"
        );
    }
}

#[test]
fn the_same_source_date_gives_the_same_bytes() {
    let sandbox = Sandbox::new();
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    for dir in ["one", "two"] {
        let out = sandbox.path(dir);
        let outcome = sandbox.opm(
            &[
                "pack",
                "--format",
                "rpm",
                "-o",
                out.to_str().unwrap(),
                "alpha",
            ],
            &env,
        );
        assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    }
    for name in listing(&sandbox.path("one")) {
        let one = std::fs::read(sandbox.path("one").join(&name)).unwrap();
        let two = std::fs::read(sandbox.path("two").join(&name)).unwrap();
        assert!(one == two, "{name} differs between two builds");
    }
}

#[test]
fn pack_rpm_then_index_writes_repodata() {
    let sandbox = Sandbox::new();
    let out = sandbox.path("repo");
    let out_text = out.to_str().unwrap();
    let pack = sandbox.opm(
        &[
            "--json", "pack", "--format", "rpm", "--dist", "rhel-9", "-o", out_text, "alpha",
            "beta",
        ],
        &[],
    );
    assert_eq!(pack.code, Some(0), "{}", pack.stderr);
    let built: serde_json::Value = serde_json::from_str(&pack.stdout).unwrap();
    let packages: Vec<&str> = built
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["package"].as_str().unwrap())
        .collect();
    assert_eq!(
        packages,
        [
            "opkg-alpha",
            "opkg-alpha-server",
            "opkg-alpha-client",
            "opkg-beta",
            "opkg-beta-server",
            "opkg-beta-client"
        ]
    );
    assert_eq!(built[0]["format"], "rpm");
    assert!(out.join("opkg-beta-2.0-1.noarch.rpm").is_file());
    if !have_tool("createrepo_c") {
        let index = sandbox.opm(&["repo", "index", out_text], &[]);
        assert_eq!(index.code, Some(1));
        assert!(
            index.stderr.contains("need createrepo_c"),
            "{}",
            index.stderr
        );
        return;
    }
    let index = sandbox.opm(&["repo", "index", out_text], &[]);
    assert_eq!(index.code, Some(0), "{}", index.stderr);
    assert!(out.join("repodata/repomd.xml").is_file());
    assert!(
        !out.join("Packages").exists(),
        "no apt index without .deb files"
    );
}

#[test]
fn a_bad_source_among_good_ones_writes_nothing() {
    let sandbox = Sandbox::new();
    let broken = sandbox.path("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("config.xml"), "<oscar><name>x</name>").unwrap();
    let out = sandbox.path("out");
    let outcome = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "-o",
            out.to_str().unwrap(),
            "alpha",
            broken.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome
            .stderr
            .contains("is not a usable opkg source; nothing was written"),
        "{}",
        outcome.stderr
    );
    assert!(!out.exists(), "the output directory was not even created");

    let missing = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "-o",
            out.to_str().unwrap(),
            "no-such-opkg",
        ],
        &[],
    );
    assert_eq!(missing.code, Some(2));
    assert!(
        missing
            .stderr
            .starts_with("error: cannot read no-such-opkg"),
        "{}",
        missing.stderr
    );
    assert!(!out.exists());
}

#[test]
fn bad_flags_and_environment_exit_2() {
    let sandbox = Sandbox::new();
    let file = sandbox.path("opm.toml");
    let outcome = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "-o",
            file.to_str().unwrap(),
            "alpha",
        ],
        &[],
    );
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome
            .stderr
            .contains("not a directory; name a directory for the packages"),
        "{}",
        outcome.stderr
    );

    let out = sandbox.path("out");
    let outcome = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "-o",
            out.to_str().unwrap(),
            "alpha",
        ],
        &[("SOURCE_DATE_EPOCH", "soon")],
    );
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome
            .stderr
            .contains("SOURCE_DATE_EPOCH='soon' is not a number"),
        "{}",
        outcome.stderr
    );

    let outcome = sandbox.opm(
        &[
            "pack",
            "--format",
            "zip",
            "-o",
            out.to_str().unwrap(),
            "alpha",
        ],
        &[],
    );
    assert_eq!(outcome.code, Some(2));
    let outcome = sandbox.opm(&["pack", "--format", "deb", "alpha"], &[]);
    assert_eq!(outcome.code, Some(2), "-o is required");
    assert!(!out.exists());
}

#[test]
fn filters_that_exclude_the_target_exit_2() {
    let sandbox = Sandbox::new();
    let source = sandbox.path("gamma");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(
        source.join("config.xml"),
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>gamma</name>
  <summary>Filtered</summary>
  <license>GPL</license>
  <group>Application/System</group>
  <authors><author cat="maintainer"><name>A</name><email>a@example.org</email></author></authors>
  <filters><arch>x86_64</arch></filters>
  <changelog>
    <versionEntry version="1.0-1">
      <changelogEntry authorName="A" date="2026-11-24T12:00:00Z"><item>x</item></changelogEntry>
    </versionEntry>
  </changelog>
</oscar>
"#,
    )
    .unwrap();
    let out = sandbox.path("out");
    let outcome = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "--arch",
            "i386",
            "-o",
            out.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome
            .stderr
            .contains("opkg gamma is not built for dist (none), arch i386"),
        "{}",
        outcome.stderr
    );
    let outcome = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "--arch",
            "x86_64",
            "-o",
            out.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(
        listing(&out),
        [
            "opkg-gamma-client_1.0-1_amd64.deb",
            "opkg-gamma-server_1.0-1_amd64.deb",
            "opkg-gamma_1.0-1_amd64.deb"
        ]
    );
}

#[test]
fn repo_index_refuses_what_it_cannot_index() {
    let sandbox = Sandbox::new();
    let empty = sandbox.path("empty");
    std::fs::create_dir(&empty).unwrap();
    let outcome = sandbox.opm(&["repo", "index", empty.to_str().unwrap()], &[]);
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome
            .stderr
            .contains("holds no .deb or .rpm files; build some with opm pack"),
        "{}",
        outcome.stderr
    );

    let outcome = sandbox.opm(
        &["repo", "index", sandbox.path("nowhere").to_str().unwrap()],
        &[],
    );
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome.stderr.contains("not a directory"),
        "{}",
        outcome.stderr
    );

    std::fs::write(empty.join("junk.deb"), "not a package").unwrap();
    let outcome = sandbox.opm(&["repo", "index", empty.to_str().unwrap()], &[]);
    assert_eq!(outcome.code, Some(2));
    assert!(
        outcome
            .stderr
            .contains("junk.deb: not a usable package: not an ar archive"),
        "{}",
        outcome.stderr
    );
    assert!(!empty.join("Packages").exists(), "nothing written");
}

#[test]
fn the_backend_picks_the_format_when_none_is_given() {
    let sandbox = Sandbox::new();
    let out = sandbox.path("out");
    let outcome = sandbox.opm(
        &["pack", "-o", out.to_str().unwrap(), "alpha"],
        &[("OPM_BACKEND", "dnf")],
    );
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert_eq!(
        listing(&out),
        [
            "opkg-alpha-1.2-1.noarch.rpm",
            "opkg-alpha-client-1.2-1.noarch.rpm",
            "opkg-alpha-server-1.2-1.noarch.rpm"
        ]
    );
}

/// A copy of the example alpha in the sandbox, to add hostile files to.
fn alpha_copy(sandbox: &Sandbox) -> PathBuf {
    let dest = sandbox.path("alpha");
    let copied = Tool::new("cp")
        .arg("-r")
        .arg(Path::new(EXAMPLES).join("alpha"))
        .arg(&dest)
        .status()
        .unwrap();
    assert!(copied.success());
    dest
}

#[test]
fn a_link_out_of_the_source_is_refused_by_pack_and_check() {
    let sandbox = Sandbox::new();
    let source = alpha_copy(&sandbox);
    let secret = sandbox.path("secret");
    std::fs::write(&secret, "root:hash\n").unwrap();
    std::os::unix::fs::symlink(&secret, source.join("doc/notes")).unwrap();
    let out = sandbox.path("out");
    let source_arg = source.to_str().unwrap();
    let packed = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "-o",
            out.to_str().unwrap(),
            source_arg,
        ],
        &[],
    );
    assert_eq!(packed.code, Some(2), "{}", packed.stderr);
    assert!(
        packed.stderr.contains("doc/notes: a symbolic link to ")
            && packed.stderr.contains("/secret, outside the opkg source"),
        "{}",
        packed.stderr
    );
    assert!(!out.exists(), "nothing written");
    let checked = sandbox.opm(&["opkg", "check", source_arg], &[]);
    assert_eq!(checked.code, Some(2), "{}", checked.stdout);
    assert!(
        checked.stdout.contains("doc/notes: a symbolic link to "),
        "{}",
        checked.stdout
    );
    assert!(checked.stdout.contains(": invalid ("), "{}", checked.stdout);

    // A link inside the source is kept as a link, and check says so.
    std::fs::remove_file(source.join("doc/notes")).unwrap();
    std::os::unix::fs::symlink("README", source.join("doc/notes")).unwrap();
    let checked = sandbox.opm(&["opkg", "check", source_arg], &[]);
    assert_eq!(checked.code, Some(0), "{}", checked.stdout);
    assert!(
        checked
            .stdout
            .contains("doc/notes: a symbolic link to README inside the source; packed as a link"),
        "{}",
        checked.stdout
    );
    let packed = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "-o",
            out.to_str().unwrap(),
            source_arg,
        ],
        &[],
    );
    assert_eq!(packed.code, Some(0), "{}", packed.stderr);
}

#[test]
fn pack_deb_names_a_dependency_no_deb_can_satisfy() {
    let sandbox = Sandbox::new();
    let source = alpha_copy(&sandbox);
    let config = std::fs::read_to_string(source.join("config.xml")).unwrap();
    let at = config.find("<changelog>").unwrap();
    let config = format!(
        "{}<serverDeps><requires><pkg>slurm-pam_slurm</pkg></requires></serverDeps>\n{}",
        &config[..at],
        &config[at..]
    );
    std::fs::write(source.join("config.xml"), config).unwrap();
    let out = sandbox.path("out");
    let packed = sandbox.opm(
        &[
            "pack",
            "--format",
            "deb",
            "-o",
            out.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(packed.code, Some(0), "{}", packed.stderr);
    assert!(
        packed.stderr.contains(
            "warning: package opkg-alpha-server: dependency 'slurm-pam_slurm' is not a valid Debian package name"
        ),
        "{}",
        packed.stderr
    );
    let rpm = sandbox.opm(
        &[
            "pack",
            "--format",
            "rpm",
            "-o",
            out.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(rpm.code, Some(0), "{}", rpm.stderr);
    assert!(
        !rpm.stderr.contains("slurm-pam_slurm"),
        "rpm names may hold '_': {}",
        rpm.stderr
    );
}
