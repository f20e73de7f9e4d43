//! Every kind of bad input through the real `opm` binary: exit 2, a
//! message that names the thing, and the SQLite file byte for byte as it
//! was (SPEC §4: "bad usage or bad input (nothing changed)").

// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

use opm_testkit::TestContext;

/// The `opm` binary under test.
const OPM: &str = env!("CARGO_BIN_EXE_opm");

/// A site with a head node, an image, a node and one installed opkg.
fn populated() -> TestContext {
    let site = TestContext::initialised(OPM);
    std::fs::create_dir(site.path("img")).unwrap();
    site.ok(&["image", "add", "compute", "--path", "img"]);
    site.ok(&["node", "add", "n1"]);
    let p = site.opkg("pkg", "");
    site.ok(&["opkg", "import", &p]);
    site.ok(&["install", "pkg"]);
    site
}

#[test]
fn unknown_opkgs_are_refused() {
    let site = populated();
    let needle = "unknown opkg 'nosuch'";
    site.refused(&["install", "nosuch"], needle);
    site.refused(&["install", "pkg", "nosuch"], needle);
    site.refused(&["remove", "nosuch"], needle);
    site.refused(
        &["request", "nosuch", "--stage", "finished", "--server"],
        needle,
    );
    site.refused(&["config", "set", "nosuch", "a=1"], needle);
    site.refused(&["config", "show", "nosuch"], needle);
    site.refused(&["retry", "nosuch", "--node", "head"], needle);
    site.refused(
        &["rerun", "nosuch", "--node", "head", "--from", "2"],
        needle,
    );
    site.refused(&["history", "nosuch"], needle);
    site.refused(&["logs", "nosuch"], needle);
    // Not even a valid opkg name.
    site.refused(&["install", "Bad_Name"], "opkg name 'Bad_Name'");
}

#[test]
fn a_mistyped_opkg_or_node_name_is_answered_with_the_name_meant() {
    let site = populated();
    let opkg = "unknown opkg 'pkk' (did you mean 'pkg'?)";
    site.refused(&["install", "pkk"], opkg);
    site.refused(&["remove", "pkk"], opkg);
    site.refused(&["request", "pkk", "--stage", "finished", "--server"], opkg);
    site.refused(&["config", "show", "pkk"], opkg);
    site.refused(&["retry", "pkk", "--node", "head"], opkg);
    site.refused(&["history", "pkk"], opkg);
    // Two letters swapped.
    site.refused(
        &["install", "pgk"],
        "unknown opkg 'pgk' (did you mean 'pkg'?)",
    );
    let node = "unknown node 'n2' (did you mean 'n1'?)";
    site.refused(&["node", "remove", "n2"], node);
    site.refused(&["node", "token", "n2"], node);
    site.refused(
        &["request", "pkg", "--stage", "finished", "--node", "n2"],
        node,
    );
    site.refused(
        &["retry", "pkg", "--node", "hed"],
        "unknown node 'hed' (did you mean 'head'?)",
    );
    // Nothing close: no guess.
    let far = site.refused(&["install", "zzzzzz"], "unknown opkg 'zzzzzz'");
    assert!(!far.contains("did you mean"), "{far}");
}

#[test]
fn unknown_nodes_images_groups_and_missing_rows_are_refused() {
    let site = populated();
    site.refused(
        &["request", "pkg", "--stage", "finished", "--node", "n9"],
        "unknown node 'n9'",
    );
    site.refused(
        &["request", "pkg", "--stage", "finished", "--image", "i9"],
        "unknown image 'i9'",
    );
    site.refused(
        &["request", "pkg", "--stage", "finished", "--group", "g9"],
        "group 'g9' has no nodes",
    );
    site.refused(&["install", "pkg", "--group", "g9"], "unknown group 'g9'");
    site.refused(&["node", "remove", "n9"], "unknown node 'n9'");
    site.refused(&["node", "remove", "head"], "'head' is the head node");
    site.refused(&["node", "add", "n1"], "node 'n1' already exists");
    site.refused(
        &["node", "add", "n2", "--image", "i9"],
        "unknown image 'i9'",
    );
    site.refused(&["image", "remove", "i9"], "unknown image 'i9'");
    site.refused(
        &["image", "add", "compute", "--path", "img"],
        "image 'compute' already exists",
    );
    site.refused(
        &["image", "add", "other", "--path", "no-such-dir"],
        "image root no-such-dir",
    );
    site.refused(&["retry", "pkg", "--node", "n9"], "unknown node 'n9'");
    site.refused(&["history", "--image", "i9"], "unknown image 'i9'");
    site.refused(
        &["config", "set", "pkg", "a=1", "--image", "i9"],
        "unknown image 'i9'",
    );
    // n1 exists but has no row of pkg yet.
    site.refused(
        &["retry", "pkg", "--node", "n1"],
        "no row for node n1 / pkg",
    );
    site.refused(&["logs", "pkg", "--node", "n1"], "no row for node n1 / pkg");
    // A row that is fine needs no retry, and has nothing to rerun.
    site.refused(&["retry", "pkg", "--node", "head"], "is not in error");
    site.refused(
        &["rerun", "pkg", "--node", "head", "--from", "finished"],
        "cannot rerun from finished",
    );
    site.refused(&["logs", "pkg"], "has no attempts yet");
    site.refused(&["logs", "--attempt", "42"], "attempt 42 does not exist");
}

#[test]
fn unknown_stages_and_phases_and_bad_usage_are_refused() {
    let site = populated();
    site.refused(
        &[
            "request",
            "pkg",
            "--stage",
            "should-be-installed",
            "--server",
        ],
        "should-be-installed",
    );
    site.refused(&["request", "pkg", "--stage", "9", "--server"], "'9'");
    site.refused(&["cluster", "phase", "done"], "'done'");
    site.refused(
        &["rerun", "pkg", "--node", "head", "--from", "later"],
        "'later'",
    );
    // Exactly one target.
    site.refused(&["request", "pkg", "--stage", "finished"], "--server");
    site.refused(
        &["request", "pkg", "--stage", "2", "--server", "--node", "n1"],
        "cannot be used with",
    );
    site.refused(&["retry", "pkg"], "--node");
    site.refused(
        &["config", "set", "pkg", "novalue"],
        "'novalue' is not NAME=VALUE",
    );
    site.refused(
        &["config", "set", "pkg", "a=1", "9x=2"],
        "configuration name '9x'",
    );
}

#[test]
fn an_invalid_opkg_imports_nothing() {
    let site = TestContext::initialised(OPM);
    let good = site.opkg("good", "");
    std::fs::create_dir_all(site.path("opkgs/bad")).unwrap();
    site.opkg_file("bad", "config.xml", "<oscar><name>bad</name>");
    let stderr = site.refused(
        &["opkg", "import", &good, "opkgs/bad"],
        "opkgs/bad/config.xml:1:",
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    site.refused(&["opkg", "import", "opkgs/none"], "opkgs/none");
    std::fs::create_dir_all(site.path("opkgs/empty")).unwrap();
    site.refused(
        &["opkg", "import", &good, "opkgs/empty"],
        "has no config.xml",
    );
    site.refused(&["opkg", "import", &good, &good], "give each opkg once");
    assert_eq!(site.json(&["opkg", "list"]), serde_json::json!([]));
}

#[test]
fn a_configurator_field_that_does_not_exist_is_refused() {
    let site = TestContext::initialised(OPM);
    let p = site.opkg("pkg", "");
    site.opkg_file(
        "pkg",
        "configurator.html",
        "<form><input name=nodes value=4><input type=checkbox name=opt value=x checked></form>",
    );
    site.ok(&["opkg", "import", &p]);
    site.refused(
        &["config", "set", "pkg", "nodes=8", "node=8"],
        "pkg's configurator.html has no field 'node'; its fields are: nodes, opt",
    );
}

#[test]
fn init_refuses_a_conf_that_is_not_a_server_and_creates_nothing() {
    let site = TestContext::new(OPM);
    std::fs::write(site.path("opm.conf"), "client\nn1\n").unwrap();
    let out = site.opm(&["init"]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("this machine is client 'n1', but opm init runs on the head node only"),
        "{}",
        out.stderr
    );
    assert!(!site.db().exists());
    std::fs::write(site.path("opm.conf"), "server\nhead\nextra\n").unwrap();
    let out = site.opm(&["init"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("opm.conf"), "{}", out.stderr);
    assert!(!site.db().exists());
    // Another head node name for an existing database.
    std::fs::write(site.path("opm.conf"), "server\nhead\n").unwrap();
    site.ok(&["init"]);
    std::fs::write(site.path("opm.conf"), "server\nother\n").unwrap();
    site.refused(&["init"], "already registered as 'head', not 'other'");
}

#[test]
fn a_database_that_is_missing_foreign_or_read_only_is_refused() {
    let site = TestContext::new(OPM);
    let out = site.opm(&["node", "list"]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("run 'opm init' first"),
        "{}",
        out.stderr
    );
    assert!(!site.db().exists(), "only init creates the database");

    std::fs::write(site.db(), "just some text\n").unwrap();
    site.refused(&["status"], "not an opm database");
    site.refused(&["init"], "not an opm database");

    let site = TestContext::initialised(OPM);
    std::fs::set_permissions(site.db(), std::fs::Permissions::from_mode(0o444)).unwrap();
    site.refused(&["status"], "not writable");
    site.refused(&["cluster", "phase", "complete"], "not writable");
    site.refused(&["init"], "not writable");

    let site = TestContext::initialised(OPM);
    // A PostgreSQL server that is not there: said so, exit 2.
    let out = site.opm_db("postgres://db.invalid/opm", &["status"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    assert!(out.stderr.contains("check the URL"), "{}", out.stderr);
    let out = site.opm_db("sqlite:missing-dir/opm.db", &["init"]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
}

#[test]
fn the_comparison_sees_a_change() {
    // The unchanged-database checks above mean something only if a real
    // change shows up in the comparison.
    let site = populated();
    let Some(before) = site.dump() else { return };
    site.ok(&["cluster", "phase", "netboot"]);
    assert_ne!(site.dump(), Some(before));
}
