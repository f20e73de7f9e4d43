//! Drift end to end (SPEC §1.9, issue 19 item 3): packages removed or
//! changed behind opm's back with the real dpkg, in sandbox roots, found by
//! `opm verify` (the head node and an image by the CLI, a node by its real
//! agent process over the agents' API) and brought back by `opm repair`;
//! and the faults around it: a database that cannot be read, a missing
//! tool, an agent speaking for another node.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use opm_testkit::TestContext;
use opm_testkit::context::status_rows;
use serde_json::Value;

use opm_testkit::sandbox::{image_unavailable, installed, make_image};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");

/// A head node with a database and a repository packed from the motd
/// example.
fn site() -> TestContext {
    let site = TestContext::new(env!("CARGO_BIN_EXE_opm"));
    site.pack_and_import(&[&format!("{EXAMPLES}/motd")]);
    site
}

/// Node `node`'s token.
fn token(site: &TestContext, node: &str) -> String {
    std::fs::read_to_string(site.path(&format!("{node}/token"))).unwrap()
}

/// `opm status --json`, keyed by (target, package).
fn rows(site: &TestContext) -> BTreeMap<(String, String), Value> {
    status_rows(&site.expect(&["--json", "status"], 0).stdout)
}

/// `target`'s motd row (null until it exists).
fn motd_row(site: &TestContext, target: &str) -> Value {
    rows(site)
        .remove(&(target.to_owned(), "motd".to_owned()))
        .unwrap_or(Value::Null)
}

/// Waits until `target`'s motd row has `current` and `status`.
fn wait_for(site: &TestContext, target: &str, current: &str, status: &str) -> Value {
    let started = Instant::now();
    loop {
        let row = motd_row(site, target);
        if row["current"] == current && row["status"] == status {
            return row;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{target} / motd never reached {current} / {status}: {row:#}\nserver log:\n{}",
            std::fs::read_to_string(site.path("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The installed version of `package` in `root`, by the real dpkg-query.
fn version_in(root: &Path, package: &str) -> String {
    let output = Command::new("dpkg-query")
        .arg(format!("--root={}", root.display()))
        .args(["--show", "--showformat=${Version}", package])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()
}

/// `dpkg -r` behind opm's back, as an admin would.
fn dpkg_remove(root: &Path, package: &str) {
    let status = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg(format!("--log={}", root.join("var/log/dpkg.log").display()))
        .args([
            "--force-script-chrootless",
            "--force-depends",
            "-r",
            package,
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// `dpkg -i` of a file behind opm's back.
fn dpkg_install(root: &Path, file: &Path) {
    let status = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg(format!("--log={}", root.join("var/log/dpkg.log").display()))
        .args(["--force-script-chrootless", "--force-downgrade", "-i"])
        .arg(file)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_node_package_removed_behind_opms_back_is_drifted_until_repaired() {
    let site = site();
    site.add_node("n1");
    let server = site.server(&["--verify-interval", "0"]);
    let _agent = site.agent(
        "n1",
        &server.url(),
        &["--poll-wait", "1", "--verify-interval", "1"],
    );
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    wait_for(&site, "head", "finished", "ok");
    wait_for(&site, "n1", "finished", "ok");
    let root = site.path("n1/root");
    let version = version_in(&root, "opkg-motd-client");
    assert!(!version.is_empty());

    // Removed behind opm's back: the node's agent finds it on its own.
    dpkg_remove(&root, "opkg-motd-client");
    let row = wait_for(&site, "n1", "finished", "drifted");
    assert_eq!(
        row["message"],
        format!("opkg-motd-client is not installed (expected {version})")
    );
    // The head node's row is not touched by a node's report.
    assert_eq!(motd_row(&site, "head")["status"], "ok");
    // The plan says it waits for a repair.
    let plan = site.ok(&["plan"]);
    assert!(plan.contains("drifted"), "{plan}");

    // The repair requests install-bin-pkgs again; the agent does it.
    let repaired = site.expect(&["repair", "--node", "n1"], 0);
    assert!(
        stdout(&repaired).contains("repair: node n1 / motd: from install-bin-pkgs"),
        "{}",
        stdout(&repaired)
    );
    wait_for(&site, "n1", "finished", "ok");
    assert_eq!(version_in(&root, "opkg-motd-client"), version);
    // And a verify by the node's own CLI finds it whole.
    let verified = site.run(site.node_command("n1", &server.url()), &["verify"], 0);
    assert!(
        stdout(&verified).contains("1 row(s) checked"),
        "{}",
        stdout(&verified)
    );
}

/// The motd example at `version`, packed into `out`; the server part's file.
fn motd_at(site: &TestContext, version: &str, out: &Path) -> PathBuf {
    let source = site.path(&format!("motd-{version}"));
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!("{EXAMPLES}/motd"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(copied.success());
    let config = std::fs::read_to_string(source.join("config.xml")).unwrap();
    std::fs::write(
        source.join("config.xml"),
        config.replacen("version=\"1:3.1-2\"", &format!("version=\"{version}\""), 1),
    )
    .unwrap();
    site.ok(&[
        "pack",
        "--format",
        "deb",
        "--dist",
        "debian",
        "-o",
        out.to_str().unwrap(),
        source.to_str().unwrap(),
    ]);
    let upstream = version.split_once(':').map_or(version, |(_, rest)| rest);
    out.join(format!("opkg-motd-server_{upstream}_all.deb"))
}

#[test]
fn the_head_node_and_an_image_are_verified_where_they_live_and_repaired_by_a_pass() {
    let site = site();
    let image = match image_unavailable() {
        None => {
            let root = site.path("images/compute");
            make_image(&root).unwrap();
            site.ok(&["image", "add", "compute", "--path", root.to_str().unwrap()]);
            Some(root)
        }
        Some(why) => {
            eprintln!("SKIPPED the image part: {why}");
            None
        }
    };
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.ok(&["run"]);
    let checked = if image.is_some() { 2 } else { 1 };
    let clean = site.ok(&["verify"]);
    assert!(
        clean.contains(&format!("{checked} row(s) checked, 0 drifted")),
        "{clean}"
    );
    let head = site.path("head");
    let version = version_in(&head, "opkg-motd-server");
    assert_eq!(version, "1:3.1-2");

    // The server part removed behind opm's back: drifted, with the message
    // in verify's output, status and plan; exit 1.
    dpkg_remove(&head, "opkg-motd-server");
    let found = site.expect(&["verify"], 1);
    assert!(
        stdout(&found).contains(
            "drifted: node head / motd: opkg-motd-server is not installed (expected 1:3.1-2)"
        ),
        "{}",
        stdout(&found)
    );
    let row = motd_row(&site, "head");
    assert_eq!(row["status"], "drifted");
    assert_eq!(
        row["message"],
        "opkg-motd-server is not installed (expected 1:3.1-2)"
    );
    assert_eq!(row["current"], "finished");
    let plan = site.ok(&["plan"]);
    assert!(
        plan.contains("drifted, waiting for a repair (opm repair)"),
        "{plan}"
    );
    // A pass leaves a drifted row alone, blocked on a repair (exit 3).
    let run = site.expect(&["run"], 3);
    assert!(
        stdout(&run).contains("drifted, waiting for a repair (opm repair)"),
        "{}",
        stdout(&run)
    );
    assert_eq!(motd_row(&site, "head")["status"], "drifted");

    if let Some(root) = &image {
        dpkg_remove(root, "opkg-motd-client");
        let found = site.expect(&["verify", "--image", "compute"], 1);
        assert!(
            stdout(&found).contains(
                "drifted: image compute / motd: opkg-motd-client is not installed (expected 1:3.1-2)"
            ),
            "{}",
            stdout(&found)
        );
    }

    // verify --repair: each row from the stage that installs what drifted.
    let repaired = site.ok(&["verify", "--repair"]);
    assert!(
        repaired.contains("repair: node head / motd: from install-bin-pkgs"),
        "{repaired}"
    );
    if image.is_some() {
        assert!(
            repaired.contains("repair: image compute / motd: from install-bin-pkgs"),
            "{repaired}"
        );
    }
    site.ok(&["run"]);
    assert_eq!(motd_row(&site, "head")["status"], "ok");
    assert_eq!(motd_row(&site, "head")["current"], "finished");
    assert_eq!(version_in(&head, "opkg-motd-server"), "1:3.1-2");
    if let Some(root) = &image {
        assert_eq!(motd_row(&site, "compute")["status"], "ok");
        assert_eq!(version_in(root, "opkg-motd-client"), "1:3.1-2");
        assert!(installed(root).contains(&"opkg-motd-client".to_owned()));
    }

    // The api part gone: the repair goes back to should_be_installed, whose
    // package brings the scripts back.
    dpkg_remove(&head, "opkg-motd");
    site.expect(&["verify", "--node", "head"], 1);
    let repaired = site.ok(&["repair", "--node", "head"]);
    assert!(
        repaired.contains("repair: node head / motd: from should_be_installed"),
        "{repaired}"
    );
    site.ok(&["run"]);
    assert_eq!(version_in(&head, "opkg-motd"), "1:3.1-2");
    assert!(site.ok(&["verify"]).contains(", 0 drifted"));
}

#[test]
fn a_package_at_another_version_is_drifted_with_both_versions() {
    let site = site();
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.ok(&["run"]);
    let head = site.path("head");
    // An admin upgrades the server part by hand.
    let newer = motd_at(&site, "1:3.2-1", &site.path("newer"));
    dpkg_install(&head, &newer);
    assert_eq!(version_in(&head, "opkg-motd-server"), "1:3.2-1");
    let found = site.expect(&["--json", "verify"], 1);
    let summary: Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(summary["drifted"][0]["row"], "node head / motd");
    assert_eq!(
        summary["drifted"][0]["reason"],
        "opkg-motd-server is 1:3.2-1, expected 1:3.1-2"
    );
    // ... then back down to what opm recorded: whole again.
    let older = motd_at(&site, "1:3.1-2", &site.path("older"));
    dpkg_install(&head, &older);
    let again = site.ok(&["verify"]);
    assert!(again.contains("whole again: node head / motd"), "{again}");
    assert_eq!(motd_row(&site, "head")["status"], "ok");
}

#[test]
fn a_database_that_cannot_be_read_or_is_not_there_leaves_the_rows_as_they_are() {
    let site = site();
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    site.ok(&["run"]);
    let status_file = site.path("head/var/lib/dpkg/status");
    let good = std::fs::read(&status_file).unwrap();

    // The package database damaged: exit 1, said, the row untouched.
    std::fs::write(&status_file, "garbage without any structure\n").unwrap();
    let found = site.expect(&["verify"], 1);
    assert!(
        stdout(&found).contains("cannot verify node head: dpkg-query failed to query"),
        "{}",
        stdout(&found)
    );
    assert_eq!(motd_row(&site, "head")["status"], "ok");
    std::fs::write(&status_file, &good).unwrap();

    // No database at all (a root that is not mounted): not "all missing".
    std::fs::rename(&status_file, site.path("status.kept")).unwrap();
    let found = site.expect(&["verify"], 1);
    assert!(
        stdout(&found).contains("has no dpkg package database"),
        "{}",
        stdout(&found)
    );
    assert_eq!(motd_row(&site, "head")["status"], "ok");
    std::fs::rename(site.path("status.kept"), &status_file).unwrap();

    // The wrong backend for the root (rpm asked about a dpkg root): its
    // database is not there either, and nothing is called missing.
    if Command::new("rpm").arg("--version").output().is_ok() {
        let found = site.expect(&["--backend", "rpm", "verify"], 1);
        assert!(
            stdout(&found).contains("has no rpm package database"),
            "{}\n{}",
            stdout(&found),
            stderr(&found)
        );
        assert_eq!(motd_row(&site, "head")["status"], "ok");
    } else {
        eprintln!("SKIPPED the rpm part: rpm is not installed (apt-get install rpm)");
    }
    assert!(site.ok(&["verify"]).contains("1 row(s) checked, 0 drifted"));

    // Unknown targets are bad input: exit 2, named, nothing changed.
    for (args, said) in [
        (&["verify", "--node", "ghost"][..], "unknown node 'ghost'"),
        (&["verify", "--image", "ghost"][..], "unknown image 'ghost'"),
        (&["repair", "--node", "ghost"][..], "unknown node 'ghost'"),
        (&["repair", "--image", "ghost"][..], "unknown image 'ghost'"),
    ] {
        let refused = site.expect(args, 2);
        assert!(stderr(&refused).contains(said), "{}", stderr(&refused));
    }
    assert_eq!(motd_row(&site, "head")["status"], "ok");
}

/// One raw HTTP/1.1 POST; the status and the body.
fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    http(addr, "POST", path, token, body)
}

/// One raw HTTP/1.1 request; the status and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn a_node_reports_on_its_own_rows_only() {
    let site = site();
    site.add_node("n1");
    site.add_node("n2");
    let server = site.server(&["--verify-interval", "0"]);
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    wait_for(&site, "head", "finished", "ok");
    for node in ["n1", "n2"] {
        site.run(
            site.node_command(node, &server.url()),
            &["agent", "--once"],
            0,
        );
        wait_for(&site, node, "finished", "ok");
    }
    let n1 = token(&site, "n1");
    let admin = site.ok(&["admin", "token"]).trim().to_owned();
    let missing = r#"{"packages":{"opkg-motd-client":{"presence":"missing"}}}"#;

    // Which packages to read: the node's own, for its own token only.
    let ask = r#"{"node":"n1"}"#;
    let (code, body) = post(server.addr(), "/v1/agent/verify/ask", Some(&n1), ask);
    assert_eq!(
        (code, body.as_str()),
        (200, r#"{"packages":["opkg-motd-client"]}"#)
    );
    assert_eq!(
        post(server.addr(), "/v1/agent/verify/ask", None, ask).0,
        401
    );
    assert_eq!(
        post(server.addr(), "/v1/agent/verify/ask", Some(&admin), ask).0,
        403
    );

    // n1's token speaking for n2: refused, nothing written.
    let for_n2 = format!(r#"{{"node":"n2","inventory":{missing}}}"#);
    let (code, body) = post(server.addr(), "/v1/agent/verify", Some(&n1), &for_n2);
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("this token belongs to n1"), "{body}");
    // A body that is not a report: 400.
    let (code, _) = post(
        server.addr(),
        "/v1/agent/verify",
        Some(&n1),
        r#"{"node":"n1"}"#,
    );
    assert_eq!(code, 400);
    assert_eq!(motd_row(&site, "n1")["status"], "ok");
    assert_eq!(motd_row(&site, "n2")["status"], "ok");

    // n1 about itself: only its own row is judged, whatever else it names.
    let own = r#"{"node":"n1","inventory":{"packages":{"opkg-motd-client":{"presence":"missing"},"opkg-motd-server":{"presence":"missing"}}}}"#;
    let (code, body) = post(server.addr(), "/v1/agent/verify", Some(&n1), own);
    assert_eq!(code, 200, "{body}");
    let summary: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["checked"], 1);
    assert_eq!(summary["drifted"][0]["row"], "node n1 / motd");
    assert_eq!(motd_row(&site, "n1")["status"], "drifted");
    assert_eq!(motd_row(&site, "n2")["status"], "ok");
    assert_eq!(motd_row(&site, "head")["status"], "ok");
    // The tools' API shows the drift and what differs.
    let (code, body) = http(server.addr(), "GET", "/v1/status", Some(&admin), "");
    assert_eq!(code, 200, "{body}");
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    let n1_row = rows.iter().find(|row| row["target"] == "n1").unwrap();
    assert_eq!(n1_row["status"], "drifted");
    assert_eq!(
        n1_row["message"],
        "opkg-motd-client is not installed (expected 1:3.1-2)"
    );
    // The head node shows what n1's agent found; n1's own verify (its
    // package is in fact installed) puts it right again.
    let shown = site.expect(&["verify", "--node", "n1"], 1);
    assert!(
        stdout(&shown).contains("drifted: node n1 / motd: opkg-motd-client is not installed"),
        "{}",
        stdout(&shown)
    );
    let verified = site.run(site.node_command("n1", &server.url()), &["verify"], 0);
    assert!(
        stdout(&verified).contains("whole again: node n1 / motd"),
        "{}",
        stdout(&verified)
    );
    assert_eq!(motd_row(&site, "n1")["status"], "ok");
    // Requesting stages is the head node's: refused on a node, nothing changed.
    for args in [&["verify", "--repair"][..], &["repair"][..]] {
        let refused = site.run(site.node_command("n1", &server.url()), args, 2);
        assert!(
            stderr(&refused).contains("only the head node does"),
            "{}",
            stderr(&refused)
        );
    }
}

#[test]
fn the_server_verifies_the_head_node_on_its_own_every_interval() {
    let site = site();
    let _server = site.server(&["--verify-interval", "1"]);
    site.ok(&["install", "motd"]);
    site.ok(&["cluster", "phase", "complete"]);
    wait_for(&site, "head", "finished", "ok");
    dpkg_remove(&site.path("head"), "opkg-motd-server");
    let row = wait_for(&site, "head", "finished", "drifted");
    assert_eq!(
        row["message"],
        "opkg-motd-server is not installed (expected 1:3.1-2)"
    );
    // Repaired, the server's own passes bring it back.
    site.ok(&["repair"]);
    wait_for(&site, "head", "finished", "ok");
    assert_eq!(
        version_in(&site.path("head"), "opkg-motd-server"),
        "1:3.1-2"
    );
    let log = std::fs::read_to_string(site.path("server.log")).unwrap();
    assert!(
        log.contains("drifted: opkg-motd-server is not installed"),
        "{log}"
    );
}
