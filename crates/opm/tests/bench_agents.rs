//! `opm bench agents` and `opm bench upgrade` at a small scale, through
//! the binary: a real `opm server` child on loopback, real HTTP from the
//! simulated agents, and every report counted in the database. No timing
//! is asserted.

// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use opm_testkit::TestContext;
use serde_json::Value;

#[test]
fn fifty_agents_report_and_the_database_holds_every_report() {
    let site = TestContext::initialised(assert_cmd::cargo::cargo_bin("opm"));
    let bench = site.opm(&[
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
    assert_eq!(bench.code, Some(0), "{bench:?}");
    let summary: Value = serde_json::from_str(&bench.stdout).unwrap();
    assert_eq!(summary["count"], 50, "{summary}");
    assert_eq!(summary["passed_attempts"], 50, "{summary}");
    assert_eq!(summary["finished_rows"], 50, "{summary}");
    assert_eq!(summary["polls_held"], 50, "{summary}");

    // Again on the same database: its nodes are there already, which is
    // bad input, not a benchmark result.
    let again = site.opm(&["bench", "agents", "--count", "50"]);
    assert_ne!(again.code, Some(0), "{again:?}");
    assert!(
        again.stderr.contains("cannot add the benchmark's nodes"),
        "{again:?}"
    );
}

/// Benchmark B6 at a small scale: the agents install, then every node's
/// row is upgraded to 2.0-1 and the database says so.
#[test]
fn twenty_agents_upgrade_and_every_row_reports_the_new_version() {
    let site = TestContext::initialised(assert_cmd::cargo::cargo_bin("opm"));
    let bench = site.opm(&[
        "bench",
        "upgrade",
        "--count",
        "20",
        "--jitter-ms",
        "200",
        "--json",
    ]);
    assert_eq!(bench.code, Some(0), "{bench:?}");
    let summary: Value = serde_json::from_str(&bench.stdout).unwrap();
    assert_eq!(summary["count"], 20, "{summary}");
    assert_eq!(summary["rows_started"], 20, "{summary}");
    assert_eq!(summary["rows_at_new_version"], 20, "{summary}");
    let status = site.opm(&["--json", "status"]);
    let rows: Vec<Value> = serde_json::from_str(&status.stdout).unwrap();
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
