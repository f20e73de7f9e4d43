//! Steps and resume (SPEC §1.1 last paragraph, issue 25): a real `opm run`
//! is killed with SIGKILL at 25 seeded pseudo-random moments while opkgs
//! whose stages run two scripts each walk to finished; the next run resumes
//! each stage at the first step that did not pass. Counted: completed
//! scripts that ran a second time. Only a kill between a script's exit and
//! the record of its end can cause one, so at most one is allowed in all.
//! Also: a failed step is continued by `opm retry` and started over by
//! `opm retry --whole-stage`, and `opm logs` shows each step's output.
//!
//! The count on the code before steps (the stage as the unit of record)
//! can be had by pointing `CARGO_BIN_EXE_opm` at an older `opm` and running
//! this test's binary with `--nocapture`: it prints the count.

// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opm_testkit::tools::have_tool;

use opm_testkit::TestContext;
use opm_testkit::source::{next, opkg_source};

/// Every script the head node runs on the way to finished: two in each of
/// should_be_installed and run-configurator, one in the others.
const HOOKS: [&str; 7] = [
    "api-pre-install",
    "api-post-install",
    "api-pre-configure",
    "api-post-configure",
    "server-post-install",
    "api-post-clientdef",
    "api-post-deploy",
];

const KILLS: usize = 25;

/// An opkg source whose scripts append `start`/`end` lines to `record`
/// around a 0.3 s sleep; `failing` names a hook that fails while the file
/// `fail` exists.
fn write_opkg(dir: &Path, name: &str, record: &Path, failing: Option<(&str, &Path)>) {
    let scripts: Vec<(&str, String)> = HOOKS
        .into_iter()
        .map(|hook| {
            let fail = match failing {
                Some((failing, flag)) if failing == hook => format!(
                    "if [ -e {flag} ]; then echo \"{hook} cannot go on\"; exit 3; fi\n",
                    flag = flag.display()
                ),
                _ => String::new(),
            };
            let body = format!(
                "echo \"start {name} {hook}\" >> {record}\n{fail}sleep 0.3\necho \"output of {hook}\"\necho \"end {name} {hook}\" >> {record}",
                record = record.display()
            );
            (hook, body)
        })
        .collect();
    opkg_source(dir, name, &format!("step test opkg {name}"), &scripts);
}

/// A site whose opkgs `packages` (see [`write_opkg`]) are asked for.
fn step_site(packages: &[&str], failing: Option<&str>) -> TestContext {
    let site = TestContext::new(assert_cmd::cargo::cargo_bin("opm"));
    let record = site.path("record");
    let flag = site.path("fail");
    let sources: Vec<PathBuf> = packages
        .iter()
        .map(|name| {
            let source = site.path(&format!("src-{name}"));
            write_opkg(
                &source,
                name,
                &record,
                failing.map(|hook| (hook, flag.as_path())),
            );
            source
        })
        .collect();
    site.install(&sources, packages);
    site
}

/// How many times each script completed, by `(opkg, hook)`.
fn completed(site: &TestContext) -> BTreeMap<(String, String), usize> {
    count(site, "end ")
}

/// How many lines of the record begin with `edge`, by `(opkg, hook)`.
fn count(site: &TestContext, edge: &str) -> BTreeMap<(String, String), usize> {
    let record = std::fs::read_to_string(site.path("record")).unwrap_or_default();
    let mut lines = BTreeMap::new();
    for line in record.lines() {
        if let Some(rest) = line.strip_prefix(edge)
            && let Some((name, hook)) = rest.split_once(' ')
        {
            *lines.entry((name.to_owned(), hook.to_owned())).or_default() += 1;
        }
    }
    lines
}

fn converged(site: &TestContext, packages: &[&str]) -> bool {
    let rows: Vec<serde_json::Value> = serde_json::from_value(site.json(&["status"])).unwrap();
    rows.len() == packages.len()
        && rows
            .iter()
            .all(|row| row["current"] == "finished" && row["status"] == "ok")
}

#[test]
fn killed_runs_resume_each_stage_at_the_step_that_did_not_pass() {
    if !have_tool("dpkg") {
        return;
    }
    let packages = ["stepa", "stepb", "stepc"];
    let mut seed = 0x57e9_u64;
    let mut kills = 0;
    let mut twice = 0;
    let mut cut = 0;
    let mut clusters = 0;
    while kills < KILLS {
        let cluster = step_site(&packages, None);
        clusters += 1;
        // Killed at random moments until a run gets to the end.
        loop {
            if kills == KILLS {
                let status = cluster.spawn_run().wait().unwrap();
                assert_eq!(status.code(), Some(0), "the last run failed");
                break;
            }
            let delay = Duration::from_millis(200 + next(&mut seed) % 1_500);
            match cluster.run_killed_after(delay) {
                Some(status) => {
                    assert_eq!(status.code(), Some(0), "a resumed run failed");
                    break;
                }
                None => kills += 1,
            }
        }
        assert!(
            converged(&cluster, &packages),
            "cluster {clusters} did not converge"
        );
        let completed = completed(&cluster);
        let begun: usize = count(&cluster, "start ").values().sum();
        cut += begun - completed.values().sum::<usize>();
        for package in packages {
            for hook in HOOKS {
                let count = completed
                    .get(&(package.to_owned(), hook.to_owned()))
                    .copied()
                    .unwrap_or(0);
                assert!(count >= 1, "{package} {hook} never completed");
                twice += count - 1;
            }
        }
    }
    eprintln!(
        "{kills} kills of opm run over {clusters} clusters: {cut} scripts cut short, {twice} completed scripts ran twice"
    );
    assert!(
        cut > 0,
        "no kill hit a running script; the test proves nothing"
    );
    assert!(
        twice <= 1,
        "{twice} completed scripts ran a second time after {kills} kills"
    );
}

#[test]
fn a_failed_step_is_continued_by_retry_or_started_over_by_whole_stage() {
    if !have_tool("dpkg") {
        return;
    }
    let cluster = step_site(&["stepf"], Some("api-post-install"));
    std::fs::write(cluster.path("fail"), "").unwrap();
    let out = cluster.command().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    // The history says which step failed.
    let logs: serde_json::Value = cluster.json(&["logs", "stepf", "--node", "head"]);
    let steps = logs["steps"].as_array().unwrap();
    let results: Vec<(&str, &str)> = steps
        .iter()
        .map(|s| (s["action"].as_str().unwrap(), s["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("install opkg-stepf into this machine's root", "passed"),
            ("run api-pre-install", "passed"),
            ("run api-post-install", "failed"),
        ]
    );
    assert_eq!(steps[2]["exit_code"], 3);
    assert!(
        steps[1]["output"]
            .as_str()
            .unwrap()
            .contains("output of api-pre-install")
    );
    assert!(
        steps[2]["output"]
            .as_str()
            .unwrap()
            .contains("api-post-install cannot go on")
    );
    let text = cluster.ok(&["logs", "stepf", "--node", "head"]);
    assert!(
        text.contains("== step 3/3 run api-post-install: failed (exit 3, ")
            && text.contains("api-post-install cannot go on"),
        "{text}"
    );

    // opm retry: api-pre-install is not run again.
    let cleared = cluster.ok(&["retry", "stepf", "--node", "head"]);
    assert!(cleared.contains("at the step that failed"), "{cleared}");
    let out = cluster.command().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        completed(&cluster).get(&("stepf".into(), "api-pre-install".into())),
        Some(&1)
    );
    let logs: serde_json::Value = cluster.json(&["logs", "stepf", "--node", "head"]);
    let steps = logs["steps"].as_array().unwrap();
    assert_eq!(steps[1]["result"], "carried");
    assert!(steps[1]["passed_in"].is_i64(), "{logs}");
    assert_eq!(steps[2]["result"], "failed");

    // opm retry --whole-stage: from the first step.
    cluster.ok(&["retry", "stepf", "--node", "head", "--whole-stage"]);
    let history: serde_json::Value = cluster.json(&["history", "stepf"]);
    let retries: Vec<bool> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["event"] == "retry")
        .map(|entry| entry["whole_stage"] == true)
        .collect();
    assert_eq!(retries, [false, true]);
    let table = cluster.ok(&["history", "stepf"]);
    assert!(table.contains("(whole stage)"), "{table}");
    std::fs::remove_file(cluster.path("fail")).unwrap();
    let out = cluster.command().arg("run").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let completed = completed(&cluster);
    assert_eq!(
        completed.get(&("stepf".into(), "api-pre-install".into())),
        Some(&2)
    );
    assert_eq!(
        completed.get(&("stepf".into(), "api-post-install".into())),
        Some(&1)
    );
    assert!(converged(&cluster, &["stepf"]));
    let help = cluster.ok(&["retry", "--help"]);
    assert!(
        help.contains("--whole-stage") && help.contains("continues at the step that failed"),
        "{help}"
    );
}
