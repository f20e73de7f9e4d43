//! Draining nodes through the scheduler before their packages change
//! (issue 20), end to end: `opm server` with the drain settings, `opm
//! agent`s with sandbox roots and the real dpkg.
//!
//! `a_real_slurm_drains_waits_and_resumes_its_node` runs Debian's Slurm
//! on this machine: munged, slurmctld and slurmd as child processes of the
//! test with a slurm.conf whose one node is this host, and opm's drain
//! settings the README's three lines. A job runs while opm installs: the
//! stage waits until Slurm says the node is drained, runs, and the node is
//! idle again after; a drain that cannot complete (a job longer than
//! drain_timeout) fails the rows and leaves the node resumed. It needs
//! root and Slurm: SKIPPED locally without them, a failure in CI.
//!
//! `scripted_drains_wait_survive_a_restart_and_fail_clearly` drives other
//! nodes with drain commands that are scripts of the test: a drain waited
//! for across a server restart, a node drained by somebody else (not
//! resumed), a drain command that fails, and a timeout.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary, Slurm's daemons and its tools as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use opm_testkit::context::status_rows;
use opm_testkit::{Agent, Server, TestContext};
use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");

/// A head node with the example opkgs `motd` and `jobqueue` imported, the
/// phase at complete, and `settings` as its opm.toml.
fn site(settings: &str) -> TestContext {
    let ctx = TestContext::new(env!("CARGO_BIN_EXE_opm"));
    let sources = [format!("{EXAMPLES}/motd"), format!("{EXAMPLES}/jobqueue")];
    let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
    ctx.pack_and_import(&sources);
    std::fs::write(ctx.path("opm.toml"), settings).unwrap();
    ctx.ok(&["cluster", "phase", "complete"]);
    ctx
}

/// `opm --json status`, keyed by (target, package).
fn status(ctx: &TestContext) -> BTreeMap<(String, String), Value> {
    status_rows(&ctx.opm(&["--json", "status"]).stdout)
}

/// Waits up to `limit` until `check` holds for row (`node`, `package`);
/// the row then.
fn wait_row(
    ctx: &TestContext,
    node: &str,
    package: &str,
    limit: Duration,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let rows = status(ctx);
        if let Some(row) = rows.get(&(node.to_owned(), package.to_owned()))
            && check(row)
        {
            return row.clone();
        }
        assert!(
            started.elapsed() < limit,
            "{node}/{package} never {what}: {rows:#?}\nserver log:\n{}",
            std::fs::read_to_string(ctx.path("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn finished(row: &Value) -> bool {
    row["current"] == "finished" && row["status"] == "ok"
}

fn waiting_for(node: &str) -> impl Fn(&Value) -> bool {
    let message = format!("waiting for {node} to drain");
    move |row| row["status"] == "ok" && row["message"] == message.as_str()
}

fn in_error(row: &Value) -> bool {
    row["status"] == "error"
}

/// Whether `root` has the client package of `package` installed (its dpkg
/// database says so).
fn installed(root: &Path, package: &str) -> bool {
    std::fs::read_to_string(root.join("var/lib/dpkg/status"))
        .unwrap_or_default()
        .split("\n\n")
        .any(|entry| {
            entry.contains(&format!("Package: opkg-{package}-client\n"))
                && entry.contains("Status: install ok installed")
        })
}

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn agent(ctx: &TestContext, node: &str, server: &Server) -> Agent {
    ctx.agent(node, &server.url(), &["--poll-wait", "2"])
}

#[test]
fn scripted_drains_wait_survive_a_restart_and_fail_clearly() {
    // The scheduler is a directory: NODE.drained says a node is drained,
    // NODE.log what opm asked of it, NODE.refuse makes its drain fail.
    let sched = tempfile::tempdir().unwrap();
    let dir = sched.path().display().to_string();
    let bin = sched.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    script(
        &bin.join("drain"),
        &format!(
            "echo drain >> {dir}/$1.log\n\
             if [ -e {dir}/$1.refuse ]; then echo \"no partition holds $1\" >&2; exit 3; fi"
        ),
    );
    script(&bin.join("drained"), &format!("test -e {dir}/$1.drained"));
    script(
        &bin.join("resume"),
        &format!("echo resume >> {dir}/$1.log; rm -f {dir}/$1.drained"),
    );
    let bin = bin.display();
    let ctx = site(&format!(
        "drain_command = \"{bin}/drain %n\"\n\
         drained_command = \"{bin}/drained %n\"\n\
         resume_command = \"{bin}/resume %n\"\n\
         drain_timeout = \"20s\"\n"
    ));
    let log = |node: &str| std::fs::read_to_string(sched.path().join(format!("{node}.log")));
    let nodes = ["n1", "n2", "n3", "n4"];
    for node in nodes {
        ctx.add_node(node);
    }
    // n2 was drained by somebody else; n3's drain is refused.
    std::fs::write(sched.path().join("n2.drained"), "").unwrap();
    std::fs::write(sched.path().join("n3.refuse"), "").unwrap();
    let server = ctx.server(&[]);
    let port = server.addr().port();
    let _agents: Vec<Agent> = nodes.iter().map(|n| agent(&ctx, n, &server)).collect();
    ctx.ok(&["install", "motd"]);
    let minute = Duration::from_secs(60);

    // n1 waits for its drain; the row says so, nothing is installed.
    wait_row(&ctx, "n1", "motd", minute, "waited", waiting_for("n1"));
    assert!(!installed(&ctx.path("n1/root"), "motd"));
    // The server restarts while n1 drains: it goes on waiting, asks for
    // no second drain, and the stage runs once the node is drained.
    drop(server);
    let server = ctx.server_on(port, &[]);
    wait_row(
        &ctx,
        "n1",
        "motd",
        minute,
        "waited again",
        waiting_for("n1"),
    );
    std::fs::write(sched.path().join("n1.drained"), "").unwrap();
    wait_row(&ctx, "n1", "motd", minute, "finished", finished);
    assert!(installed(&ctx.path("n1/root"), "motd"));
    // Resumed after its work (the log line is written before the poll
    // that found the work over answers).
    let started = Instant::now();
    while log("n1").unwrap() != "drain\nresume\n" {
        assert!(started.elapsed() < minute, "{:?}", log("n1"));
        std::thread::sleep(Duration::from_millis(200));
    }

    // n2: worked on as it was, and not resumed by opm.
    wait_row(&ctx, "n2", "motd", minute, "finished", finished);
    assert!(log("n2").is_err(), "{:?}", log("n2"));
    assert!(sched.path().join("n2.drained").exists());

    // n3: the refusal is the row's error, in the command's own words; the
    // row keeps its stage and nothing was installed.
    let row = wait_row(&ctx, "n3", "motd", minute, "failed", in_error);
    let message = row["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "cannot drain n3: drain_command '{bin}/drain n3' failed (exit status 3): \
             no partition holds n3; fix the drain settings"
        )),
        "{message}"
    );
    assert_eq!(row["current"], "run-configurator", "{row:#}");
    assert!(!installed(&ctx.path("n3/root"), "motd"));
    assert_eq!(ctx.opm(&["status"]).status.code(), Some(1));
    // Fixed, a retry goes on where it stopped.
    std::fs::remove_file(sched.path().join("n3.refuse")).unwrap();
    std::fs::write(sched.path().join("n3.drained"), "").unwrap();
    ctx.ok(&["retry", "motd", "--node", "n3"]);
    wait_row(&ctx, "n3", "motd", minute, "finished after retry", finished);

    // n4 never drains: after drain_timeout its row fails and opm resumes it.
    let row = wait_row(&ctx, "n4", "motd", minute, "timed out", in_error);
    assert_eq!(
        row["message"],
        "n4 did not drain within 20s; opm resumed it; run 'opm retry' once the node's jobs \
         allow it, or raise drain_timeout"
    );
    assert_eq!(log("n4").unwrap(), "drain\nresume\n");
    assert!(!installed(&ctx.path("n4/root"), "motd"));
    drop(server);
}
