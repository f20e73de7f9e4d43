//! Engine passes over a real SQLite store with a recording package manager
//! (the I/O this test is not about): which native packages go into which
//! root in which order, orchestration of clients and images, the uninstall
//! fan-out and its wait, what history says about absent scripts, and
//! which script stages of one target may overlap (real child processes
//! that meet, or that would catch each other overlapping).

// Test helpers fail loudly on setup errors; that is what a test wants.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opm_engine::{Engine, EngineConfig, Identity, LineReporter, SystemClock, Verdict};
use opm_model::{Name, NameKind, Phase, Role, Stage, Status, Target};
use opm_native::script::ScriptRunner;
use opm_native::{Backend, InstalledPackage, PackageManager, Root, Versioned};
use opm_store::{HistoryFilter, Image, NewNode, OpenMode, OpkgImport, SqliteStore, Store};
use opm_testkit::overlap::{self, exclusive, rendezvous};

/// Records every install and remove as `install ROOT a,b`; its package
/// database has nothing installed, or its query tool is missing when
/// `tool_missing` is set.
#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    tool_missing: std::sync::atomic::AtomicBool,
}

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    fn record(&self, verb: &str, root: &Root, packages: &[String]) {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{verb} {} {}", root.as_str(), packages.join(",")));
    }
}

impl PackageManager for Recorder {
    fn backend(&self) -> Backend {
        Backend::Dpkg
    }
    fn prepare(&self, _root: &Root) -> opm_native::Result<()> {
        Ok(())
    }
    fn install(&self, root: &Root, packages: &[String]) -> opm_native::Result<()> {
        self.record("install", root, packages);
        Ok(())
    }
    fn install_versions(&self, root: &Root, packages: &[Versioned]) -> opm_native::Result<()> {
        let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        self.record("install", root, &names);
        Ok(())
    }
    fn remove(&self, root: &Root, packages: &[String]) -> opm_native::Result<()> {
        self.record("remove", root, packages);
        Ok(())
    }
    fn query(
        &self,
        _root: &Root,
        _packages: &[String],
    ) -> opm_native::Result<Vec<InstalledPackage>> {
        Ok(Vec::new())
    }
    fn inventory(
        &self,
        root: &Root,
        packages: &[String],
    ) -> opm_native::Result<opm_model::Inventory> {
        self.record("inventory", root, packages);
        if self.tool_missing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(opm_native::NativeError::ToolMissing {
                tool: "dpkg-query".to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        Ok(opm_model::Inventory::new(packages, []))
    }
}

fn name(kind: NameKind, text: &str) -> Name {
    Name::new(kind, text).unwrap()
}

struct World {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    packages: Arc<Recorder>,
}

impl World {
    async fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db"), OpenMode::Create)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
            .register_head_node(&name(NameKind::Node, "head"))
            .await
            .unwrap();
        for sub in ["head-root", "image-root", "n1-root"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        store
            .add_image(&Image {
                name: name(NameKind::Image, "img"),
                root: dir.path().join("image-root"),
            })
            .await
            .unwrap();
        for node in ["n1", "n2"] {
            store
                .add_node(&NewNode {
                    name: name(NameKind::Node, node),
                    groups: Vec::new(),
                    image: None,
                })
                .await
                .unwrap();
        }
        store.set_phase(Phase::Complete, 0).await.unwrap();
        World {
            dir,
            store: Arc::new(store),
            packages: Arc::new(Recorder::default()),
        }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    async fn import(&self, opkg: &str, depends: &[&str]) {
        self.store
            .import_opkg(
                &OpkgImport {
                    name: name(NameKind::Opkg, opkg),
                    version: "1.0-1".to_owned(),
                    summary: "test".to_owned(),
                    source: "/nowhere".to_owned(),
                    depends: depends.iter().map(|d| name(NameKind::Opkg, d)).collect(),
                    conflicts: Vec::new(),
                },
                0,
            )
            .await
            .unwrap();
        self.store
            .select_opkg_for_group(
                &name(NameKind::Opkg, opkg),
                &name(NameKind::Group, "oscar_clients"),
            )
            .await
            .unwrap();
    }

    async fn request(&self, target: &Target, opkg: &str, stage: Stage) {
        self.store
            .request(target, &name(NameKind::Opkg, opkg), stage, 0)
            .await
            .unwrap();
    }

    fn engine(&self, role: Role, who: &str, root: &Path) -> Arc<Engine<SqliteStore>> {
        self.engine_with(role, who, root, false)
    }

    /// An engine with the site's side-by-side setting as given.
    fn engine_with(
        &self,
        role: Role,
        who: &str,
        root: &Path,
        side_by_side: bool,
    ) -> Arc<Engine<SqliteStore>> {
        let kind = if role == Role::Image {
            NameKind::Image
        } else {
            NameKind::Node
        };
        let config = EngineConfig {
            identity: Identity {
                role,
                name: name(kind, who),
            },
            own_root: root.to_path_buf(),
            jobs: 2,
            side_by_side,
            lease_ttl: Duration::from_secs(30),
            lease_wait: Duration::from_secs(0),
            script_timeout: Duration::from_secs(10),
            host: "testhost".to_owned(),
            proc_dir: PathBuf::from("/proc"),
        };
        Arc::new(
            Engine::new(
                Arc::clone(&self.store),
                Arc::clone(&self.packages) as Arc<dyn PackageManager>,
                ScriptRunner::default(),
                Arc::new(SystemClock),
                Arc::new(LineReporter::new(std::io::sink())),
                config,
            )
            .unwrap(),
        )
    }

    async fn row(&self, target: &Target, opkg: &str) -> opm_model::Row {
        self.store
            .row(target, &name(NameKind::Opkg, opkg))
            .await
            .unwrap()
            .row
    }
}

fn head() -> Target {
    Target::node(name(NameKind::Node, "head"))
}

fn image() -> Target {
    Target::image(name(NameKind::Image, "img"))
}

fn node(text: &str) -> Target {
    Target::node(name(NameKind::Node, text))
}

#[tokio::test]
async fn server_walks_its_rows_and_the_image_then_hands_work_to_clients() {
    let world = World::new().await;
    world.import("base", &[]).await;
    world.import("top", &["base"]).await;
    for opkg in ["base", "top"] {
        world.request(&head(), opkg, Stage::Finished).await;
        world.request(&image(), opkg, Stage::Finished).await;
    }
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    let report = server.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    let head_root = world.path("head-root").display().to_string();
    let image_root = world.path("image-root").display().to_string();
    let calls = world.packages.take();
    // Dependencies first on each target; the image's client parts of both
    // opkgs would share a transaction, but top waits for base's stage.
    let expected = [
        format!("install {head_root} opkg-base"),
        format!("install {image_root} opkg-base-client"),
        format!("install {head_root} opkg-top"),
        format!("install {image_root} opkg-top-client"),
        format!("install {head_root} opkg-base-server"),
        format!("install {head_root} opkg-top-server"),
    ];
    let mut sorted_calls = calls.clone();
    sorted_calls.sort();
    let mut sorted_expected = expected.to_vec();
    sorted_expected.sort();
    assert_eq!(sorted_calls, sorted_expected, "{calls:#?}");
    let position = |needle: &str| calls.iter().position(|c| c.ends_with(needle)).unwrap();
    assert!(position(" opkg-base") < position(" opkg-top"));
    assert!(position("opkg-base-client") < position("opkg-top-client"));
    for opkg in ["base", "top"] {
        assert_eq!(
            world.row(&head(), opkg).await.current,
            Some(Stage::Finished)
        );
        assert_eq!(
            world.row(&image(), opkg).await.current,
            Some(Stage::Finished)
        );
        for client in ["n1", "n2"] {
            let row = world.row(&node(client), opkg).await;
            assert_eq!(row.requested, Stage::Finished, "assigned to {client}");
            assert_eq!(row.current, Some(Stage::ShouldNotBeInstalled));
        }
    }
    // Absent scripts are skipped, and history says so.
    let history = world
        .store
        .history(&HistoryFilter {
            target: Some(head()),
            opkg: Some(name(NameKind::Opkg, "base")),
            limit: 100,
        })
        .await
        .unwrap();
    let first = history
        .iter()
        .find(|e| e.stage == Some(Stage::ShouldBeInstalled))
        .unwrap();
    assert!(
        first
            .output
            .contains("skipped: api-pre-install is not shipped"),
        "{}",
        first.output
    );

    // A client picks its work up; the server run has nothing left.
    let n1 = world.engine(Role::Client, "n1", &world.path("n1-root"));
    let report = n1.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    let n1_root = world.path("n1-root").display().to_string();
    assert_eq!(
        world.packages.take(),
        [
            format!("install {n1_root} opkg-base-client"),
            format!("install {n1_root} opkg-top-client")
        ]
    );
    assert_eq!(server.run().await.unwrap(), Default::default());
    assert!(world.packages.take().is_empty());
}

#[tokio::test]
async fn uninstall_fans_out_waits_for_clients_then_removes_in_reverse() {
    let world = World::new().await;
    world.import("solo", &[]).await;
    world.request(&head(), "solo", Stage::Finished).await;
    world.request(&image(), "solo", Stage::Finished).await;
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    server.run().await.unwrap();
    let n1 = world.engine(Role::Client, "n1", &world.path("n1-root"));
    n1.run().await.unwrap();
    world.packages.take();

    world
        .request(&head(), "solo", Stage::ShouldNotBeInstalled)
        .await;
    let report = server.run().await.unwrap();
    // The image row (the server's own work) went down; n1 and n2 are the
    // clients' work, so the server waits for them.
    assert_eq!(report.verdict(), Verdict::Blocked, "{report:?}");
    assert!(
        report.blocked[0].reason.contains("to be uninstalled first"),
        "{report:?}"
    );
    let image_root = world.path("image-root").display().to_string();
    assert_eq!(
        world.packages.take(),
        [format!("remove {image_root} opkg-solo-client")]
    );
    for client in ["n1", "n2"] {
        assert_eq!(
            world.row(&node(client), "solo").await.requested,
            Stage::ShouldNotBeInstalled
        );
    }
    n1.run().await.unwrap();
    world
        .engine(Role::Client, "n2", &world.path("n1-root"))
        .run()
        .await
        .unwrap();
    world.packages.take();
    let report = server.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    let head_root = world.path("head-root").display().to_string();
    assert_eq!(
        world.packages.take(),
        [
            format!("remove {head_root} opkg-solo-server"),
            format!("remove {head_root} opkg-solo")
        ]
    );
    let row = world.row(&head(), "solo").await;
    assert_eq!(row.current, Some(Stage::ShouldNotBeInstalled));
    assert_eq!(row.status, Status::Ok);
}

#[tokio::test]
async fn independent_client_parts_on_one_image_share_one_transaction() {
    let world = World::new().await;
    for opkg in ["one", "two"] {
        world.import(opkg, &[]).await;
        world.request(&image(), opkg, Stage::Finished).await;
    }
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    let report = server.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    let image_root = world.path("image-root").display().to_string();
    assert_eq!(
        world.packages.take(),
        [format!(
            "install {image_root} opkg-one-client,opkg-two-client"
        )]
    );
}

#[tokio::test]
async fn a_target_leased_elsewhere_is_reported_with_its_owner_and_left_alone() {
    let world = World::new().await;
    world.import("solo", &[]).await;
    world.request(&head(), "solo", Stage::Finished).await;
    world.request(&image(), "solo", Stage::Finished).await;
    let now = opm_engine::Clock::now_ms(&SystemClock);
    // Another machine's owner: liveness unknown, only the expiry counts.
    world
        .store
        .acquire_lease(&head(), "elsewhere:1:1", 60_000, now)
        .await
        .unwrap();
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    let report = server.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Blocked, "{report:?}");
    assert_eq!(report.blocked.len(), 1, "{report:?}");
    assert!(
        report.blocked[0]
            .reason
            .starts_with("node head is being worked by elsewhere:1:1 until "),
        "{report:?}"
    );
    // The image, a separate target, went ahead.
    assert_eq!(
        world.row(&image(), "solo").await.current,
        Some(Stage::Finished)
    );
    assert_eq!(
        world.row(&head(), "solo").await.current,
        Some(Stage::ShouldNotBeInstalled)
    );
}

#[tokio::test]
async fn a_dead_local_owner_is_taken_over_at_once() {
    let world = World::new().await;
    world.import("solo", &[]).await;
    world.request(&head(), "solo", Stage::Finished).await;
    let now = opm_engine::Clock::now_ms(&SystemClock);
    // An owner on this host whose pid now belongs to another process (a
    // start time it cannot have): the owner is gone, its lease lapses now.
    let gone = format!("testhost:{}:{}", std::process::id(), u64::MAX);
    let lease = world
        .store
        .acquire_lease(&head(), &gone, 600_000, now)
        .await
        .unwrap();
    let row = world
        .store
        .row(&head(), &name(NameKind::Opkg, "solo"))
        .await
        .unwrap();
    world
        .store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, lease.token, now)
        .await
        .unwrap();
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    let report = server.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    let history = world
        .store
        .history(&HistoryFilter {
            target: Some(head()),
            opkg: Some(name(NameKind::Opkg, "solo")),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(
        history[0].result,
        Some(opm_store::AttemptResult::Interrupted)
    );
    assert_eq!(history[1].stage, Some(Stage::ShouldBeInstalled));
    assert!(
        history[1]
            .output
            .contains("previous attempt was interrupted")
    );
}

/// Writes the executable script `file` of `opkg` where the engine finds it
/// under `root` (SPEC §1.7).
fn write_script(root: &Path, opkg: &str, file: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join("usr/lib/oscar/packages").join(opkg);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Asserts that the log of [`exclusive`] scripts in `sync` shows
/// `scripts` runs, one at a time.
fn assert_one_at_a_time(sync: &Path, scripts: usize) {
    let log = std::fs::read_to_string(sync.join("log")).unwrap();
    if let Err(why) = overlap::one_at_a_time(&log, scripts) {
        panic!("{why}");
    }
}

/// A fresh directory for scripts to meet in.
fn sync_dir(world: &World) -> PathBuf {
    let sync = world.path("sync");
    std::fs::create_dir_all(&sync).unwrap();
    sync
}

/// Unrelated opkgs alpha and beta, each requested to the head node's
/// api-post-deploy, whose script `script(sync, me, other)` makes.
async fn alpha_and_beta(world: &World, sync: &Path, script: fn(&Path, &str, &str) -> String) {
    for (me, other) in [("alpha", "beta"), ("beta", "alpha")] {
        world.import(me, &[]).await;
        write_script(
            &world.path("head-root"),
            me,
            "api-post-deploy",
            &script(sync, me, other),
        );
        world
            .request(&head(), me, Stage::RunScriptPostInstall)
            .await;
    }
}

/// The pass converged with alpha's and beta's api-post-deploy passed.
async fn both_passed(world: &World, report: &opm_engine::RunReport) {
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    for opkg in ["alpha", "beta"] {
        let row = world.row(&head(), opkg).await;
        assert_eq!(row.current, Some(Stage::RunScriptPostInstall), "{opkg}");
        assert_eq!(row.status, Status::Ok, "{opkg}");
    }
}

#[tokio::test]
async fn opted_in_script_stages_of_unrelated_opkgs_run_side_by_side() {
    let world = World::new().await;
    let sync = sync_dir(&world);
    alpha_and_beta(&world, &sync, rendezvous).await;
    let server = world.engine_with(Role::Server, "head", &world.path("head-root"), true);
    let report = server.run().await.unwrap();
    // Each api-post-deploy waited for the other's: both passing means they
    // ran at the same time on the one target.
    both_passed(&world, &report).await;
}

#[tokio::test]
async fn by_default_a_targets_script_stages_run_one_at_a_time() {
    let world = World::new().await;
    let sync = sync_dir(&world);
    alpha_and_beta(&world, &sync, exclusive).await;
    // jobs is 2, as in the side-by-side test: only the setting differs.
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    let report = server.run().await.unwrap();
    both_passed(&world, &report).await;
    assert_one_at_a_time(&sync, 2);
}

#[tokio::test]
async fn opted_in_script_stages_of_dependent_opkgs_still_run_one_at_a_time() {
    let world = World::new().await;
    world.import("base", &[]).await;
    world.import("top", &["base"]).await;
    // First walk base to run-script-post-clients and top (on the image
    // too) to install-bin-pkgs, with no scripts shipped yet. Top may go
    // up to base's stage, so the next pass has base's api-post-deploy and
    // top's api-post-image, both script-only, in one round on the head
    // node: only their dependency keeps them apart.
    world
        .request(&head(), "base", Stage::RunScriptPostClients)
        .await;
    world.request(&head(), "top", Stage::InstallBinPkgs).await;
    for opkg in ["base", "top"] {
        world.request(&image(), opkg, Stage::Finished).await;
    }
    let head_root = world.path("head-root");
    let server = world.engine_with(Role::Server, "head", &head_root, true);
    let report = server.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    assert_eq!(
        world.row(&head(), "base").await.current,
        Some(Stage::RunScriptPostClients)
    );
    assert_eq!(
        world.row(&head(), "top").await.current,
        Some(Stage::InstallBinPkgs)
    );

    let sync = sync_dir(&world);
    write_script(
        &head_root,
        "base",
        "api-post-deploy",
        &exclusive(&sync, "base", "top"),
    );
    write_script(
        &head_root,
        "top",
        "api-post-image",
        &exclusive(&sync, "top", "base"),
    );
    world
        .request(&head(), "base", Stage::RunScriptPostInstall)
        .await;
    world
        .request(&head(), "top", Stage::RunScriptPostImage)
        .await;
    let report = server.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(
        world.row(&head(), "base").await.current,
        Some(Stage::RunScriptPostInstall)
    );
    assert_eq!(
        world.row(&head(), "top").await.current,
        Some(Stage::RunScriptPostImage)
    );
    assert_one_at_a_time(&sync, 2);
}

#[tokio::test]
async fn a_script_flooding_both_streams_keeps_the_end_of_stdout_and_the_start_of_stderr() {
    let world = World::new().await;
    world.import("flood", &[]).await;
    write_script(
        &world.path("head-root"),
        "flood",
        "api-post-deploy",
        "#!/bin/sh\necho out-first\nhead -c 2097152 /dev/zero | tr '\\0' o\necho\necho out-last\n\
         echo err-first >&2\nhead -c 2097152 /dev/zero | tr '\\0' e >&2\necho >&2\necho err-last >&2\n",
    );
    world
        .request(&head(), "flood", Stage::RunScriptPostInstall)
        .await;
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    let report = server.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    let history = world
        .store
        .history(&HistoryFilter {
            target: Some(head()),
            opkg: Some(name(NameKind::Opkg, "flood")),
            limit: 100,
        })
        .await
        .unwrap();
    let attempt = history
        .iter()
        .find(|entry| entry.stage == Some(Stage::RunScriptPostInstall))
        .unwrap();
    // Each stream's start and end, in the one record the history keeps.
    for line in [
        "out-first\n",
        "\nout-last\n",
        "\nerr-first\n",
        "\nerr-last\n",
    ] {
        assert!(attempt.output.contains(line), "{line:?} missing");
    }
    for stream in ["stdout", "stderr"] {
        let written = format!("bytes of {stream} left out of 2097172 written]");
        assert!(attempt.output.contains(&written), "{stream}");
    }
    assert!(attempt.output.len() <= opm_store::MAX_OUTPUT_BYTES);
    // Every byte written counts, though the text keeps only part of them:
    // the script's step all its two streams carried, the attempt its steps
    // and opm's line naming each step.
    assert!(
        attempt.output_bytes > 2 * 2_097_172,
        "{}",
        attempt.output_bytes
    );
    let steps = world.store.steps(attempt.id).await.unwrap();
    let flood = steps
        .iter()
        .find(|step| step.action == "run api-post-deploy")
        .unwrap();
    assert_eq!(flood.output_bytes, Some(2 * 2_097_172));
    let headers: usize = steps
        .iter()
        .map(|step| format!("== {}\n", step.action).len())
        .sum();
    let printed: u64 = steps.iter().map(|step| step.output_bytes.unwrap()).sum();
    let counts: Vec<(&str, Option<u64>)> = steps
        .iter()
        .map(|step| (step.action.as_str(), step.output_bytes))
        .collect();
    assert_eq!(attempt.output_bytes, headers as u64 + printed, "{counts:?}");
}

#[tokio::test]
async fn an_image_root_that_is_the_running_system_is_never_installed_into() {
    let world = World::new().await;
    // Stored by an opm that did not refuse it at `opm image add`.
    world
        .store
        .add_image(&Image {
            name: name(NameKind::Image, "hostimg"),
            root: PathBuf::from("/"),
        })
        .await
        .unwrap();
    world.import("solo", &[]).await;
    let target = Target::image(name(NameKind::Image, "hostimg"));
    world.request(&target, "solo", Stage::Finished).await;
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    let report = server.run().await.unwrap();
    let calls = world.packages.take();
    assert!(
        calls.iter().all(|call| !call.starts_with("install / ")),
        "{calls:?}"
    );
    match world.row(&target, "solo").await.status {
        Status::Error { message } => {
            assert!(
                message.contains("image root / is this machine's /"),
                "{message}"
            );
        }
        other => panic!("{other:?} {report:?}"),
    }
}

/// Verify (SPEC §1.9) reads each root once for all its rows; a package
/// tool that is missing changes no row; packages the database does not
/// have make rows drifted, and a repair reruns each from the stage that
/// installs what drifted (the api part: should_be_installed).
#[tokio::test]
async fn a_verify_reads_each_root_once_and_a_missing_tool_changes_no_row() {
    let world = World::new().await;
    world.import("base", &[]).await;
    world.import("top", &["base"]).await;
    for opkg in ["base", "top"] {
        world.request(&head(), opkg, Stage::Finished).await;
        world.request(&image(), opkg, Stage::Finished).await;
    }
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    server.run().await.unwrap();
    world.packages.take();

    world
        .packages
        .tool_missing
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let found = server.verify(None).await.unwrap();
    assert_eq!(found.summary.checked, 0);
    assert_eq!(found.summary.unreadable.len(), 2, "{found:?}");
    assert!(
        found.summary.unreadable[0]
            .reason
            .starts_with("dpkg-query is not installed"),
        "{found:?}"
    );
    for target in [head(), image()] {
        assert_eq!(world.row(&target, "base").await.status, Status::Ok);
    }
    let head_root = world.path("head-root").display().to_string();
    let image_root = world.path("image-root").display().to_string();
    assert_eq!(
        world.packages.take(),
        [
            format!("inventory {head_root} opkg-base,opkg-base-server,opkg-top,opkg-top-server"),
            format!("inventory {image_root} opkg-base-client,opkg-top-client"),
        ]
    );

    world
        .packages
        .tool_missing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let found = server.verify(None).await.unwrap();
    assert_eq!(found.summary.checked, 4);
    assert_eq!(found.summary.drifted.len(), 4);
    assert_eq!(
        world.row(&head(), "base").await.status,
        Status::Drifted {
            message: "opkg-base is not installed (expected 1.0-1); opkg-base-server is not installed (expected 1.0-1)".to_owned()
        }
    );
    let (_, repaired) = server.repair(&[]).await.unwrap();
    let from: Vec<(String, Stage)> = repaired
        .iter()
        .map(|repair| (repair.row.clone(), repair.from))
        .collect();
    assert!(
        from.contains(&("node head / base".to_owned(), Stage::ShouldBeInstalled)),
        "{from:?}"
    );
    assert!(
        from.contains(&("image img / top".to_owned(), Stage::InstallBinPkgs)),
        "{from:?}"
    );
    assert_eq!(from.len(), 4, "{from:?}");
    let base = world.row(&head(), "base").await;
    assert_eq!(
        (base.status, base.current),
        (Status::Ok, Some(Stage::ShouldNotBeInstalled))
    );
}

/// A node's own engine gets no work from a rollout that has not started
/// it (the gate, SPEC §1.10): with `max_parallel` 1 the first member runs
/// first, the second one's pass is blocked saying its batch, installs
/// nothing, and runs once the first one finished.
#[tokio::test]
async fn a_nodes_engine_waits_until_its_rollout_starts_it() {
    let world = World::new().await;
    world.import("solo", &[]).await;
    world.request(&head(), "solo", Stage::Finished).await;
    let server = world.engine(Role::Server, "head", &world.path("head-root"));
    server.run().await.unwrap();
    world.packages.take();
    world
        .store
        .open_rollout(
            &opm_store::NewRollout {
                label: "solo 1.0-1".to_owned(),
                packages: vec![name(NameKind::Opkg, "solo")],
                policy: opm_model::RolloutPolicy {
                    max_parallel: Some(opm_model::Limit::Count(1)),
                    ..opm_model::RolloutPolicy::default()
                },
                members: vec![name(NameKind::Node, "n1"), name(NameKind::Node, "n2")],
            },
            1,
        )
        .await
        .unwrap();
    let n2 = world.engine(Role::Client, "n2", &world.path("n1-root"));
    let report = n2.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Blocked, "{report:?}");
    assert_eq!(
        report.blocked[0].reason,
        "waiting: rollout solo 1.0-1, batch 2 of 2"
    );
    assert_eq!(report.started, [name(NameKind::Node, "n1")]);
    assert!(world.packages.take().is_empty());

    let n1 = world.engine(Role::Client, "n1", &world.path("n1-root"));
    assert_eq!(n1.run().await.unwrap().verdict(), Verdict::Converged);
    world.packages.take();
    let report = n2.run().await.unwrap();
    assert_eq!(report.verdict(), Verdict::Converged, "{report:?}");
    assert_eq!(report.started, [name(NameKind::Node, "n2")]);
    assert_eq!(world.packages.take().len(), 1);
}
