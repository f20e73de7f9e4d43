//! Crash safety of `opm run` (SPEC §1.3 rule 6): a real `opm run` is killed
//! with SIGKILL at pseudo-random moments, then run again. Afterwards every
//! row has converged, every script of every passed attempt ran start to end
//! exactly once, and history shows the interrupted attempts. Also: two real
//! `opm run` processes never work one target at the same time.

// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opm_testkit::tools::have_tool;

use opm_testkit::TestContext;
use opm_testkit::source::{next, opkg_source};

const HOOKS: [&str; 5] = [
    "api-pre-install",
    "api-post-configure",
    "server-post-install",
    "api-post-clientdef",
    "api-post-deploy",
];

/// An opkg source whose scripts append `start`/`end` lines (with the
/// attempt number) to `record` around a short sleep.
fn write_opkg(dir: &Path, name: &str, record: &Path) {
    let scripts: Vec<(&str, String)> = HOOKS
        .into_iter()
        .map(|hook| {
            let body = format!(
                "echo \"start {name} {hook} $OPM_ATTEMPT\" >> {record}\nsleep 0.1\necho \"end {name} {hook} $OPM_ATTEMPT\" >> {record}",
                record = record.display()
            );
            (hook, body)
        })
        .collect();
    opkg_source(dir, name, &format!("crash test opkg {name}"), &scripts);
}

/// A site whose opkgs `packages` (see [`write_opkg`]) are asked for.
fn crash_site(packages: &[&str]) -> TestContext {
    let site = TestContext::new(assert_cmd::cargo::cargo_bin("opm"));
    let record = site.path("record");
    let sources: Vec<PathBuf> = packages
        .iter()
        .map(|name| {
            let source = site.path(&format!("src-{name}"));
            write_opkg(&source, name, &record);
            source
        })
        .collect();
    site.install(&sources, packages);
    site
}

fn check_converged(cluster: &TestContext, packages: &[&str]) {
    let rows: Vec<serde_json::Value> = serde_json::from_value(cluster.json(&["status"])).unwrap();
    assert_eq!(rows.len(), packages.len());
    for row in &rows {
        assert_eq!(row["current"], "finished", "{row}");
        assert_eq!(row["status"], "ok", "{row}");
    }
}

/// The number of the attempt `hook` ran in for attempt `id` of a stage
/// numbered `number`: its own, or that of the attempt it was carried from
/// when the stage resumed after the hook had passed (SPEC §1.1).
fn ran_in(
    cluster: &TestContext,
    id: i64,
    number: u32,
    hook: &str,
    numbers: &BTreeMap<i64, u32>,
) -> u32 {
    let attempt = id.to_string();
    let logs: serde_json::Value =
        serde_json::from_str(&cluster.ok(&["--json", "logs", "--attempt", &attempt])).unwrap();
    let action = format!("run {hook}");
    let step = logs["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["action"] == action.as_str())
        .unwrap_or_else(|| panic!("attempt {id} has no step {action}: {logs}"));
    match step["result"].as_str().unwrap() {
        "passed" => number,
        "carried" => numbers[&step["passed_in"].as_i64().unwrap()],
        other => panic!("step {action} of passed attempt {id} is {other}"),
    }
}

/// For each passed attempt, its scripts ran start to end exactly once.
fn check_record(cluster: &TestContext) -> usize {
    let record = std::fs::read_to_string(cluster.path("record")).unwrap_or_default();
    let mut lines: BTreeMap<String, usize> = BTreeMap::new();
    for line in record.lines() {
        *lines.entry(line.to_owned()).or_default() += 1;
    }
    let history: Vec<serde_json::Value> =
        serde_json::from_value(cluster.json(&["history"])).unwrap();
    let mut attempts: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut numbers: BTreeMap<i64, u32> = BTreeMap::new();
    let mut interrupted = 0;
    for entry in &history {
        if entry["event"] != "attempt" {
            continue;
        }
        let key = (
            entry["package"].as_str().unwrap().to_owned(),
            entry["stage"].as_str().unwrap().to_owned(),
        );
        let number = attempts.entry(key.clone()).or_default();
        *number += 1;
        let id = entry["id"].as_i64().unwrap();
        numbers.insert(id, *number);
        match entry["result"].as_str().unwrap() {
            "interrupted" => interrupted += 1,
            "passed" => {
                let hook = match key.1.as_str() {
                    "should_be_installed" => "api-pre-install",
                    "run-configurator" => "api-post-configure",
                    "install-bin-pkgs" => "server-post-install",
                    "run-script-post-clients" => "api-post-clientdef",
                    "run-script-post-install" => "api-post-deploy",
                    _ => continue,
                };
                let number = ran_in(cluster, id, *number, hook, &numbers);
                for edge in ["start", "end"] {
                    let line = format!("{edge} {} {hook} {number}", key.0);
                    assert_eq!(
                        lines.get(&line).copied(),
                        Some(1),
                        "{line:?} in the record:\n{record}"
                    );
                }
            }
            other => panic!("unexpected attempt result {other}: {entry}"),
        }
    }
    interrupted
}

#[test]
fn killed_runs_resume_and_nothing_is_lost_or_done_twice() {
    if !have_tool("dpkg") {
        return;
    }
    let packages = ["crasha", "crashb"];
    let mut seed = 0x5eed_u64;
    let mut interrupted_total = 0;
    for iteration in 0..20 {
        let cluster = crash_site(&packages);
        let delay = 100 + next(&mut seed) % 1_400;
        cluster.run_killed_after(Duration::from_millis(delay));
        // A second kill of the resumed run now and then.
        if iteration % 4 == 1 {
            cluster.run_killed_after(Duration::from_millis(100 + next(&mut seed) % 500));
        }
        let out = cluster.command().arg("run").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "iteration {iteration} (killed after {delay} ms): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        check_converged(&cluster, &packages);
        interrupted_total += check_record(&cluster);
    }
    assert!(
        interrupted_total > 0,
        "no kill ever hit a running stage; the test proves nothing"
    );
}

#[test]
fn a_second_run_never_works_the_same_target_at_once() {
    if !have_tool("dpkg") {
        return;
    }
    let packages = ["twina"];
    let cluster = crash_site(&packages);
    let first = cluster.spawn_run();
    std::thread::sleep(Duration::from_millis(200));
    // Waits at most 0 s for the lease: says who works the target.
    let second = cluster
        .command()
        .args(["run", "--wait", "0"])
        .output()
        .unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("node head is being worked by ") && stdout.contains(" until "),
        "{stdout}"
    );
    // A run that waits long enough finds nothing left to do.
    check_converged(&cluster, &packages);
    let record = std::fs::read_to_string(cluster.path("record")).unwrap();
    // No overlap: every start is followed by its own end.
    let lines: Vec<&str> = record.lines().collect();
    for pair in lines.chunks(2) {
        assert!(
            pair[0].starts_with("start ") && pair[1].starts_with("end "),
            "{record}"
        );
        assert_eq!(pair[0][6..], pair[1][4..], "{record}");
    }
}
