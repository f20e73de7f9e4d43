//! A head node in a temporary directory, driven through the real `opm`
//! binary with dpkg installing into a sandbox root: the harness of the
//! crash and resume tests (`engine_crash`, `step_resume`,
//! `unfinished_remove`), of `engine_cli` and of `engine_image`. Also the
//! opkg sources they pack, a run killed at a chosen moment, and the seeded
//! generator that picks those moments.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs and fixed fixtures; each test binary uses a part.
#![allow(clippy::unwrap_used, dead_code)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One machine that is both `server` and `head`, with its database,
/// sandbox root, package repository and (empty) settings file in `dir`.
pub struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// A fresh site: nothing packed, no database yet.
    pub fn new() -> Site {
        let site = Site {
            dir: tempfile::tempdir().unwrap(),
        };
        for dir in ["root", "repo"] {
            std::fs::create_dir_all(site.path(dir)).unwrap();
        }
        std::fs::write(site.path("opm.conf"), "server\nhead\n").unwrap();
        // Named, so a /etc/opm/opm.toml on the machine is never read.
        std::fs::write(site.path("opm.toml"), "").unwrap();
        site
    }

    /// The site's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `name` in the site's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `opm` with only `PATH` of the test's environment and this site's
    /// database, opm.conf, root, repository and settings. The binary is
    /// looked up when the test runs, so `CARGO_BIN_EXE_opm` can point a
    /// built test at another `opm` (an older one, to compare).
    pub fn command(&self) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("opm"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "OPM_DB",
                format!("sqlite:{}", self.path("db.sqlite").display()),
            )
            .env("OPM_CONF", self.path("opm.conf"))
            .env("OPM_ROOT", self.path("root"))
            .env("OPM_REPO", self.path("repo"))
            .env("OPM_BACKEND", "dpkg")
            .env("OPM_SETTINGS", self.path("opm.toml"));
        command
    }

    /// `opm ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "opm {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `opm --json ARGS`, which must succeed, read.
    pub fn json<T: serde::de::DeserializeOwned>(&self, args: &[&str]) -> T {
        let mut all = vec!["--json"];
        all.extend(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Packs the opkg `sources` as debs into the repository, creates the
    /// database, imports them, asks for `packages` and completes the phase:
    /// the next `opm run` has work.
    pub fn install(&self, sources: &[PathBuf], packages: &[&str]) {
        let sources: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
        let repo = self.path("repo").display().to_string();
        let mut pack = vec!["pack", "--format", "deb", "-o", &repo];
        pack.extend(sources.iter().map(String::as_str));
        self.ok(&pack);
        self.ok(&["init"]);
        let mut import = vec!["opkg", "import"];
        import.extend(sources.iter().map(String::as_str));
        self.ok(&import);
        let mut install = vec!["install"];
        install.extend(packages);
        self.ok(&install);
        self.ok(&["cluster", "phase", "complete"]);
    }

    /// `opm run` with its output dropped, started and left running.
    pub fn spawn_run(&self) -> Child {
        self.command()
            .arg("run")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `opm run` killed with SIGKILL once `delay` has passed: `None`, or
    /// its exit status when it ended before that.
    pub fn run_killed_after(&self, delay: Duration) -> Option<ExitStatus> {
        let mut child = self.spawn_run();
        let begun = Instant::now();
        while begun.elapsed() < delay {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        None
    }
}

/// Writes opkg `name`'s source into `dir`: a valid config.xml saying
/// `summary`, and each `(hook, body)` of `scripts` as an executable
/// `/bin/sh` script `scripts/<hook>`.
pub fn opkg_source(dir: &Path, name: &str, summary: &str, scripts: &[(&str, String)]) {
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(
        dir.join("config.xml"),
        format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>{name}</name>
  <summary>{summary}</summary>
  <license>GPL</license>
  <group>Application/System</group>
  <authors><author cat="maintainer"><name>opm</name><email>opm@example.invalid</email></author></authors>
  <changelog><versionEntry version="1.0-1"><changelogEntry authorName="opm" date="2026-11-24T12:00:00Z"><item>x</item></changelogEntry></versionEntry></changelog>
</oscar>
"#
        ),
    )
    .unwrap();
    for (hook, body) in scripts {
        script(&dir.join("scripts").join(hook), body);
    }
}

/// Writes `body` as an executable `/bin/sh` script at `path`.
pub fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A small deterministic generator (no clock, no OS randomness), so a
/// failing kill schedule can be run again.
pub fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}
