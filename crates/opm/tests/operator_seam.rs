//! The operator seam end to end: the same `opm` commands run on the
//! database (local operator) and through a real `opm server` on loopback
//! (`--remote URL --admin-token-file F`, the remote operator) on the same
//! cluster give the same stdout, stderr and exit code, byte for byte, for
//! every tools command and so every tools route: views, actions, and the
//! refusals (a conflict among them) with nothing changed.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use opm_testkit::{Outcome, Server, TestContext};
use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");
const OPKGS: [&str; 4] = ["clusterfs", "jobqueue", "motd", "altqueue"];

/// A head node with a SQLite database and the example opkgs packed and
/// imported, its `opm server`, and the admin token for it.
struct Cluster {
    // Before `site`: the server is killed before its directory goes.
    server: Server,
    site: TestContext,
}

impl Cluster {
    fn new() -> Cluster {
        let site = TestContext::new(env!("CARGO_BIN_EXE_opm"));
        std::fs::create_dir(site.path("img")).unwrap();
        let examples: Vec<String> = OPKGS.iter().map(|n| format!("{EXAMPLES}/{n}")).collect();
        let examples: Vec<&str> = examples.iter().map(String::as_str).collect();
        site.pack_and_import(&examples);
        site.admin_token_file();
        let server = site.server(&[]);
        Cluster { server, site }
    }

    /// `opm` on the head node, on the database.
    fn local(&self) -> Command {
        self.site.command()
    }

    /// `opm` as an admin elsewhere: no database, no opm.conf, only the
    /// server's URL and the admin token.
    fn remote(&self) -> Command {
        self.site.remote_command(&self.server.url())
    }

    /// Runs `args` locally and remotely on the same state; asserts both
    /// give the same output and exit code; that outcome.
    fn same(&self, args: &[&str]) -> Outcome {
        let local = Outcome::from(self.local().args(args).output().unwrap());
        let remote = Outcome::from(self.remote().args(args).output().unwrap());
        assert_eq!(
            local, remote,
            "opm {args:?}: local (left) and remote (right) differ"
        );
        local
    }

    /// Runs `args` through the operator `how` gives, waits for the head
    /// node's pass, and returns the outcome with this cluster's directory
    /// written `<site>`, so two clusters' answers compare.
    fn change(&self, how: fn(&Cluster) -> Command, args: &[&str]) -> Outcome {
        let mut ran = Outcome::from(how(self).args(args).output().unwrap());
        self.settle();
        let dir = self.site.dir().to_str().unwrap();
        ran.stdout = ran.stdout.replace(dir, "<site>");
        ran.stderr = ran.stderr.replace(dir, "<site>");
        ran
    }

    /// Waits until the head node's pass has nothing more to do now: no
    /// row running, and every head node's and image's row blocked or idle
    /// (the compute nodes' rows wait for agents this test does not run).
    fn settle(&self) {
        let started = Instant::now();
        loop {
            let out = self.local().args(["--json", "status"]).output().unwrap();
            let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
            let out = self.local().args(["--json", "plan"]).output().unwrap();
            let plan: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
            let running = rows.iter().any(|row| row["status"] == "running");
            let work = plan.iter().any(|line| {
                (line["target"] == "head" || line["kind"] == "image")
                    && !matches!(
                        line["decision"]["decision"].as_str(),
                        Some("blocked" | "idle")
                    )
            });
            if !running && !work {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the head node never settled: {plan:#?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Runs the change `args` on `here` with the local CLI and on `there`
/// through its server; both answer the same.
fn same_change(here: &Cluster, there: &Cluster, args: &[&str]) -> Outcome {
    let local = here.change(Cluster::local, args);
    let remote = there.change(Cluster::remote, args);
    assert_eq!(
        local, remote,
        "opm {args:?}: local (left) and remote (right) differ"
    );
    local
}

#[test]
fn local_and_remote_cli_answer_the_same_on_the_same_cluster() {
    // Two identical clusters: changes are made on one with the local CLI
    // and on the other through its server, and answer the same; views
    // are read both ways on the same cluster.
    let here = Cluster::new();
    let there = Cluster::new();
    let change = |args: &[&str]| same_change(&here, &there, args);
    let added = change(&["node", "add", "n1"]);
    assert_eq!(added.stdout, "added node n1 (groups: oscar_clients)\n");
    change(&["node", "add", "g1", "--group", "gpu"]);
    change(&["node", "add", "n2"]);
    change(&["image", "add", "img", "--path", "img"]);
    let install = change(&["install", "jobqueue", "motd"]);
    assert!(
        install
            .stdout
            .contains("request finished on node head / jobqueue (new row)"),
        "{install:#?}"
    );
    assert!(
        install.stderr.contains("depends on clusterfs"),
        "{install:#?}"
    );
    let phase = change(&["cluster", "phase", "complete"]);
    assert!(
        phase.stderr.contains("warning: the phase skips"),
        "{phase:#?}"
    );
    let late = change(&["node", "add", "n3"]);
    assert!(
        late.stdout.contains("request finished on node n3 / motd"),
        "{late:#?}"
    );
    change(&[
        "request",
        "clusterfs",
        "--stage",
        "finished",
        "--group",
        "gpu",
    ]);
    change(&["request", "clusterfs", "--stage", "finished", "--server"]);
    change(&["config", "set", "motd", "greeting=hello"]);
    change(&["node", "remove", "n2"]);

    // Every view, as text and as JSON, both ways on the same cluster.
    for json in [false, true] {
        let with = |args: &[&'static str]| -> Vec<&'static str> {
            let mut all = if json { vec!["--json"] } else { Vec::new() };
            all.extend_from_slice(args);
            all
        };
        for args in [
            &["status"][..],
            &["status", "--summary"],
            &["status", "--node", "n1"],
            &["status", "--group", "gpu", "--package", "clusterfs"],
            &["status", "--stage", "finished"],
            &["status", "--errors"],
            &["plan"],
            &["plan", "--image", "img"],
            &["history"],
            &["history", "motd", "--node", "head"],
            &["history", "--group", "gpu"],
            &["history", "--stage", "finished"],
            &["history", "--errors", "--node", "head"],
            &["logs", "motd"],
            &["logs", "--attempt", "1"],
            &["node", "list"],
            &["image", "list"],
            &["config", "show", "motd"],
            &["cluster", "phase"],
        ] {
            let ran = there.same(&with(args));
            assert!(matches!(ran.code, Some(0 | 1)), "opm {args:?}: {ran:#?}");
        }
    }

    // History takes status's row filters: the entries of exactly the rows
    // `opm status` lists for the same filter.
    let history: Vec<Value> =
        serde_json::from_str(&there.same(&["--json", "history"]).stdout).unwrap();
    for filter in [
        &["--stage", "finished"][..],
        &["--errors"],
        &["--group", "gpu"],
        &["--group", "gpu", "--stage", "should_not_be_installed"],
    ] {
        let status = there.same(&[&["--json", "status"], filter].concat());
        let rows = opm_testkit::context::status_rows(status.stdout.as_bytes());
        let want: Vec<&Value> = history
            .iter()
            .filter(|line| {
                let key = (
                    line["target"].as_str().unwrap().to_owned(),
                    line["package"].as_str().unwrap().to_owned(),
                );
                rows.contains_key(&key)
            })
            .collect();
        let got = there.same(&[&["--json", "history"], filter].concat());
        let got: Vec<Value> = serde_json::from_str(&got.stdout).unwrap();
        assert_eq!(got.iter().collect::<Vec<_>>(), want, "history {filter:?}");
        if filter == ["--stage", "finished"] {
            assert!(
                !got.is_empty(),
                "the head node's finished rows have history"
            );
        }
    }

    // Refusals and dry runs: the same words, nothing changed.
    let before = there.same(&["--json", "status"]);
    for args in [
        &["install", "clusterfs", "--dry-run"][..],
        &[
            "--json",
            "remove",
            "jobqueue",
            "--with-dependents",
            "--dry-run",
        ],
        &[
            "request",
            "motd",
            "--stage",
            "finished",
            "--group",
            "gpu",
            "--dry-run",
        ],
        &["node", "remove", "n1", "--dry-run"],
        &["--json", "node", "remove", "n3", "--dry-run"],
        &["cluster", "phase", "netboot", "--dry-run"],
    ] {
        let ran = there.same(args);
        assert_eq!(ran.code, Some(0), "opm {args:?}: {ran:#?}");
        assert!(ran.stderr.contains("dry run: nothing was changed") || args[0] == "--json");
    }
    for (args, needle) in [
        (
            &["request", "altqueue", "--stage", "finished", "--server"][..],
            "altqueue conflicts with jobqueue",
        ),
        (&["install", "nosuch"], "unknown opkg 'nosuch'"),
        (&["remove", "clusterfs"], "cannot remove clusterfs"),
        (&["retry", "motd", "--node", "head"], "not in error"),
        (
            &["rerun", "motd", "--node", "ghost", "--from", "finished"],
            "ghost",
        ),
        (&["node", "add", "n1"], "n1"),
        (&["node", "remove", "ghost"], "ghost"),
        (&["image", "remove", "ghost"], "ghost"),
        (&["image", "add", "bad", "--path", "/"], "image root"),
        (
            &["config", "set", "motd", "bad name=1"],
            "configuration name",
        ),
        (&["config", "show", "nosuch"], "unknown opkg 'nosuch'"),
        (&["logs", "--attempt", "99999"], "99999"),
        (&["history", "--node", "ghost"], "ghost"),
        (
            &["history", "--group", "nosuch"],
            "group 'nosuch' has no nodes",
        ),
        (&["history", "nosuch", "--errors"], "nosuch"),
        (&["status", "--node", "ghost"], "unknown node 'ghost'"),
        (&["plan", "--package", "nosuch"], "unknown opkg 'nosuch'"),
    ] {
        let ran = there.same(args);
        assert_eq!(ran.code, Some(2), "opm {args:?}: {ran:#?}");
        assert!(ran.stderr.contains(needle), "opm {args:?}: {ran:#?}");
    }
    assert_eq!(there.same(&["--json", "status"]), before);

    // The last changes: rerun, remove, and an image going.
    change(&[
        "rerun",
        "motd",
        "--node",
        "head",
        "--from",
        "run-configurator",
    ]);
    change(&["remove", "motd"]);
    change(&["image", "remove", "img"]);
    assert_eq!(
        here.change(Cluster::local, &["--json", "status"]),
        there.change(Cluster::local, &["--json", "status"])
    );
}

#[test]
fn a_remote_cli_without_the_admin_token_is_refused_and_says_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("opm.toml"), "").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_opm"))
        .env_remove("OPM_ADMIN_TOKEN_FILE")
        .env("OPM_SETTINGS", dir.path().join("opm.toml"))
        .args(["--remote", "http://127.0.0.1:9", "status"])
        .output()
        .unwrap();
    let ran = Outcome::from(output);
    assert_eq!(ran.code, Some(2), "{ran:#?}");
    assert!(ran.stderr.contains("--admin-token-file"), "{ran:#?}");
}
