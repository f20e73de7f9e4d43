//! The admin's commands end to end through the real `opm` binary and a
//! real SQLite file: init, opkg import/list, nodes, images, install,
//! remove, request, cluster phase and status, read back as the engine and
//! scripts would see them.

// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use opm_testkit::TestContext;
use opm_testkit::source::{conflicts, provides, requires};
use serde_json::{Value, json};

/// The `opm` binary under test.
const OPM: &str = env!("CARGO_BIN_EXE_opm");

/// (target, package) -> requested, from `status --json`.
fn requested(site: &TestContext) -> Vec<(String, String, String)> {
    let status = site.json(&["status"]);
    let mut rows: Vec<(String, String, String)> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r["kind"].as_str().unwrap(),
                    r["target"].as_str().unwrap()
                ),
                r["package"].as_str().unwrap().to_owned(),
                r["requested"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn row(target: &str, package: &str, requested: &str) -> (String, String, String) {
    (target.to_owned(), package.to_owned(), requested.to_owned())
}

#[test]
fn init_registers_the_head_node_and_is_idempotent() {
    let site = TestContext::new(OPM);
    let out = site.ok(&["init"]);
    assert_eq!(
        site.filter(&out),
        "database [SITE]/opm.db ready; head node head\n"
    );
    site.ok(&["init"]);
    let nodes = site.json(&["node", "list"]);
    assert_eq!(
        nodes,
        json!([{"name": "head", "head": true, "image": null, "groups": [],
                "last_seen_ms": null, "agent": null, "address": null}])
    );
    assert_eq!(site.ok(&["cluster", "phase"]), "setup_wizard\n");
}

#[test]
fn import_registers_metadata_and_resolves_relations_among_opkgs() {
    let site = TestContext::initialised(OPM);
    let munge = site.opkg("munge", &provides("authd"));
    let slurm = site.opkg(
        "slurm",
        &format!("{}\n{}", conflicts("opkg-torque"), requires("authd")),
    );
    let out = site.ok(&["opkg", "import", &slurm, &munge]);
    assert_eq!(
        site.filter(&out),
        "imported slurm 1.0-1 from [SITE]/opkgs/slurm; depends on munge\n\
         imported munge 1.0-1 from [SITE]/opkgs/munge\n"
    );
    // torque arrives later: slurm's conflict with it is resolved then.
    let torque = site.opkg("torque", &requires("opkg-munge-client"));
    let out = site.ok(&["opkg", "import", &torque]);
    assert_eq!(
        out,
        "imported torque 1.0-1 from ".to_owned()
            + &std::fs::canonicalize(site.path("opkgs/torque"))
                .unwrap()
                .display()
                .to_string()
            + "; depends on munge\nupdated slurm 1.0-1; depends on munge; conflicts with torque\n"
    );
    let list = site.json(&["opkg", "list"]);
    let slurm = list
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "slurm")
        .unwrap();
    assert_eq!(slurm["version"], "1.0-1");
    assert_eq!(slurm["summary"], "The slurm test opkg");
    assert_eq!(slurm["depends"], json!(["munge"]));
    assert_eq!(slurm["conflicts"], json!(["torque"]));
    let text = site.ok(&["opkg", "list"]);
    insta::assert_snapshot!("opkg_list", text);
}

#[test]
fn nodes_and_images_are_added_listed_and_removed() {
    let site = TestContext::initialised(OPM);
    std::fs::create_dir(site.path("img")).unwrap();
    site.ok(&["image", "add", "compute", "--path", "img"]);
    site.ok(&["node", "add", "n1"]);
    site.ok(&["node", "add", "n2", "--group", "gpu", "--image", "compute"]);
    insta::assert_snapshot!("node_list", site.ok(&["node", "list"]));
    let images = site.json(&["image", "list"]);
    assert_eq!(images[0]["name"], "compute");
    assert_eq!(
        images[0]["path"],
        std::fs::canonicalize(site.path("img"))
            .unwrap()
            .display()
            .to_string()
    );
    site.refused(&["image", "remove", "compute"], "used by node(s) n2");
    site.ok(&["node", "remove", "n2"]);
    assert_eq!(
        site.json(&["image", "remove", "compute"]),
        json!({"removed": "compute", "rows": []})
    );
    assert_eq!(site.json(&["image", "list"]), json!([]));
    let added = site.json(&["image", "add", "other", "--path", "img"]);
    assert_eq!(added["name"], "other");
    let names: Vec<Value> = site
        .json(&["node", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("head"), json!("n1")]);
}

#[test]
fn install_requests_head_and_images_and_late_nodes_get_rows() {
    let site = TestContext::initialised(OPM);
    std::fs::create_dir(site.path("img")).unwrap();
    site.ok(&["image", "add", "compute", "--path", "img"]);
    site.ok(&["node", "add", "n1"]);
    site.ok(&["node", "add", "g1", "--group", "gpu"]);
    let a = site.opkg("alpha", "");
    let b = site.opkg("beta", "");
    site.ok(&["opkg", "import", &a, &b]);
    let out = site.ok(&["install", "alpha"]);
    assert_eq!(
        out,
        "request finished on node head / alpha (new row)\n\
         request finished on image compute / alpha (new row)\n"
    );
    site.ok(&["install", "beta", "--group", "gpu"]);
    // Nodes get their rows from orchestration, not from install.
    assert_eq!(
        requested(&site),
        vec![
            row("image compute", "alpha", "finished"),
            row("image compute", "beta", "finished"),
            row("node head", "alpha", "finished"),
            row("node head", "beta", "finished"),
        ]
    );
    let list = site.json(&["opkg", "list"]);
    assert_eq!(list[0]["groups"], json!(["oscar_clients"]));
    assert_eq!(list[1]["groups"], json!(["gpu"]));
    // An image added later gets what is installed.
    std::fs::create_dir(site.path("img2")).unwrap();
    let added = site.ok(&["image", "add", "later", "--path", "img2"]);
    assert!(
        added.ends_with(
            "\n  request finished on image later / alpha (new row)\n  request finished on image later / beta (new row)\n"
        ),
        "{added}"
    );
    site.ok(&["image", "remove", "later"]);
    // Installing again changes nothing.
    assert_eq!(
        site.ok(&["install", "alpha"]),
        "already requested; nothing to change\n"
    );

    // Before `complete` a new node waits for orchestration...
    site.ok(&["node", "add", "n2"]);
    assert!(!requested(&site).iter().any(|(t, _, _)| t == "node n2"));
    // ...after it, the node gets its groups' opkgs right away.
    site.ok(&["cluster", "phase", "complete"]);
    let out = site.ok(&["node", "add", "n3"]);
    assert_eq!(
        out,
        "added node n3 (groups: oscar_clients)\n  request finished on node n3 / alpha (new row)\n"
    );
    let added = site.json(&["node", "add", "g2", "--group", "gpu"]);
    assert_eq!(
        added,
        json!({"added": "g2", "groups": ["gpu"], "requests": [
            {"target": "g2", "kind": "node", "package": "beta",
             "requested": "finished", "created": true}
        ]})
    );
    let rows = requested(&site);
    assert!(rows.contains(&row("node n3", "alpha", "finished")));
    assert!(rows.contains(&row("node g2", "beta", "finished")));
    assert!(!rows.iter().any(|(t, p, _)| t == "node g2" && p == "alpha"));

    // Removing a node drops its rows.
    let removed = site.json(&["node", "remove", "n3"]);
    assert_eq!(removed["removed"], "n3", "{removed}");
    assert_eq!(removed["rows"][0]["package"], "alpha", "{removed}");
    assert!(!requested(&site).iter().any(|(t, _, _)| t == "node n3"));
}

#[test]
fn a_conflict_on_one_target_refuses_the_later_request() {
    let site = TestContext::initialised(OPM);
    let slurm = site.opkg("slurm", &conflicts("opkg-torque-server"));
    let torque = site.opkg("torque", "");
    site.ok(&["opkg", "import", &slurm, &torque]);
    site.ok(&["install", "torque"]);
    site.refused(
        &["install", "slurm"],
        "slurm conflicts with torque, which is installed or requested on node head",
    );
    // Within one command the later one is the error, and nothing is written.
    let site = TestContext::initialised(OPM);
    let slurm = site.opkg("slurm", &conflicts("opkg-torque-server"));
    let torque = site.opkg("torque", "");
    site.ok(&["opkg", "import", &slurm, &torque]);
    site.refused(
        &["install", "slurm", "torque"],
        "torque conflicts with slurm, which is installed or requested on node head",
    );
    assert_eq!(site.json(&["status"]), json!([]));
    site.ok(&["request", "slurm", "--stage", "finished", "--server"]);
    site.refused(
        &["request", "torque", "--stage", "finished", "--server"],
        "torque conflicts with slurm",
    );
    // Requesting it down is never a conflict.
    site.ok(&["request", "torque", "--stage", "1", "--server"]);
}

#[test]
fn remove_is_refused_while_a_dependent_is_wanted() {
    let site = TestContext::initialised(OPM);
    site.ok(&["node", "add", "n1"]);
    let munge = site.opkg("munge", "");
    let slurm = site.opkg("slurm", &requires("opkg-munge"));
    let other = site.opkg("other", "");
    site.ok(&["opkg", "import", &munge, &slurm, &other]);
    site.ok(&["install", "munge", "slurm", "other"]);
    site.ok(&["request", "munge", "--stage", "finished", "--node", "n1"]);
    site.refused(
        &["remove", "munge"],
        "cannot remove munge: slurm depends on it and is installed or requested on the head node",
    );
    // Named together they go together; the other opkg stays.
    let out = site.ok(&["remove", "munge", "slurm"]);
    assert_eq!(
        out,
        "request should_not_be_installed on node head / munge\n\
         request should_not_be_installed on node n1 / munge\n\
         request should_not_be_installed on node head / slurm\n"
    );
    assert!(requested(&site).contains(&row("node head", "other", "finished")));

    let site = TestContext::initialised(OPM);
    let munge = site.opkg("munge", "");
    let slurm = site.opkg("slurm", &requires("opkg-munge"));
    site.ok(&["opkg", "import", &munge, &slurm]);
    site.ok(&["install", "munge", "slurm"]);
    site.ok(&["remove", "munge", "--with-dependents"]);
    assert_eq!(
        requested(&site),
        vec![
            row("node head", "munge", "should_not_be_installed"),
            row("node head", "slurm", "should_not_be_installed"),
        ]
    );
    assert_eq!(
        site.ok(&["remove", "munge"]),
        "not installed or requested; nothing to change\n"
    );
}

#[test]
fn request_sets_rows_on_each_kind_of_target() {
    let site = TestContext::initialised(OPM);
    std::fs::create_dir(site.path("img")).unwrap();
    site.ok(&["image", "add", "compute", "--path", "img"]);
    site.ok(&["node", "add", "n1", "--group", "rack1"]);
    site.ok(&["node", "add", "n2", "--group", "rack1"]);
    site.ok(&["node", "add", "n3"]);
    let p = site.opkg("pkg", "");
    site.ok(&["opkg", "import", &p]);
    site.ok(&["request", "pkg", "--stage", "run-configurator", "--server"]);
    site.ok(&["request", "pkg", "--stage", "4", "--image", "compute"]);
    site.ok(&["request", "pkg", "--stage", "finished", "--group", "rack1"]);
    site.ok(&[
        "request",
        "pkg",
        "--stage",
        "should_be_installed",
        "--node",
        "n3",
    ]);
    assert_eq!(
        requested(&site),
        vec![
            row("image compute", "pkg", "install-bin-pkgs"),
            row("node head", "pkg", "run-configurator"),
            row("node n1", "pkg", "finished"),
            row("node n2", "pkg", "finished"),
            row("node n3", "pkg", "should_be_installed"),
        ]
    );
    insta::assert_snapshot!("status_text", site.ok(&["status"]));
    let status = site.json(&["status"]);
    assert_eq!(
        status[0],
        json!({
            "target": "head", "kind": "node", "package": "pkg",
            "requested": "run-configurator", "current": "should_not_be_installed",
            "status": "ok", "message": "", "version": null, "wanted_version": "1.0-1"
        })
    );
}

#[test]
fn status_watch_returns_once_everything_is_settled() {
    let site = TestContext::initialised(OPM);
    let p = site.opkg("pkg", "");
    site.ok(&["opkg", "import", &p]);
    // Nothing requested: settled at the first look.
    let out = site.ok(&["status", "--watch", "--json"]);
    assert_eq!(out, "[]\n");
    site.ok(&[
        "request",
        "pkg",
        "--stage",
        "should_not_be_installed",
        "--server",
    ]);
    let out = site.ok(&["status", "--watch"]);
    assert!(out.contains("should_not_be_installed"), "{out}");
}

#[test]
fn cluster_phase_is_shown_and_set() {
    let site = TestContext::initialised(OPM);
    for phase in [
        "build_image",
        "addclients",
        "netboot",
        "post_install",
        "test_install",
        "complete",
        "setup_wizard",
    ] {
        assert_eq!(site.ok(&["cluster", "phase", phase]), format!("{phase}\n"));
        assert_eq!(site.json(&["cluster", "phase"]), json!({"phase": phase}));
    }
}

#[test]
fn relations_under_dist_filters_count_for_the_dist_given() {
    let filtered = "  <requires>\n    <filters>\n      <dist>debian</dist>\n    </filters>\n    <pkg>opkg-munge</pkg>\n  </requires>";
    let site = TestContext::initialised(OPM);
    let munge = site.opkg("munge", "");
    let slurm = site.opkg("slurm", filtered);
    site.ok(&["opkg", "import", &munge, &slurm]);
    assert_eq!(site.json(&["opkg", "list"])[1]["depends"], json!([]));
    site.ok(&["opkg", "import", "--dist", "debian-12", &munge, &slurm]);
    assert_eq!(site.json(&["opkg", "list"])[1]["depends"], json!(["munge"]));
}
