//! An upgrade end to end (SPEC §1.9, issue 19): `opm server` on the head
//! node with an image, three `opm agent`s with dpkg and one with rpm, each
//! in its own sandbox root. An opkg is installed at 1.0-1 everywhere; 2.0-1
//! is imported and `opm upgrade` brings every row there: the installed
//! versions in every root, the scripts that ran again (and saw
//! `OPM_UPGRADE_FROM`/`OPM_UPGRADE_TO`), the status' versions, and then an
//! uninstall that runs the scripts of the version installed (the 2.0-1
//! ones), are all checked. Downgrades and pins are checked on the way.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use opm_testkit::{Agent, Server, TestContext};
use serde_json::Value;

use opm_testkit::sandbox::{image_unavailable, make_image};
use opm_testkit::source::opkg_source_at;

const PACKAGE: &str = "upg";
const DEB_NODES: [&str; 3] = ["n1", "n2", "n3"];
const RPM_NODE: &str = "r1";

/// The opkg at `version`: every script appends `<version> <hook> from=…
/// to=…` to `marks` in its package dir (in the root it runs in).
fn source(dir: &Path, version: &str) -> PathBuf {
    let source = dir.join(format!("src-{version}"));
    let scripts: Vec<(&str, String)> = [
        "api-post-install",
        "server-post-install",
        "api-post-image",
        "api-post-clientdef",
        "api-post-deploy",
        "client-post-install",
        "client-pre-uninstall",
        "client-post-uninstall",
        "server-pre-uninstall",
        "server-post-uninstall",
    ]
    .into_iter()
    .map(|hook| {
        // The uninstall scripts mark a directory that outlives the package.
        let marks = if hook.ends_with("uninstall") {
            "../../../../../var/lib/upg-marks"
        } else {
            "marks"
        };
        let body = format!(
            "mkdir -p \"$(dirname {marks})\"\n\
             echo \"{version} {hook} from=${{OPM_UPGRADE_FROM:-}} to=${{OPM_UPGRADE_TO:-}}\" >> {marks}"
        );
        (hook, body)
    })
    .collect();
    opkg_source_at(
        &source,
        PACKAGE,
        version,
        "an opkg that is upgraded",
        &scripts,
    );
    source
}

/// Packs `source` into the deb and the rpm repositories.
fn pack(site: &TestContext, source: &Path) {
    for (format, repo) in [("deb", "repo"), ("rpm", "repo-rpm")] {
        let repo = site.path(repo);
        site.ok(&[
            "pack",
            "--format",
            format,
            "-o",
            repo.to_str().unwrap(),
            source.to_str().unwrap(),
        ]);
    }
}

/// Registers node `name` and starts its agent with `backend`.
fn start_agent(site: &TestContext, name: &str, backend: &str, server: &Server) -> Agent {
    site.add_node(name);
    let repo = if backend == "rpm" { "repo-rpm" } else { "repo" };
    let mut command = site.node_command(name, &server.url());
    command
        .env("OPM_REPO", site.path(repo))
        .env("OPM_BACKEND", backend);
    site.spawn_agent(name, command, &["--poll-wait", "2"])
}

/// `opm status --json`, by target.
fn rows_by_target(site: &TestContext) -> BTreeMap<String, Value> {
    let rows: Vec<Value> = serde_json::from_str(&site.ok(&["--json", "status"])).unwrap();
    rows.into_iter()
        .map(|row| (row["target"].as_str().unwrap().to_owned(), row))
        .collect()
}

/// Waits until every row of `targets` is at `current`, ok, with
/// `version` recorded and no upgrade under way.
fn wait_for(site: &TestContext, targets: &[&str], current: &str, version: Option<&str>) {
    let started = Instant::now();
    loop {
        let status = rows_by_target(site);
        let done = targets.iter().all(|target| {
            status.get(*target).is_some_and(|row| {
                row["current"] == current
                    && row["status"] == "ok"
                    && row["version"].as_str() == version
                    && row.get("upgrade_from").is_none()
            })
        });
        if done {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "rows of {targets:?} never reached {current} at {version:?}: {status:#?}\n\
             server log:\n{}",
            std::fs::read_to_string(site.path("server.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The marks the scripts left in `root`'s package dir (or, for the
/// uninstall scripts, beside it).
fn marks(root: &Path, file: &str) -> Vec<String> {
    let path = if file == "marks" {
        root.join("usr/lib/oscar/packages").join(PACKAGE).join(file)
    } else {
        root.join(file)
    };
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The versions dpkg records in `root`, by package.
fn deb_versions(root: &Path) -> BTreeMap<String, String> {
    let out = Command::new("dpkg-query")
        .arg(format!("--root={}", root.display()))
        .args(["-W", "-f", "${Package} ${Version} ${db:Status-Status}\n"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.ends_with(" installed"))
        .filter_map(|line| {
            let mut fields = line.split(' ');
            Some((fields.next()?.to_owned(), fields.next()?.to_owned()))
        })
        .collect()
}

/// The versions rpm records in `root`, by package.
fn rpm_versions(root: &Path) -> BTreeMap<String, String> {
    let out = Command::new("rpm")
        .arg("--root")
        .arg(root)
        .args([
            "--dbpath",
            "/var/lib/rpm",
            "-qa",
            "--qf",
            "%{NAME} %{VERSION}-%{RELEASE}\n",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (name, version) = line.split_once(' ')?;
            Some((name.to_owned(), version.to_owned()))
        })
        .collect()
}

fn tools_missing() -> Option<String> {
    for tool in ["dpkg", "dpkg-query", "rpm"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|out| out.status.success());
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

#[test]
fn an_upgrade_reaches_the_head_node_an_image_and_every_agent_then_uninstalls_with_its_scripts() {
    if let Some(why) = tools_missing() {
        eprintln!("SKIPPED: {why}; apt-get install dpkg rpm");
        return;
    }
    let site = TestContext::new(env!("CARGO_BIN_EXE_opm"));
    let old = source(site.dir(), "1.0-1");
    let new = source(site.dir(), "2.0-1");
    pack(&site, &old);
    pack(&site, &new);
    site.ok(&["init"]);
    site.ok(&["opkg", "import", old.to_str().unwrap()]);
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
    site.ok(&["cluster", "phase", "complete"]);
    let server = site.server(&[]);
    let mut agents: Vec<Agent> = DEB_NODES
        .iter()
        .map(|node| start_agent(&site, node, "dpkg", &server))
        .collect();
    agents.push(start_agent(&site, RPM_NODE, "rpm", &server));
    site.ok(&["install", PACKAGE]);
    let mut everyone = vec!["head", RPM_NODE];
    everyone.extend(DEB_NODES);
    if image.is_some() {
        everyone.push("compute");
    }
    wait_for(&site, &everyone, "finished", Some("1.0-1"));
    let head = site.path("head");
    assert_eq!(deb_versions(&head)["opkg-upg-server"], "1.0-1");

    // 2.0-1 imported: the rows are outdated, nothing moves by itself.
    site.ok(&["opkg", "import", new.to_str().unwrap()]);
    let status = rows_by_target(&site);
    assert_eq!(status["n1"]["version"], "1.0-1");
    assert_eq!(status["n1"]["wanted_version"], "2.0-1");
    let table = site.ok(&["status"]);
    assert!(table.contains("1.0-1 (outdated: 2.0-1)"), "{table}");

    // Pinned at 1.0-1, an upgrade has nothing to do.
    site.ok(&["opkg", "pin", PACKAGE, "1.0-1"]);
    let pinned = site.ok(&["upgrade"]);
    assert!(pinned.contains("nothing to upgrade"), "{pinned}");
    let refused = site.expect(&["opkg", "pin", PACKAGE, "9.9-9"], 2);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no imported version '9.9-9'"),
        "{refused:?}"
    );
    site.ok(&["opkg", "unpin", PACKAGE]);

    // The upgrade: every row to 2.0-1.
    site.ok(&["upgrade", PACKAGE]);
    wait_for(&site, &everyone, "finished", Some("2.0-1"));
    assert_eq!(
        deb_versions(&head)
            .into_iter()
            .filter(|(name, _)| name.starts_with("opkg-upg"))
            .collect::<Vec<_>>(),
        [
            ("opkg-upg".to_owned(), "2.0-1".to_owned()),
            ("opkg-upg-server".to_owned(), "2.0-1".to_owned())
        ]
    );
    for node in DEB_NODES {
        let root = site.path(&format!("{node}/root"));
        assert_eq!(deb_versions(&root)["opkg-upg-client"], "2.0-1", "{node}");
        let marks = marks(&root, "marks");
        assert_eq!(
            marks,
            [
                "1.0-1 client-post-install from= to=",
                "2.0-1 client-post-install from=1.0-1 to=2.0-1"
            ],
            "{node}"
        );
    }
    let rpm_root = site.path(&format!("{RPM_NODE}/root"));
    assert_eq!(rpm_versions(&rpm_root)["opkg-upg-client"], "2.0-1");
    if let Some(root) = &image {
        assert_eq!(deb_versions(root)["opkg-upg-client"], "2.0-1");
        assert_eq!(
            marks(root, "marks"),
            [
                "1.0-1 client-post-install from= to=",
                "2.0-1 client-post-install from=1.0-1 to=2.0-1"
            ]
        );
    }
    // On the head node the later stages ran again with the new scripts;
    // should_be_installed (api-post-install) did not.
    let head_marks = marks(&head, "marks");
    let mut expected = vec![
        "1.0-1 api-post-install from= to=",
        "1.0-1 server-post-install from= to=",
    ];
    if image.is_some() {
        expected.push("1.0-1 api-post-image from= to=");
    }
    expected.extend([
        "1.0-1 api-post-clientdef from= to=",
        "1.0-1 api-post-deploy from= to=",
        "2.0-1 server-post-install from=1.0-1 to=2.0-1",
    ]);
    if image.is_some() {
        expected.push("2.0-1 api-post-image from=1.0-1 to=2.0-1");
    }
    expected.extend([
        "2.0-1 api-post-clientdef from=1.0-1 to=2.0-1",
        "2.0-1 api-post-deploy from=1.0-1 to=2.0-1",
    ]);
    assert_eq!(head_marks, expected);
    // History says what happened.
    let history: Vec<Value> = serde_json::from_str(&site.ok(&["--json", "history"])).unwrap();
    assert!(
        history
            .iter()
            .any(|e| e["event"] == "rerun" && e["note"] == "upgrade from 1.0-1 to 2.0-1"),
        "{history:#?}"
    );

    // Pinned back at 1.0-1, an upgrade is a downgrade: refused, nothing
    // changes, unless allowed.
    site.ok(&["opkg", "pin", PACKAGE, "1.0-1"]);
    let refused = site.expect(&["upgrade", PACKAGE, "--node", "n1"], 2);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--allow-downgrade"),
        "{refused:?}"
    );
    assert_eq!(rows_by_target(&site)["n1"]["current"], "finished");
    site.ok(&["upgrade", PACKAGE, "--node", "n1", "--allow-downgrade"]);
    wait_for(&site, &["n1"], "finished", Some("1.0-1"));
    assert_eq!(
        deb_versions(&site.path("n1/root"))["opkg-upg-client"],
        "1.0-1"
    );
    site.ok(&["opkg", "unpin", PACKAGE]);
    site.ok(&["upgrade", PACKAGE, "--node", "n1"]);
    wait_for(&site, &["n1"], "finished", Some("2.0-1"));

    // Uninstalled, each row runs the scripts of the version installed.
    site.ok(&["remove", PACKAGE]);
    wait_for(&site, &everyone, "should_not_be_installed", None);
    for node in DEB_NODES {
        let root = site.path(&format!("{node}/root"));
        assert_eq!(
            marks(&root, "var/lib/upg-marks"),
            [
                "2.0-1 client-pre-uninstall from= to=",
                "2.0-1 client-post-uninstall from= to="
            ],
            "{node}"
        );
        assert!(!deb_versions(&root).contains_key("opkg-upg-client"));
    }
    assert_eq!(
        marks(&head, "var/lib/upg-marks"),
        [
            "2.0-1 server-pre-uninstall from= to=",
            "2.0-1 server-post-uninstall from= to="
        ]
    );
}
