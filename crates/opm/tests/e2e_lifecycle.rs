//! End to end through the `opm` binary: the example opkgs of
//! `examples/opkgs`, packed by `opm pack`, installed by the real dpkg into a
//! head-node sandbox root and a chrootable busybox image root, walked
//! through the install phases by `opm run`. The example scripts record each
//! run (hook, stage, target, role, attempt, cwd, chroot, arguments,
//! configuration values) in `var/log/opm-example.log` under the root they
//! work on; these tests read those records, `opm status --json`, `opm
//! history --json` and the roots' dpkg databases.
//!
//! The image parts need root and Debian's `busybox-static` (CI has both);
//! without them those tests print a loud SKIP line and return.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp dirs, fixed fixtures, the binary's own JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use opm_testkit::TestContext;
use opm_testkit::context::status_rows;
use serde_json::Value;

use opm_testkit::sandbox::{image_unavailable, installed, make_image};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/opkgs");
const LOG: &str = "var/log/opm-example.log";

/// One recorded script run: the `key=value` fields of its log line, the
/// configuration values among them.
#[derive(Debug, Clone)]
struct Record(BTreeMap<String, String>);

impl Record {
    fn get(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }
    fn hook(&self) -> (String, String) {
        (self.get("opkg").to_owned(), self.get("hook").to_owned())
    }
}

fn records(root: &Path) -> Vec<Record> {
    let Ok(text) = std::fs::read_to_string(root.join(LOG)) else {
        return Vec::new();
    };
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            Record(
                line.split('\t')
                    .filter_map(|field| field.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            )
        })
        .collect()
}

/// A throwaway cluster: database, opm.conf of head node `head`, a head root,
/// a package repository packed from the examples, optionally an image.
struct Cluster {
    ctx: TestContext,
}

impl Cluster {
    /// Packs every example, inits the database and imports the examples.
    fn new(image: bool) -> Cluster {
        Cluster::on(None, image)
    }

    /// The same cluster with its state in a fresh PostgreSQL database;
    /// `None` (after a loud SKIPPED line) when there is no PostgreSQL.
    fn on_postgres(image: bool) -> Option<Cluster> {
        let server = opm_testkit::postgres()?;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let url = runtime.block_on(server.fresh_database()).unwrap();
        Some(Cluster::on(Some(url), image))
    }

    fn on(postgres: Option<String>, image: bool) -> Cluster {
        let bin = env!("CARGO_BIN_EXE_opm");
        let ctx = match postgres {
            Some(url) => TestContext::with_database(bin, url),
            None => TestContext::new(bin),
        };
        let examples: Vec<String> = ["clusterfs", "jobqueue", "motd", "altqueue"]
            .iter()
            .map(|name| format!("{EXAMPLES}/{name}"))
            .collect();
        let examples: Vec<&str> = examples.iter().map(String::as_str).collect();
        ctx.pack_and_import(&examples);
        let cluster = Cluster { ctx };
        if image {
            make_image(&cluster.image_root()).unwrap();
            let image_root = cluster.image_root();
            cluster.ok(&[
                "image",
                "add",
                "compute",
                "--path",
                image_root.to_str().unwrap(),
            ]);
        }
        cluster
    }

    fn path(&self, rest: &str) -> PathBuf {
        self.ctx.path(rest)
    }
    fn head(&self) -> PathBuf {
        self.path("head")
    }
    fn image_root(&self) -> PathBuf {
        self.path("images/compute")
    }

    fn opm<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.ctx.command().args(args).output().unwrap()
    }

    /// Runs `opm args` and asserts its exit code.
    fn expect(&self, args: &[&str], code: i32) -> Output {
        self.ctx.expect(args, code)
    }

    fn ok(&self, args: &[&str]) -> Output {
        self.expect(args, 0)
    }

    fn phase_and_run(&self, phase: &str, code: i32) -> Output {
        self.ok(&["cluster", "phase", phase]);
        self.expect(&["run"], code)
    }

    /// `opm status --json`, keyed by (target, package).
    fn status(&self) -> BTreeMap<(String, String), Value> {
        status_rows(&self.opm(["--json", "status"]).stdout)
    }

    fn current(&self, target: &str, package: &str) -> String {
        self.status()[&(target.to_owned(), package.to_owned())]["current"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// `opm history --json`: attempts, oldest first.
    fn history(&self) -> Vec<Value> {
        let output = self.ok(&["--json", "history"]);
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Makes `opkg`'s `hook` fail under `root` until [`Cluster::unplant`].
    fn plant(&self, root: &Path, opkg: &str, hook: &str) {
        let marker = root.join(format!("etc/opm-example/fail-{opkg}-{hook}"));
        std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
        std::fs::write(marker, "").unwrap();
    }

    fn unplant(&self, root: &Path, opkg: &str, hook: &str) {
        std::fs::remove_file(root.join(format!("etc/opm-example/fail-{opkg}-{hook}"))).unwrap();
    }
}

fn hooks(records: &[Record]) -> Vec<(String, String)> {
    let mut hooks: Vec<(String, String)> = records.iter().map(Record::hook).collect();
    hooks.sort();
    hooks
}

fn expected(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut hooks: Vec<(String, String)> = list
        .iter()
        .map(|(o, h)| ((*o).to_owned(), (*h).to_owned()))
        .collect();
    hooks.sort();
    hooks
}

/// (opkg, hook) pairs.
type Hooks = Vec<(&'static str, &'static str)>;

fn skip_without_image() -> bool {
    if let Some(why) = image_unavailable() {
        eprintln!("SKIPPED: image root: {why}");
        return true;
    }
    false
}

/// Every phase opens exactly its gates: the stages that run, the hooks
/// they call, the contract each script sees, where packages land, and the
/// hand-over of work to the compute nodes at post-clients.
#[test]
fn each_phase_runs_exactly_its_gated_stages_with_the_script_contract() {
    if skip_without_image() {
        return;
    }
    walk_every_phase(&Cluster::new(true));
}

#[test]
fn every_phase_with_the_state_in_postgresql() {
    if skip_without_image() {
        return;
    }
    if let Some(cluster) = Cluster::on_postgres(true) {
        walk_every_phase(&cluster);
    }
}

/// Walks the examples through every phase, checking at each that exactly
/// the gated stages ran, with the script contract of SPEC §1.7.
fn walk_every_phase(cluster: &Cluster) {
    cluster.ok(&["node", "add", "node1", "--image", "compute"]);
    cluster.ok(&["node", "add", "node2"]);
    cluster.ok(&["config", "set", "clusterfs", "export_dir=/srv/home"]);
    cluster.ok(&["install", "clusterfs", "jobqueue", "motd"]);
    let head = cluster.head();
    let image = cluster.image_root();
    let image_id = {
        let meta = std::fs::metadata(&image).unwrap();
        format!("{}:{}", meta.dev(), meta.ino())
    };
    // Per phase: the stage the head rows reach, the hooks the head runs,
    // the hooks the image runs, and the exit code of the pass (3 while a
    // later gate holds work back).
    let walk: [(&str, &str, Hooks, Hooks, i32); 7] = [
        (
            "setup_wizard",
            "run-configurator",
            vec![
                ("clusterfs", "api-pre-install"),
                ("clusterfs", "api-post-install"),
                ("clusterfs", "api-pre-configure"),
                ("clusterfs", "api-post-configure"),
                ("jobqueue", "api-post-install"),
                ("jobqueue", "api-post-configure"),
                ("motd", "api-pre-install"),
            ],
            vec![],
            3,
        ),
        (
            "build_image",
            "install-bin-pkgs",
            vec![
                ("clusterfs", "server-post-install"),
                ("jobqueue", "server-post-install"),
            ],
            vec![
                ("clusterfs", "client-post-install"),
                ("jobqueue", "client-post-install"),
                ("motd", "client-post-install"),
            ],
            3,
        ),
        (
            "addclients",
            "run-script-post-image",
            vec![("clusterfs", "api-post-image"), ("motd", "api-post-image")],
            vec![],
            3,
        ),
        ("netboot", "run-script-post-image", vec![], vec![], 3),
        (
            "post_install",
            "run-script-post-clients",
            vec![
                ("clusterfs", "api-post-clientdef"),
                ("jobqueue", "api-post-clientdef"),
            ],
            vec![],
            3,
        ),
        (
            "test_install",
            "finished",
            vec![
                ("clusterfs", "api-post-deploy"),
                ("jobqueue", "api-post-deploy"),
            ],
            vec![],
            0,
        ),
        ("complete", "finished", vec![], vec![], 0),
    ];
    let (mut head_seen, mut image_seen) = (0, 0);
    for (phase, reached, head_hooks, image_hooks, code) in walk {
        cluster.phase_and_run(phase, code);
        let head_records = records(&head);
        let image_records = records(&image);
        let head_new = &head_records[head_seen..];
        let image_new = &image_records[image_seen..];
        assert_eq!(hooks(head_new), expected(&head_hooks), "head at {phase}");
        assert_eq!(hooks(image_new), expected(&image_hooks), "image at {phase}");
        (head_seen, image_seen) = (head_records.len(), image_records.len());
        for package in ["clusterfs", "jobqueue", "motd"] {
            assert_eq!(
                cluster.current("head", package),
                reached,
                "{package} at {phase}"
            );
        }
        // The contract on the head node: the package dir as cwd and
        // OSCAR_PACKAGE_HOME, the row's stage, target and role, not chrooted.
        for record in head_new {
            let home = head.join("usr/lib/oscar/packages").join(record.get("opkg"));
            assert_eq!(record.get("home"), home.to_str().unwrap(), "{record:?}");
            assert_eq!(record.get("cwd"), record.get("home"), "{record:?}");
            assert_eq!(record.get("target"), "head", "{record:?}");
            assert_eq!(record.get("kind"), "node", "{record:?}");
            assert_eq!(record.get("role"), "server", "{record:?}");
            assert_eq!(record.get("attempt"), "1", "{record:?}");
            assert_eq!(record.get("chroot"), "no", "{record:?}");
            assert_eq!(record.get("result"), "ok", "{record:?}");
            let stage = match record.get("hook") {
                "api-pre-install" | "api-post-install" => "should_be_installed",
                "api-pre-configure" | "api-post-configure" => "run-configurator",
                "server-post-install" => "install-bin-pkgs",
                "api-post-image" => "run-script-post-image",
                "api-post-clientdef" => "run-script-post-clients",
                "api-post-deploy" => "run-script-post-install",
                other => panic!("unexpected hook {other} at {phase}"),
            };
            assert_eq!(record.get("stage"), stage, "{record:?}");
            // api-post-image gets the image root as $1, nothing else does.
            let args = if record.get("hook") == "api-post-image" {
                image.to_str().unwrap()
            } else {
                ""
            };
            assert_eq!(record.get("args"), args, "{record:?}");
        }
        // In the image: chrooted, so / is the image root directory itself.
        for record in image_new {
            let home = format!("/usr/lib/oscar/packages/{}", record.get("opkg"));
            assert_eq!(record.get("home"), home, "{record:?}");
            assert_eq!(record.get("cwd"), home, "{record:?}");
            assert_eq!(record.get("chroot"), "yes", "{record:?}");
            assert_eq!(record.get("rootid"), image_id, "{record:?}");
            assert_eq!(record.get("target"), "compute", "{record:?}");
            assert_eq!(record.get("kind"), "image", "{record:?}");
            assert_eq!(record.get("stage"), "install-bin-pkgs", "{record:?}");
        }
        match phase {
            "setup_wizard" => {
                // Configuration values: form defaults under the admin's value.
                let configure = head_new
                    .iter()
                    .find(|r| r.hook() == ("clusterfs".into(), "api-post-configure".into()))
                    .unwrap();
                assert_eq!(configure.get("OPM_CONFIG_EXPORT_DIR"), "/srv/home");
                assert_eq!(configure.get("OPM_CONFIG_MOUNT_POINT"), "/home");
                assert_eq!(configure.get("OPM_CONFIG_ACCESS"), "rw");
                assert_eq!(
                    std::fs::read_to_string(head.join("etc/clusterfs.exports")).unwrap(),
                    "/srv/home *(rw)\n"
                );
                assert!(
                    head.join("usr/lib/oscar/packages/clusterfs/.configurator.values")
                        .is_file()
                );
                assert_eq!(
                    installed(&head),
                    ["opkg-clusterfs", "opkg-jobqueue", "opkg-motd"]
                );
                assert_eq!(installed(&image), Vec::<String>::new());
            }
            "build_image" => {
                // The server parts on the head node, the client parts (only)
                // in the image root. (opkg-motd-server ships no file, and
                // dpkg lets a package without files disappear at once.)
                let on_head = installed(&head);
                for part in ["opkg-clusterfs-server", "opkg-jobqueue-server"] {
                    assert!(on_head.iter().any(|p| p == part), "{on_head:?}");
                }
                assert!(
                    !on_head.iter().any(|p| p.ends_with("-client")),
                    "{on_head:?}"
                );
                assert_eq!(
                    installed(&image),
                    [
                        "opkg-clusterfs-client",
                        "opkg-jobqueue-client",
                        "opkg-motd-client"
                    ]
                );
                assert!(!head.join("etc/clusterfs.mount").exists());
                assert!(image.join("etc/clusterfs.mount").is_file());
                for package in ["clusterfs", "jobqueue", "motd"] {
                    assert_eq!(cluster.current("compute", package), "install-bin-pkgs");
                }
            }
            "addclients" => {
                assert!(image.join("etc/clusterfs.image").is_file());
                assert!(image.join("etc/motd.image").is_file());
            }
            "netboot" => {
                // Nothing handed to the nodes before post-clients.
                assert!(!cluster.status().keys().any(|(t, _)| t.starts_with("node")));
            }
            "post_install" => {
                // Work handed to every node of oscar_clients, requested finished.
                let status = cluster.status();
                for node in ["node1", "node2"] {
                    for package in ["clusterfs", "jobqueue", "motd"] {
                        let row = &status[&(node.to_owned(), package.to_owned())];
                        assert_eq!(row["requested"], "finished", "{node} / {package}");
                        assert_eq!(row["kind"], "node");
                    }
                }
            }
            _ => {}
        }
    }
    for package in ["clusterfs", "jobqueue", "motd"] {
        assert_eq!(cluster.current("compute", package), "finished");
    }
    // Every stage of every head and image row is in the history, in order.
    let history = cluster.history();
    let stages: Vec<&str> = history
        .iter()
        .filter(|h| h["target"] == "head" && h["package"] == "clusterfs")
        .filter(|h| h["event"] == "attempt")
        .map(|h| h["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "should_be_installed",
            "run-configurator",
            "install-bin-pkgs",
            "run-script-post-image",
            "run-script-post-clients",
            "run-script-post-install",
            "finished"
        ]
    );
}

/// A failing script puts only its own row in error; the others go on; a
/// second pass leaves the error row alone; `opm retry` re-runs exactly the
/// failed stage, as attempt 2.
#[test]
fn an_error_row_blocks_only_itself_and_retry_reruns_exactly_the_failed_stage() {
    let cluster = Cluster::new(false);
    let head = cluster.head();
    cluster.ok(&["install", "clusterfs", "jobqueue", "motd"]);
    cluster.phase_and_run("setup_wizard", 3);
    cluster.plant(&head, "jobqueue", "server-post-install");
    let before = records(&head).len();
    let output = cluster.phase_and_run("build_image", 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server-post-install"), "{stderr}");
    assert!(stderr.contains("failing on purpose"), "{stderr}");

    let status = cluster.status();
    let jobqueue = &status[&("head".to_owned(), "jobqueue".to_owned())];
    assert_eq!(jobqueue["status"], "error");
    // current stays at the last completed stage (SPEC §9 trap 5).
    assert_eq!(jobqueue["current"], "run-configurator");
    assert!(
        jobqueue["message"]
            .as_str()
            .unwrap()
            .contains("server-post-install")
    );
    for package in ["clusterfs", "motd"] {
        let row = &status[&("head".to_owned(), package.to_owned())];
        assert_eq!(row["status"], "ok");
        assert_eq!(row["current"], "install-bin-pkgs", "{package}");
    }
    let failed: Vec<Record> = records(&head)[before..]
        .iter()
        .filter(|r| r.get("opkg") == "jobqueue")
        .cloned()
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].get("result"), "failed");

    // The error row waits for an operator: another pass does not touch it.
    let seen = records(&head).len();
    cluster.expect(&["run"], 1);
    assert_eq!(records(&head).len(), seen);

    cluster.unplant(&head, "jobqueue", "server-post-install");
    cluster.ok(&["retry", "jobqueue", "--node", "head", "--reason", "fixed"]);
    cluster.expect(&["run"], 3);
    let rerun = &records(&head)[seen..];
    assert_eq!(
        hooks(rerun),
        expected(&[("jobqueue", "server-post-install")])
    );
    assert_eq!(rerun[0].get("result"), "ok");
    assert_eq!(rerun[0].get("attempt"), "2");
    assert_eq!(rerun[0].get("stage"), "install-bin-pkgs");
    assert_eq!(cluster.current("head", "jobqueue"), "install-bin-pkgs");
    assert_eq!(
        cluster.status()[&("head".to_owned(), "jobqueue".to_owned())]["status"],
        "ok"
    );
}

/// A chrooted client-post-install that fails in the image puts only that
/// image row in error: the head node's row of the same opkg goes on, and
/// `opm retry --image` re-runs the image's install-bin-pkgs, chrooted again.
#[test]
fn a_failing_script_in_the_image_puts_only_the_image_row_in_error() {
    if skip_without_image() {
        return;
    }
    let cluster = Cluster::new(true);
    let image = cluster.image_root();
    cluster.ok(&["install", "motd"]);
    cluster.phase_and_run("setup_wizard", 3);
    cluster.plant(&image, "motd", "client-post-install");
    cluster.phase_and_run("build_image", 1);
    let status = cluster.status();
    let in_image = &status[&("compute".to_owned(), "motd".to_owned())];
    assert_eq!(in_image["status"], "error");
    assert_eq!(in_image["current"], "run-configurator");
    let on_head = &status[&("head".to_owned(), "motd".to_owned())];
    assert_eq!(on_head["status"], "ok");
    assert_eq!(on_head["current"], "install-bin-pkgs");
    let failed = records(&image);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].get("result"), "failed");
    assert_eq!(failed[0].get("chroot"), "yes");

    cluster.unplant(&image, "motd", "client-post-install");
    cluster.ok(&["retry", "motd", "--image", "compute"]);
    cluster.expect(&["run"], 3);
    let again = &records(&image)[1..];
    assert_eq!(hooks(again), expected(&[("motd", "client-post-install")]));
    assert_eq!(again[0].get("result"), "ok");
    assert_eq!(again[0].get("attempt"), "2");
    assert_eq!(again[0].get("chroot"), "yes");
    assert_eq!(cluster.current("compute", "motd"), "install-bin-pkgs");
    assert!(image.join("etc/motd.opm").is_file());
}

/// jobqueue depends on clusterfs: while clusterfs fails on a target,
/// jobqueue waits there (blocked, not in error); after the fix it follows.
#[test]
fn a_dependent_opkg_waits_for_its_dependency_on_the_same_target() {
    let cluster = Cluster::new(false);
    let head = cluster.head();
    cluster.ok(&["install", "clusterfs", "jobqueue"]);
    cluster.phase_and_run("setup_wizard", 3);
    cluster.plant(&head, "clusterfs", "server-post-install");
    cluster.phase_and_run("build_image", 1);
    let status = cluster.status();
    let jobqueue = &status[&("head".to_owned(), "jobqueue".to_owned())];
    assert_eq!(jobqueue["status"], "ok");
    assert_eq!(jobqueue["current"], "run-configurator");
    assert!(
        !records(&head)
            .iter()
            .any(|r| r.hook() == ("jobqueue".into(), "server-post-install".into()))
    );
    let plan = cluster.opm(["plan"]);
    let plan_text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan_text
            .lines()
            .any(|l| l.contains("jobqueue") && l.contains("clusterfs")),
        "plan says what jobqueue waits for:\n{plan_text}"
    );

    cluster.unplant(&head, "clusterfs", "server-post-install");
    cluster.ok(&["retry", "clusterfs", "--node", "head"]);
    cluster.expect(&["run"], 3);
    let order: Vec<(String, String)> = records(&head)
        .iter()
        .filter(|r| r.get("hook") == "server-post-install" && r.get("result") == "ok")
        .map(Record::hook)
        .collect();
    let clusterfs_then_jobqueue = [
        ("clusterfs".to_owned(), "server-post-install".to_owned()),
        ("jobqueue".to_owned(), "server-post-install".to_owned()),
    ];
    assert_eq!(order, clusterfs_then_jobqueue);
    assert_eq!(cluster.current("head", "jobqueue"), "install-bin-pkgs");
}

/// altqueue conflicts with jobqueue: requesting it next to jobqueue is
/// refused with a message naming jobqueue, before anything is installed.
#[test]
fn a_conflicting_request_is_refused_before_anything_is_installed() {
    let cluster = Cluster::new(false);
    cluster.ok(&["install", "clusterfs", "jobqueue"]);
    let output = cluster.expect(&["install", "altqueue"], 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("jobqueue"), "{stderr}");
    assert!(
        !cluster
            .status()
            .keys()
            .any(|(_, package)| package == "altqueue")
    );
    cluster.phase_and_run("complete", 0);
    assert!(
        !records(&cluster.head())
            .iter()
            .any(|r| r.get("opkg") == "altqueue")
    );
    assert!(
        !installed(&cluster.head())
            .iter()
            .any(|p| p.starts_with("opkg-altqueue"))
    );
}

/// A cluster at `complete` with clusterfs and jobqueue on the head node and
/// in the image, jobqueue already removed again; returns it with the number
/// of head and image records and history entries before clusterfs goes.
fn cluster_removing_clusterfs() -> (Cluster, usize, usize, usize) {
    let cluster = Cluster::new(true);
    cluster.ok(&["install", "clusterfs", "jobqueue"]);
    cluster.phase_and_run("complete", 0);
    assert_eq!(cluster.current("head", "clusterfs"), "finished");

    // Removing what another opkg depends on is refused, naming it.
    let output = cluster.expect(&["remove", "clusterfs"], 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("jobqueue"),
        "the refusal names the dependent: {stderr}"
    );

    cluster.ok(&["remove", "jobqueue"]);
    cluster.ok(&["run"]);
    assert_eq!(
        cluster.current("head", "jobqueue"),
        "should_not_be_installed"
    );
    assert_eq!(
        cluster.current("compute", "jobqueue"),
        "should_not_be_installed"
    );

    let seen = (
        records(&cluster.head()).len(),
        records(&cluster.image_root()).len(),
        cluster.history().len(),
    );
    cluster.ok(&["remove", "clusterfs"]);
    cluster.ok(&["run"]);
    (cluster, seen.0, seen.1, seen.2)
}

/// `opm remove` takes an opkg down in SPEC §1.5 order: the image row first
/// (client-pre-uninstall, its client part removed), then on the head node
/// api-pre-uninstall, server-pre-uninstall, the server part removed,
/// api-post-uninstall, the api part removed.
#[test]
fn remove_uninstalls_in_spec_order() {
    if skip_without_image() {
        return;
    }
    let (cluster, head_seen, image_seen, history_seen) = cluster_removing_clusterfs();
    let (head, image) = (cluster.head(), cluster.image_root());
    let head_hooks: Vec<String> = records(&head)[head_seen..]
        .iter()
        .map(|r| r.get("hook").to_owned())
        .collect();
    let spec_order = [
        "api-pre-uninstall",
        "server-pre-uninstall",
        "server-post-uninstall",
        "api-post-uninstall",
    ];
    let in_order: Vec<&str> = spec_order
        .iter()
        .copied()
        .filter(|hook| head_hooks.iter().any(|h| h == hook))
        .collect();
    assert_eq!(head_hooks, in_order, "head hooks in SPEC order");
    for hook in [
        "api-pre-uninstall",
        "server-pre-uninstall",
        "api-post-uninstall",
    ] {
        assert!(
            head_hooks.iter().any(|h| h == hook),
            "{hook} ran: {head_hooks:?}"
        );
    }
    let image_records = &records(&image)[image_seen..];
    assert_eq!(image_records[0].get("hook"), "client-pre-uninstall");
    assert!(image_records.iter().all(|r| r.get("chroot") == "yes"));
    assert!(image_records.iter().all(|r| r.get("target") == "compute"));

    // The image row went down before the head node's uninstall began.
    let history = cluster.history();
    let new = &history[history_seen..];
    let of = |target: &'static str| {
        new.iter()
            .filter(move |h| h["target"] == target && h["package"] == "clusterfs")
    };
    let image_done = of("compute")
        .filter_map(|h| h["ended_ms"].as_i64())
        .max()
        .unwrap();
    let head_began = of("head")
        .filter_map(|h| h["started_ms"].as_i64())
        .min()
        .unwrap();
    assert!(image_done <= head_began, "{new:#?}");

    for package in ["clusterfs", "jobqueue"] {
        for target in ["head", "compute"] {
            assert_eq!(cluster.current(target, package), "should_not_be_installed");
        }
    }
    assert_eq!(installed(&head), Vec::<String>::new());
    assert_eq!(installed(&image), Vec::<String>::new());
    assert!(!head.join("etc/clusterfs.exports").exists());
    assert!(!head.join("var/lib/clusterfs").exists());
    assert!(!image.join("etc/clusterfs.mount").exists());
}

/// SPEC §1.5 runs server-post-uninstall after `opkg-<p>-server` is removed
/// and client-post-uninstall after `opkg-<p>-client` is removed: the scripts
/// ship in the very packages that are gone by then, yet they must run.
#[test]
fn post_uninstall_scripts_run_after_their_package_is_removed() {
    if skip_without_image() {
        return;
    }
    let (cluster, head_seen, image_seen, _) = cluster_removing_clusterfs();
    let head_hooks: Vec<String> = records(&cluster.head())[head_seen..]
        .iter()
        .map(|r| r.get("hook").to_owned())
        .collect();
    assert!(
        head_hooks.iter().any(|h| h == "server-post-uninstall"),
        "server-post-uninstall never ran: {head_hooks:?}"
    );
    let image_hooks: Vec<String> = records(&cluster.image_root())[image_seen..]
        .iter()
        .map(|r| r.get("hook").to_owned())
        .collect();
    assert_eq!(
        image_hooks,
        ["client-pre-uninstall", "client-post-uninstall"]
    );
}
