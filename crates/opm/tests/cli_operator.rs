//! The operator's commands over rows the engine has worked: `history`,
//! `logs`, `retry`, `rerun` and `config`, through the real `opm` binary.
//! The engine's attempts are written with the real store API (lease,
//! begin, finish), exactly as `opm run` records them.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary under script(1) as a real child process"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opm_model::{Name, NameKind, Stage, Target};
use opm_store::{OpenMode, Outcome, RowAfter, SqliteStore, Store};
use opm_testkit::TestContext;
use serde_json::json;

/// The `opm` binary under test.
const OPM: &str = env!("CARGO_BIN_EXE_opm");

const NOW: i64 = 1_795_000_000_000;

/// Records one attempt of `stage` on (`target`, `package`) the way the
/// engine does; a failure puts the row in error with `message`.
fn attempt(
    site: &TestContext,
    target: &Target,
    package: &str,
    stage: Stage,
    failure: Option<&str>,
) {
    let package = Name::new(NameKind::Opkg, package).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = SqliteStore::open(&site.db(), OpenMode::Existing)
                .await
                .unwrap();
            let lease = store
                .acquire_lease(target, "test-engine", 60_000, NOW)
                .await
                .unwrap();
            let row = store.row(target, &package).await.unwrap();
            let id = store
                .begin_attempt(row.id, stage, lease.token, NOW)
                .await
                .unwrap();
            let (outcome, after) = match failure {
                None => (
                    {
                        let output = format!("{stage} went fine\n");
                        Outcome {
                            passed: true,
                            exit_code: Some(0),
                            output_bytes: output.len() as u64,
                            output,
                        }
                    },
                    RowAfter {
                        current: Some(stage),
                        error: None,
                        version: None,
                    },
                ),
                Some(message) => (
                    Outcome {
                        passed: false,
                        exit_code: Some(3),
                        output: "line one\nline two: it broke\n".to_owned(),
                        output_bytes: 28,
                    },
                    RowAfter {
                        current: row.row.current,
                        error: Some(message.to_owned()),
                        version: None,
                    },
                ),
            };
            store
                .finish_attempt(id, &outcome, &after, lease.token, NOW + 1500)
                .await
                .unwrap();
            store.release_lease(target, lease.token).await.unwrap();
            store.close().await;
        });
}

fn head() -> Target {
    Target::node(Name::new(NameKind::Node, "head").unwrap())
}

fn installed_site() -> TestContext {
    let site = TestContext::initialised(OPM);
    let p = site.opkg("pkg", "");
    site.opkg_file(
        "pkg",
        "configurator.html",
        "<form><input name=nodes value=4>\
         <input type=checkbox name=opt value=x checked><input type=checkbox name=opt value=y checked></form>",
    );
    site.ok(&["opkg", "import", &p]);
    site.ok(&["install", "pkg"]);
    site
}

#[test]
fn a_failed_stage_shows_in_status_logs_and_history_and_retry_clears_it() {
    let site = installed_site();
    attempt(&site, &head(), "pkg", Stage::ShouldBeInstalled, None);
    attempt(
        &site,
        &head(),
        "pkg",
        Stage::RunConfigurator,
        Some("api-pre-configure failed (exit 3): line two: it broke"),
    );

    let out = site.opm(&["status"]);
    assert_eq!(out.code, Some(1), "rows in error exit 1");
    assert!(
        out.stdout
            .contains("error   api-pre-configure failed (exit 3): line two: it broke"),
        "{}",
        out.stdout
    );
    let out = site.opm(&["--json", "status"]);
    assert_eq!(out.code, Some(1));
    let status: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status[0]["status"], "error");
    assert_eq!(status[0]["current"], "should_be_installed");
    // --watch does not wait for an operator.
    assert_eq!(site.opm(&["status", "--watch"]).code, Some(1));

    // The last attempt of the row, by default on the head node.
    let out = site.opm(&["logs", "pkg"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "line one\nline two: it broke\n");
    assert_eq!(
        out.stderr,
        "attempt 2: node head / pkg run-configurator failed (exit 3), started 2026-11-18 11:06:40\n"
    );
    let first = site.ok(&["logs", "--attempt", "1"]);
    assert_eq!(first, "should_be_installed went fine\n");
    let logs = site.json(&["logs", "pkg", "--node", "head"]);
    assert_eq!(logs["id"], 2);
    assert_eq!(logs["output"], "line one\nline two: it broke\n");
    assert_eq!(logs["duration_ms"], 1500);

    let out = site.ok(&[
        "retry",
        "pkg",
        "--node",
        "head",
        "--reason",
        "fixed the form",
    ]);
    assert_eq!(
        out,
        "cleared the error of node head / pkg; run-configurator runs again at the step that failed on the next 'opm run'\n"
    );
    assert_eq!(site.opm(&["status"]).code, Some(0));
    let history = site.json(&["history", "pkg"]);
    let events: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap(),
                e["result"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![("attempt", "passed"), ("attempt", "failed"), ("retry", "-")]
    );
    assert_eq!(history[2]["note"], "fixed the form");
    assert_eq!(history[1]["exit_code"], 3);
    assert!(
        history[0].get("output").is_none(),
        "history lists, logs shows"
    );
    // The retry happened now; its time is replaced by a same-width mark.
    let retried = history[2]["started"].as_str().unwrap();
    let text = site
        .ok(&["history", "--node", "head"])
        .replace(retried, "YYYY-MM-DD HH:MM:SS");
    insta::assert_snapshot!("history_text", text);
    // A second retry has nothing to clear.
    site.refused(&["retry", "pkg", "--node", "head"], "is not in error");
}

#[test]
fn rerun_sets_current_back_and_is_recorded() {
    let site = installed_site();
    attempt(&site, &head(), "pkg", Stage::ShouldBeInstalled, None);
    attempt(&site, &head(), "pkg", Stage::RunConfigurator, None);
    site.refused(
        &[
            "rerun",
            "pkg",
            "--node",
            "head",
            "--from",
            "install-bin-pkgs",
        ],
        "cannot rerun from install-bin-pkgs: current is run-configurator",
    );
    let out = site.ok(&[
        "rerun",
        "pkg",
        "--node",
        "head",
        "--from",
        "run-configurator",
    ]);
    assert_eq!(
        out,
        "node head / pkg: current is now should_be_installed; stages from run-configurator up to finished run again on the next 'opm run'\n"
    );
    let status = site.json(&["status"]);
    assert_eq!(status[0]["current"], "should_be_installed");
    let history = site.json(&["history", "pkg", "--node", "head"]);
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["event"], "rerun");
    assert_eq!(last["stage"], "run-configurator");
    let limited = site.json(&["history", "--limit", "1"]);
    assert_eq!(limited.as_array().unwrap().len(), 1);
    assert_eq!(limited[0]["event"], "rerun");
}

#[test]
fn config_values_override_the_form_defaults_per_opkg_and_per_image() {
    let site = installed_site();
    std::fs::create_dir(site.path("img")).unwrap();
    site.ok(&["image", "add", "compute", "--path", "img"]);
    let shown = site.json(&["config", "show", "pkg"]);
    assert_eq!(
        shown,
        json!({"package": "pkg", "image": null, "values": [
            {"name": "nodes", "default": ["4"], "set": null, "value": "4"},
            {"name": "opt", "default": ["x", "y"], "set": null, "value": "x,y"},
        ]})
    );
    assert_eq!(
        site.ok(&["config", "set", "pkg", "nodes=8"]),
        "pkg: nodes=8 (every target)\n"
    );
    assert_eq!(
        site.json(&[
            "config", "set", "pkg", "nodes=2", "opt=y", "--image", "compute"
        ]),
        json!({"package": "pkg", "image": "compute", "set": {"nodes": "2", "opt": "y"}})
    );
    let shown = site.json(&["config", "show", "pkg"]);
    assert_eq!(shown["values"][0]["value"], "8");
    assert_eq!(shown["values"][0]["set"], "8");
    let shown = site.json(&["config", "show", "pkg", "--image", "compute"]);
    assert_eq!(shown["values"][0]["value"], "2");
    assert_eq!(shown["values"][1]["value"], "y");
    insta::assert_snapshot!("config_show_text", site.ok(&["config", "show", "pkg"]));
}

#[test]
fn status_watch_redraws_until_the_rows_settle() {
    let site = installed_site();
    let mut watch = site
        .command()
        .args(["--json", "status", "--watch"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let it draw the unsettled row at least once, then settle it.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        watch.try_wait().unwrap().is_none(),
        "a pending row keeps it watching"
    );
    site.ok(&["request", "pkg", "--stage", "1", "--server"]);
    // A guard against hanging, not a timing claim.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while watch.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "status --watch never returned"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = watch.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let frames: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert!(frames.len() >= 2, "{frames:?}");
    assert_eq!(frames[0][0]["requested"], "finished");
    assert_eq!(
        frames.last().unwrap()[0]["requested"],
        "should_not_be_installed"
    );
}

#[test]
fn status_watch_on_a_terminal_redraws_in_place_under_a_header_until_interrupted() {
    if !opm_testkit::tools::have_tool("script") || !opm_testkit::tools::have_tool("timeout") {
        return;
    }
    let site = installed_site();
    // The rows settle: off a terminal --watch would return at once.
    site.ok(&["request", "pkg", "--stage", "1", "--server"]);
    let mut watch = site.command();
    watch.args(["status", "--watch"]);
    let mut line = format!(
        "timeout -s INT --preserve-status 3 {:?}",
        watch.get_program()
    );
    for arg in watch.get_args() {
        line.push_str(&format!(" '{}'", arg.to_str().unwrap()));
    }
    // `script` gives opm a terminal (a pty) and copies what it draws.
    let output = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .envs(watch.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(site.dir())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    // Interrupted after 3 s, it ends as the last picture says: no error.
    assert_eq!(output.status.code(), Some(0), "{screen}");
    let pictures = screen.matches("\x1b[H").count();
    assert!(pictures >= 2, "redrawn in place: {screen:?}");
    assert_eq!(screen.matches("\x1b[2J").count(), 1, "{screen:?}");
    let headers: Vec<&str> = screen
        .split("\x1b[H")
        .skip(1)
        .map(|picture| picture.split("\x1b[K").next().unwrap())
        .collect();
    assert!(
        headers.iter().all(|header| header.starts_with("phase ")
            && header.contains("1 rows: 1 done, 0 running, 0 in error, 0 to do;")
            && header.ends_with(" UTC")),
        "{headers:?}"
    );
    assert!(screen.contains("should_not_be_installed"), "{screen:?}");
}
