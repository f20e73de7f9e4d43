//! A cluster in a temp dir for the `cli_*` tests: opm.conf, an empty
//! settings file, a real SQLite database, opkg sources written on demand,
//! and `opm` run as a real process with every `OPM_*` variable cleared.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// What one `opm` run gave back.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A head node's view of a cluster.
pub struct Site {
    dir: TempDir,
}

impl Site {
    /// A site with opm.conf saying `server` / `head`, no database yet.
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("opm.toml"), "").unwrap();
        std::fs::write(dir.path().join("opm.conf"), "server\nhead\n").unwrap();
        Site { dir }
    }

    /// A site whose database is initialised.
    pub fn init() -> Site {
        let site = Site::new();
        site.ok(&["init"]);
        site
    }

    /// A path inside the site.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.path("opm.db")
    }

    /// Runs `opm` in the site directory against its database.
    pub fn opm(&self, args: &[&str]) -> Outcome {
        self.opm_db(&format!("sqlite:{}", self.db().display()), args)
    }

    /// The `opm` command for this site, not yet started (for a test that
    /// talks to a running process).
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("opm"));
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
        command
            .current_dir(self.dir.path())
            .arg("--db")
            .arg(format!("sqlite:{}", self.db().display()))
            .arg("--conf")
            .arg(self.path("opm.conf"))
            .arg("--settings")
            .arg(self.path("opm.toml"))
            .args(args);
        command
    }

    /// Runs `opm` in the site directory against the database URL `db`.
    pub fn opm_db(&self, db: &str, args: &[&str]) -> Outcome {
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
        command
            .current_dir(self.dir.path())
            .arg("--db")
            .arg(db)
            .arg("--conf")
            .arg(self.path("opm.conf"))
            .arg("--settings")
            .arg(self.path("opm.toml"))
            .args(args);
        let output = command.output().unwrap();
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Runs `opm`, asserts exit 0, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.opm(args);
        assert_eq!(
            out.code,
            Some(0),
            "opm {args:?}\n{}{}",
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// Runs `opm --json`, asserts exit 0, parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// The database's content as `sqlite3 .dump` prints it: equal before
    /// and after means nothing was changed, whether or not SQLite had
    /// checkpointed its write-ahead log in between; a file that is no
    /// database is compared by its bytes. `None` (after a loud
    /// SKIP line) when the sqlite3 program is missing; CI installs it.
    pub fn dump(&self) -> Option<String> {
        if !self.db().exists() {
            return Some(String::new());
        }
        match std::process::Command::new("sqlite3")
            .arg(self.db())
            .arg(".dump")
            .output()
        {
            Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).unwrap()),
            // Not a database at all: compare what the file holds.
            Ok(_) => Some(String::from_utf8_lossy(&std::fs::read(self.db()).unwrap()).into_owned()),
            Err(error) => {
                eprintln!("SKIPPED: the database comparison needs sqlite3 ({error})");
                None
            }
        }
    }

    /// Runs `opm`, asserts exit 2 with `needle` in the error and the
    /// database content unchanged; returns stderr.
    pub fn refused(&self, args: &[&str], needle: &str) -> String {
        let before = self.dump();
        let out = self.opm(args);
        assert_eq!(
            out.code,
            Some(2),
            "opm {args:?} should be refused\n{}{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.contains(needle),
            "opm {args:?}: expected {needle:?} in\n{}",
            out.stderr
        );
        if let (Some(before), Some(after)) = (before, self.dump()) {
            assert!(
                before == after,
                "opm {args:?} changed the database although it was refused"
            );
        }
        out.stderr
    }

    /// Writes an opkg source `name` (version 1.0-1) under `opkgs/`, with
    /// `relations` placed where config.xml keeps opkg-level relations;
    /// returns its directory relative to the site.
    pub fn opkg(&self, name: &str, relations: &str) -> String {
        let dir = self.path("opkgs").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.xml"), config_xml(name, relations)).unwrap();
        format!("opkgs/{name}")
    }

    /// Writes `text` into `file` of the opkg source `name`.
    pub fn opkg_file(&self, name: &str, file: &str, text: &str) {
        std::fs::write(self.path("opkgs").join(name).join(file), text).unwrap();
    }

    /// Replaces the site path in `text` by `[SITE]`, for snapshots.
    pub fn filter(&self, text: &str) -> String {
        let canonical = std::fs::canonicalize(self.dir.path()).unwrap();
        text.replace(&canonical.display().to_string(), "[SITE]")
            .replace(&self.dir.path().display().to_string(), "[SITE]")
    }

    /// The site directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A valid config.xml for opkg `name` with opkg-level `relations`.
pub fn config_xml(name: &str, relations: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>{name}</name>
  <summary>The {name} test opkg</summary>
  <license>GPL</license>
  <group>Application/System</group>
  <authors>
    <author cat="maintainer">
      <name>Max Maintainer</name>
      <email>max@example.org</email>
    </author>
  </authors>
{relations}
  <changelog>
    <versionEntry version="1.0-1">
      <changelogEntry authorName="Max Maintainer" date="2024-05-01T10:00:00">
        <item>Initial.</item>
      </changelogEntry>
    </versionEntry>
  </changelog>
</oscar>
"#
    )
}

/// `<requires>` naming `pkg`.
pub fn requires(pkg: &str) -> String {
    format!("  <requires>\n    <pkg>{pkg}</pkg>\n  </requires>")
}

/// `<conflicts>` naming `pkg`.
pub fn conflicts(pkg: &str) -> String {
    format!("  <conflicts>\n    <pkg>{pkg}</pkg>\n  </conflicts>")
}

/// `<provides>` naming `pkg`.
pub fn provides(pkg: &str) -> String {
    format!("  <provides>\n    <pkg>{pkg}</pkg>\n  </provides>")
}
