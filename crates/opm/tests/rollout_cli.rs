//! Rollouts end to end (SPEC §1.10), with real `opm` processes: a head
//! node with its `opm server` and three compute nodes whose `opm run`
//! (one round of their agent) asks the server for work. `opm install
//! motd --max-parallel 1 --max-failures 0` starts the nodes one at a time;
//! a node not started gets no work and its row says why; a node added
//! meanwhile joins at the end; a failed node pauses the rollout, which a
//! restarted server keeps paused; `opm rollout resume` is refused until `opm retry`
//! cleared it; `opm rollout status|resume|abort` answer the same locally
//! and through `--remote`; and bad limits, a second command for the same
//! opkg and a resume or abort of a finished rollout are refused with exit
//! 2 and nothing changed.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary, its server and its nodes as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use opm_testkit::{Server, TestContext};
use serde_json::Value;

const MOTD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs/motd");
const NODES: [&str; 3] = ["n1", "n2", "n3"];

/// The head node, its server and three nodes, motd imported, the cluster
/// complete.
struct Cluster {
    // Before `site`: the server is killed before its directory goes.
    server: Option<Server>,
    site: TestContext,
}

/// What one `opm` run printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Ran {
    fn from(output: Output) -> Ran {
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

impl Cluster {
    fn new() -> Cluster {
        let site = TestContext::new(env!("CARGO_BIN_EXE_opm"));
        site.pack_and_import(&[MOTD]);
        site.ok(&["cluster", "phase", "complete"]);
        for node in NODES {
            site.add_node(node);
        }
        let token = site.ok(&["admin", "token"]);
        let token_file = site.path("admin.token");
        std::fs::write(&token_file, token.trim()).unwrap();
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let server = Some(site.server(&[]));
        Cluster { server, site }
    }

    fn url(&self) -> String {
        self.server.as_ref().expect("the server runs").url()
    }

    /// Stops the server and starts it again where the nodes look for it.
    fn restart_server(&mut self) {
        let port = self.server.take().expect("the server runs").addr().port();
        self.server = Some(self.site.server_on(port, &[]));
    }

    /// `opm` on the head node, on the database.
    fn local(&self) -> Command {
        let mut command = self.site.command();
        for var in ["OPM_REMOTE", "OPM_ADMIN_TOKEN_FILE", "OPM_SERVER"] {
            command.env_remove(var);
        }
        command
    }

    /// `opm` as an admin elsewhere: only the server's URL and the token.
    fn remote(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_opm"));
        for var in ["OPM_CONF", "OPM_ROOT", "OPM_REPO", "OPM_BACKEND"] {
            command.env_remove(var);
        }
        command
            .env("OPM_DB", "sqlite:/nonexistent/opm.db")
            .env("OPM_SETTINGS", self.site.path("opm.toml"))
            .args(["--remote", &self.url(), "--admin-token-file"])
            .arg(self.site.path("admin.token"))
            .current_dir(self.site.dir());
        command
    }

    fn ran(mut command: Command, args: &[&str]) -> Ran {
        Ran::from(command.args(args).output().unwrap())
    }

    /// `args` locally and remotely on the same state (a view, or a
    /// refusal that changes nothing): both the same; that outcome.
    fn same(&self, args: &[&str]) -> Ran {
        let local = Cluster::ran(self.local(), args);
        let remote = Cluster::ran(self.remote(), args);
        assert_eq!(local, remote, "opm {args:?}: local (left), remote (right)");
        local
    }

    /// One round of node `node`'s agent (`opm run` on the node).
    fn node_run(&self, node: &str) -> Ran {
        let command = self.site.node_command(node, &self.url());
        Cluster::ran(command, &["run"])
    }

    /// The only rollout, as `opm rollout status --json` shows it.
    fn rollout(&self) -> Value {
        let ran = Cluster::ran(self.local(), &["--json", "rollout", "status"]);
        assert_eq!(ran.code, Some(0), "{ran:?}");
        let lines: Vec<Value> = serde_json::from_str(&ran.stdout).unwrap();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        lines.into_iter().next().unwrap()
    }

    /// Waits (the server's passes decide) until the rollout satisfies `ok`.
    fn wait_rollout(&self, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let rollout = self.rollout();
            if ok(&rollout) {
                return rollout;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the rollout never got {what}: {rollout:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// node `node`'s motd row as `opm status --json` shows it.
    fn row(&self, node: &str) -> Value {
        let ran = Cluster::ran(self.local(), &["--json", "status", "--node", node]);
        let rows: Vec<Value> = serde_json::from_str(&ran.stdout).unwrap();
        rows.into_iter()
            .find(|row| row["package"] == "motd")
            .unwrap_or(Value::Null)
    }
}

fn count(rollout: &Value, key: &str) -> u64 {
    rollout[key].as_u64().unwrap()
}

#[test]
fn a_rollout_starts_nodes_one_at_a_time_pauses_on_a_failure_and_resumes() {
    let mut cluster = Cluster::new();
    let marker = cluster
        .site
        .path("n2/root/etc/opm-example/fail-motd-client-post-install");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "").unwrap();

    let ran = Cluster::ran(
        cluster.local(),
        &[
            "install",
            "motd",
            "--max-parallel",
            "1",
            "--max-failures",
            "0",
        ],
    );
    assert_eq!(ran.code, Some(0), "{ran:?}");
    let rollout = cluster.rollout();
    assert_eq!(rollout["label"], "motd 1:3.1-2");
    assert_eq!(rollout["state"], "running");
    assert_eq!(rollout["policy"]["max_parallel"], "1");
    assert_eq!(rollout["policy"]["max_failures"], "0");
    assert_eq!(count(&rollout, "nodes"), 3);

    // The head node's pass assigns the nodes' rows; the rollout starts n1
    // alone: n2 and n3 get no work, and say why.
    cluster.wait_rollout("n1 running", |r| count(r, "running") == 1);
    let held = cluster.node_run("n2");
    assert_eq!(held.code, Some(3), "{held:?}");
    assert!(
        held.stdout
            .contains("blocked: node n2 / motd: waiting: rollout motd 1:3.1-2, batch 2 of 3"),
        "{held:?}"
    );
    assert_eq!(
        cluster.row("n3")["message"],
        "waiting: rollout motd 1:3.1-2, batch 3 of 3"
    );
    let plan = Cluster::ran(cluster.local(), &["--json", "plan", "--node", "n3"]);
    let plan: Vec<Value> = serde_json::from_str(&plan.stdout).unwrap();
    assert_eq!(plan.len(), 1, "{plan:#?}");
    assert_eq!(
        plan[0]["next"],
        "blocked: waiting: rollout motd 1:3.1-2, batch 3 of 3"
    );
    assert_eq!(plan[0]["decision"]["blocked"], "rollout");
    // A node added while the rollout runs gets motd's row (the cluster is
    // complete) and joins the rollout at the end of its order.
    cluster.site.add_node("n4");
    let held = cluster.node_run("n4");
    assert_eq!(held.code, Some(3), "{held:?}");
    assert!(
        held.stdout
            .contains("blocked: node n4 / motd: waiting: rollout motd 1:3.1-2, batch 4 of 4"),
        "{held:?}"
    );
    assert_eq!(count(&cluster.rollout(), "nodes"), 4);
    // A second command for motd while its rollout runs: refused, nothing
    // changed.
    let busy = cluster.same(&["remove", "motd", "-y"]);
    assert_eq!(busy.code, Some(2), "{busy:?}");
    assert!(
        busy.stderr.contains("rollout 1 (motd 1:3.1-2) is running"),
        "{busy:?}"
    );

    let ran = cluster.node_run("n1");
    assert_eq!(ran.code, Some(0), "{ran:?}");
    // n1 finished: n2 starts, and fails on purpose.
    cluster.wait_rollout("n2 running", |r| {
        count(r, "finished") == 1 && count(r, "running") == 1
    });
    let failed = cluster.node_run("n2");
    assert_eq!(failed.code, Some(1), "{failed:?}");

    // Past the budget: paused, n3 not started, and its row says why.
    let paused = cluster.wait_rollout("paused", |r| r["state"] == "paused");
    assert_eq!(
        paused["message"],
        "rollout of motd 1:3.1-2 paused: 1 of 4 nodes failed, the limit is 0"
    );
    // A restarted server goes on where it stopped: still paused.
    cluster.restart_server();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(cluster.rollout()["state"], "paused");
    let status = cluster.same(&["rollout", "status"]);
    assert_eq!(status.code, Some(0));
    assert!(
        status
            .stdout
            .contains("paused, 1 of 4 nodes finished, 2 waiting, 1 failed"),
        "{status:?}"
    );
    let summary = cluster.same(&["status", "--summary"]);
    assert!(
        summary.stdout.contains("rollout 1 (motd 1:3.1-2"),
        "{summary:?}"
    );
    let held = cluster.node_run("n3");
    assert_eq!(held.code, Some(3), "{held:?}");
    assert!(
        held.stdout
            .contains("waiting: rollout of motd 1:3.1-2 paused"),
        "{held:?}"
    );

    // Resume is refused while n2 is still failed (nothing changes) ...
    let refused = cluster.same(&["rollout", "resume"]);
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("1 of 4 nodes failed, the limit is 0")
            && refused.stderr.contains("opm retry"),
        "{refused:?}"
    );
    assert_eq!(cluster.rollout()["state"], "paused");
    // ... and goes on once n2 is fixed and retried, here through the
    // server.
    std::fs::remove_file(&marker).unwrap();
    let retry = Cluster::ran(cluster.local(), &["retry", "motd", "--node", "n2"]);
    assert_eq!(retry.code, Some(0), "{retry:?}");
    let resumed = Cluster::ran(cluster.remote(), &["rollout", "resume", "1"]);
    assert_eq!(resumed.code, Some(0), "{resumed:?}");
    assert!(resumed.stdout.contains(": running,"), "{resumed:?}");
    let ran = cluster.node_run("n2");
    assert_eq!(ran.code, Some(0), "{ran:?}");
    for node in ["n3", "n4"] {
        cluster.wait_rollout("the next node running", |r| count(r, "running") == 1);
        let ran = cluster.node_run(node);
        assert_eq!(ran.code, Some(0), "{ran:?}");
    }
    let done = cluster.wait_rollout("done", |r| r["state"] == "done");
    assert_eq!(count(&done, "finished"), 4);

    // A finished rollout is not resumed or aborted again.
    let again = cluster.same(&["rollout", "resume", "1"]);
    assert_eq!(again.code, Some(2));
    assert!(again.stderr.contains("is done"), "{again:?}");
    let abort = cluster.same(&["rollout", "abort", "1"]);
    assert_eq!(abort.code, Some(2));
    // The resume is in the audit trail, as the admin token's.
    let audit = Cluster::ran(cluster.local(), &["--json", "history", "--audit"]);
    let audit: Vec<Value> = serde_json::from_str(&audit.stdout).unwrap();
    let resumes: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "rollout-resume")
        .collect();
    assert_eq!(resumes.len(), 1, "{audit:#?}");
    assert_eq!(resumes[0]["actor"], "admin");
    assert!(
        audit
            .iter()
            .any(|e| e["action"] == "install"
                && e["subject"] == "motd (max-parallel 1, max-failures 0)"),
        "{audit:#?}"
    );
}

#[test]
fn abort_starts_no_new_node_and_twice_is_refused() {
    let cluster = Cluster::new();
    let ran = Cluster::ran(cluster.local(), &["install", "motd", "--max-parallel", "1"]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    cluster.wait_rollout("n1 running", |r| count(r, "running") == 1);
    let aborted = Cluster::ran(cluster.remote(), &["rollout", "abort"]);
    assert_eq!(aborted.code, Some(0), "{aborted:?}");
    assert!(aborted.stdout.contains(": aborted,"), "{aborted:?}");
    // The node already started goes on; the others never start.
    let ran = cluster.node_run("n1");
    assert_eq!(ran.code, Some(0), "{ran:?}");
    for node in ["n2", "n3"] {
        let held = cluster.node_run(node);
        assert_eq!(held.code, Some(3), "{held:?}");
        assert!(
            held.stdout
                .contains("not started: rollout motd 1:3.1-2 was aborted"),
            "{held:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    let rollout = cluster.rollout();
    assert_eq!(rollout["state"], "aborted");
    assert_eq!(count(&rollout, "finished"), 1);
    assert_eq!(count(&rollout, "waiting"), 2);
    let twice = cluster.same(&["rollout", "abort", "1"]);
    assert_eq!(twice.code, Some(2));
    assert!(twice.stderr.contains("is already aborted"), "{twice:?}");
    // The aborted rollout still holds its nodes back, so it is the one a
    // bare resume means, and it is refused.
    let resume = cluster.same(&["rollout", "resume"]);
    assert_eq!(resume.code, Some(2));
    assert!(resume.stderr.contains("was aborted"), "{resume:?}");
    // Running the command again replaces it: every node may start.
    let ran = Cluster::ran(cluster.local(), &["install", "motd"]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    for node in ["n2", "n3"] {
        let ran = cluster.node_run(node);
        assert_eq!(ran.code, Some(0), "{ran:?}");
    }
}

#[test]
fn bad_limits_are_refused_and_change_nothing() {
    let site = TestContext::new(env!("CARGO_BIN_EXE_opm"));
    site.pack_and_import(&[MOTD]);
    site.add_node("n1");
    for (args, says) in [
        (
            vec!["install", "motd", "--max-parallel", "150%"],
            "'150%' is not a number of nodes or a percentage",
        ),
        (
            vec!["install", "motd", "--max-failures=-1"],
            "'-1' is not a number of nodes or a percentage",
        ),
        (
            vec!["install", "motd", "--max-parallel", "0"],
            "max-parallel 0 would start no node",
        ),
        (
            vec!["upgrade", "motd", "--max-parallel", "0%"],
            "max-parallel 0 would start no node",
        ),
        (vec!["rollout", "resume"], "no rollout is in progress"),
        (vec!["rollout", "abort", "7"], "no rollout 7"),
    ] {
        let out = site.expect(&args, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let status = site.ok(&["--json", "status"]);
    assert_eq!(status.trim(), "[]", "nothing was requested");
    assert!(site.ok(&["rollout", "status"]).starts_with("no rollouts"));
    // The settings file's defaults are checked the same way.
    std::fs::write(
        site.path("opm.toml"),
        "rollout_max_failures = \"5 nodes\"\n",
    )
    .unwrap();
    let out = site.expect(&["install", "motd"], 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rollout_max_failures in the settings file"),
        "{stderr}"
    );
    // And used when the flags leave them out.
    std::fs::write(site.path("opm.toml"), "rollout_max_parallel = \"50%\"\n").unwrap();
    site.ok(&["install", "motd"]);
    let lines: Vec<Value> =
        serde_json::from_str(&site.ok(&["--json", "rollout", "status"])).unwrap();
    assert_eq!(lines[0]["policy"]["max_parallel"], "50%");
}
