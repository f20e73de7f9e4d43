//! The audit trail end to end, with real `opm` processes: an action on
//! the database host is recorded with the Unix user (`SUDO_USER` under
//! sudo), one through `opm server` (`--remote`) with the admin token's
//! name; `opm history --audit --since` chooses by time, and a bad
//! `--since` is refused with exit 2 and nothing changed.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and its server as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use opm_testkit::{Server, TestContext};
use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");

/// A head node with a SQLite database and two example opkgs imported, and
/// (once started) its `opm server`.
struct Cluster {
    // Before `site`: the server is killed before its directory goes.
    server: Option<Server>,
    site: TestContext,
}

impl Cluster {
    fn new() -> Cluster {
        let site = TestContext::new(env!("CARGO_BIN_EXE_opm"));
        let examples = ["motd", "clusterfs"].map(|n| format!("{EXAMPLES}/{n}"));
        site.pack_and_import(&examples.each_ref().map(String::as_str));
        Cluster { server: None, site }
    }

    /// `opm` on the head node, on the database, run by nobody in
    /// particular (no `SUDO_USER`).
    fn local(&self) -> Command {
        self.site.command()
    }

    /// `opm` as an admin elsewhere, with `SUDO_USER` set that the server
    /// cannot see: only the server's URL and the admin token.
    fn remote(&self) -> Command {
        let server = self.server.as_ref().expect("the server is started");
        let mut command = self.site.remote_command(&server.url());
        command.env("SUDO_USER", "mallory");
        command
    }

    fn ok(&self, args: &[&str]) -> String {
        self.site.ok(args)
    }

    fn start_server(&mut self) {
        self.site.admin_token_file();
        self.server = Some(self.site.server(&[]));
    }

    /// `opm --json history --audit` with `extra`: (actor, action, subject)
    /// of each entry.
    fn audit(&self, extra: &[&str]) -> Vec<(String, String, String)> {
        let mut args = vec!["--json", "history", "--audit"];
        args.extend(extra);
        let out = self.ok(&args);
        let entries: Vec<Value> = serde_json::from_str(&out).unwrap();
        entries
            .iter()
            .map(|e| {
                let field = |name: &str| e[name].as_str().unwrap().to_owned();
                (field("actor"), field("action"), field("subject"))
            })
            .collect()
    }
}

/// `command ARGS`, which must succeed; its stdout.
fn run_ok(command: &mut Command, args: &[&str]) -> String {
    let output = command.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "opm {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn entry(actor: &str, action: &str, subject: &str) -> (String, String, String) {
    (actor.to_owned(), action.to_owned(), subject.to_owned())
}

#[test]
fn actions_are_recorded_with_the_unix_user_or_the_tokens_name() {
    let mut cluster = Cluster::new();
    assert_eq!(cluster.audit(&[]), vec![]);

    // Under sudo: the user who ran sudo. A dry run changes nothing and
    // is not recorded.
    run_ok(
        cluster
            .local()
            .env("SUDO_USER", "alice")
            .args(["install", "motd"]),
        &["install", "motd"],
    );
    cluster.ok(&["install", "--dry-run", "clusterfs"]);
    // Without sudo: the process's own user, whoever runs this test.
    cluster.ok(&["cluster", "phase", "complete"]);
    let me = user_name();

    // Through the server: the admin token's name, whatever SUDO_USER the
    // remote caller has.
    cluster.start_server();
    run_ok(
        cluster.remote().args(["install", "clusterfs"]),
        &["--remote", "install", "clusterfs"],
    );

    assert_eq!(
        cluster.audit(&[]),
        vec![
            entry("alice", "install", "motd"),
            entry(&me, "phase", "complete"),
            entry("admin", "install", "clusterfs"),
        ]
    );
    // The remote view is the same trail.
    let remote = run_ok(
        cluster.remote().args(["--json", "history", "--audit"]),
        &["--remote", "history", "--audit"],
    );
    let local = cluster.ok(&["--json", "history", "--audit"]);
    assert_eq!(remote, local);

    // --since chooses by time: everything is from the last hour, nothing
    // is from a day far ahead.
    assert_eq!(cluster.audit(&["--since", "1h"]).len(), 3);
    assert_eq!(cluster.audit(&["--since", "2999-01-01"]), vec![]);
    assert_eq!(cluster.audit(&["--since", "2000-01-01T00:00:00Z"]).len(), 3);
}

/// The name of this process's user, as `id -un` says it.
fn user_name() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn a_bad_since_is_refused_with_exit_2() {
    let cluster = Cluster::new();
    cluster.ok(&["install", "motd"]);
    for bad in ["yesterday", "2026-02-30", "1y", "-1h"] {
        let output = cluster
            .local()
            .args(["history", &format!("--since={bad}")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "--since {bad}: {stderr}");
        assert!(
            stderr.contains(&format!("bad time '{bad}'")) && stderr.contains("1h"),
            "--since {bad}: {stderr}"
        );
    }
    // Nothing changed: the one install is still the only entry.
    assert_eq!(cluster.audit(&[]).len(), 1);
}

#[test]
fn failed_and_since_choose_among_the_attempts() {
    let cluster = Cluster::new();
    // The example's api-post-install fails while this marker is there.
    let marker = cluster
        .site
        .path("head/etc/opm-example/fail-clusterfs-api-post-install");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "").unwrap();
    cluster.ok(&["install", "motd", "clusterfs"]);
    let ran = cluster.local().arg("run").output().unwrap();
    assert_eq!(ran.status.code(), Some(1), "{ran:?}");

    let history = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec!["--json", "history"];
        args.extend(extra);
        serde_json::from_str(&cluster.ok(&args)).unwrap()
    };
    let all = history(&[]);
    assert!(
        all.iter().any(|e| e["result"] == "passed"),
        "attempts passed too: {all:#?}"
    );
    let failed = history(&["--failed"]);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["package"], "clusterfs");
    assert_eq!(failed[0]["result"], "failed");
    assert_eq!(history(&["--failed", "--since", "1h"]), failed);
    assert_eq!(history(&["--since", "1h"]), all);
    assert_eq!(history(&["--since", "2999-01-01"]), Vec::<Value>::new());
}
