//! `opm bench agents` and `opm bench upgrade` at a small scale, through
//! the binary: a real `opm server` child on loopback, real HTTP from the
//! simulated agents, and every report counted in the database. No timing
//! is asserted.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;

#[test]
fn fifty_agents_report_and_the_database_holds_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("opm.conf"), "server\nhead\n").unwrap();
    std::fs::write(path("opm.toml"), "").unwrap();
    std::fs::create_dir(path("root")).unwrap();
    let opm = |args: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("opm"))
            .args(args)
            .env("OPM_DB", format!("sqlite:{}", path("opm.db").display()))
            .env("OPM_CONF", path("opm.conf"))
            .env("OPM_ROOT", path("root"))
            .env("OPM_SETTINGS", path("opm.toml"))
            .env("OPM_BACKEND", "dpkg")
            .output()
            .unwrap()
    };
    let init = opm(&["init"]);
    assert!(init.status.success(), "{init:?}");

    let bench = opm(&[
        "bench",
        "agents",
        "--count",
        "50",
        "--jitter-ms",
        "200",
        "--idle-secs",
        "1",
        "--json",
    ]);
    assert_eq!(bench.status.code(), Some(0), "{bench:?}");
    let summary: Value = serde_json::from_slice(&bench.stdout).unwrap();
    assert_eq!(summary["count"], 50, "{summary}");
    assert_eq!(summary["passed_attempts"], 50, "{summary}");
    assert_eq!(summary["finished_rows"], 50, "{summary}");
    assert_eq!(summary["polls_held"], 50, "{summary}");

    // Again on the same database: its nodes are there already, which is
    // bad input, not a benchmark result.
    let again = opm(&["bench", "agents", "--count", "50"]);
    assert_ne!(again.status.code(), Some(0), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("cannot add the benchmark's nodes"),
        "{again:?}"
    );
}

/// Benchmark B6 at a small scale: the agents install, then every node's
/// row is upgraded to 2.0-1 and the database says so.
#[test]
fn twenty_agents_upgrade_and_every_row_reports_the_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("opm.conf"), "server\nhead\n").unwrap();
    std::fs::write(path("opm.toml"), "").unwrap();
    std::fs::create_dir(path("root")).unwrap();
    let opm = |args: &[&str]| {
        Command::new(assert_cmd::cargo::cargo_bin("opm"))
            .args(args)
            .env("OPM_DB", format!("sqlite:{}", path("opm.db").display()))
            .env("OPM_CONF", path("opm.conf"))
            .env("OPM_ROOT", path("root"))
            .env("OPM_SETTINGS", path("opm.toml"))
            .env("OPM_BACKEND", "dpkg")
            .output()
            .unwrap()
    };
    let init = opm(&["init"]);
    assert!(init.status.success(), "{init:?}");
    let bench = opm(&[
        "bench",
        "upgrade",
        "--count",
        "20",
        "--jitter-ms",
        "200",
        "--json",
    ]);
    assert_eq!(bench.status.code(), Some(0), "{bench:?}");
    let summary: Value = serde_json::from_slice(&bench.stdout).unwrap();
    assert_eq!(summary["count"], 20, "{summary}");
    assert_eq!(summary["rows_started"], 20, "{summary}");
    assert_eq!(summary["rows_at_new_version"], 20, "{summary}");
    let status = opm(&["--json", "status"]);
    let rows: Vec<Value> = serde_json::from_slice(&status.stdout).unwrap();
    let nodes: Vec<&Value> = rows
        .iter()
        .filter(|row| row["target"].as_str().unwrap().starts_with("bench-n"))
        .collect();
    assert_eq!(nodes.len(), 20);
    assert!(
        nodes
            .iter()
            .all(|row| row["version"] == "2.0-1" && row["wanted_version"] == "2.0-1"),
        "{nodes:#?}"
    );
}
