//! The conformance story: create → request → transition → error → retry →
//! rerun → uninstall → crash release → history, written once over any
//! [`Store`] and run here against a real SQLite file (the PostgreSQL backend
//! adds one more caller).

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{group, image, image_name, import, node, node_name, opkg};
use opm_model::{Phase, Stage, Status};
use opm_store::{
    AttemptResult, Event, HistoryFilter, Image, NewNode, OpenMode, Outcome, PostgresStore,
    RowAfter, Scope, SqliteStore, Store, StoreError,
};

/// One head node `head` is registered; the rest is created here.
async fn story(store: &impl Store) {
    // create
    store
        .add_image(&Image {
            name: image_name("img1"),
            root: "/var/lib/opm/images/img1".into(),
        })
        .await
        .unwrap();
    store
        .add_node(&NewNode {
            name: node_name("n1"),
            groups: vec![],
            image: None,
        })
        .await
        .unwrap();
    store
        .add_node(&NewNode {
            name: node_name("n2"),
            groups: vec![group("gpu")],
            image: Some(image_name("img1")),
        })
        .await
        .unwrap();
    let nodes = store.nodes().await.unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["head", "n1", "n2"]);
    assert!(nodes[0].head && !nodes[1].head);
    assert_eq!(nodes[1].groups, [group("oscar_clients")]);
    assert_eq!(nodes[2].groups, [group("gpu")]);
    assert_eq!(nodes[2].image, Some(image_name("img1")));
    assert_eq!(
        store.group_members(&group("oscar_clients")).await.unwrap(),
        [node_name("n1")]
    );

    store.import_opkg(&import("base"), 10).await.unwrap();
    let mut slurm = import("slurm");
    slurm.depends = vec![opkg("base")];
    slurm.conflicts = vec![opkg("pbs")];
    store.import_opkg(&slurm, 11).await.unwrap();
    store
        .select_opkg_for_group(&opkg("slurm"), &group("oscar_clients"))
        .await
        .unwrap();
    let opkgs = store.opkgs().await.unwrap();
    assert_eq!(opkgs.len(), 2);
    assert_eq!(opkgs[1].import, slurm);
    assert_eq!(opkgs[1].groups, [group("oscar_clients")]);
    assert_eq!(opkgs[1].imported_at_ms, 11);

    assert_eq!(store.phase().await.unwrap(), Phase::SetupWizard);
    store.set_phase(Phase::BuildImage, 12).await.unwrap();
    assert_eq!(store.phase().await.unwrap(), Phase::BuildImage);

    // request: a new row starts uninstalled; asking again is no duplicate
    let head = node("head");
    let first = store
        .request(&head, &opkg("slurm"), Stage::Finished, 20)
        .await
        .unwrap();
    assert_eq!(first.row.requested, Stage::Finished);
    assert_eq!(first.row.current, Some(Stage::ShouldNotBeInstalled));
    assert_eq!(first.row.status, Status::Ok);
    let again = store
        .request(&head, &opkg("slurm"), Stage::Finished, 21)
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    store
        .request(&image("img1"), &opkg("slurm"), Stage::Finished, 22)
        .await
        .unwrap();
    assert_eq!(store.rows_for_opkg(&opkg("slurm")).await.unwrap().len(), 2);
    let of_both = store
        .rows_for_opkgs(&[opkg("slurm"), opkg("never-imported")])
        .await
        .unwrap();
    assert_eq!(of_both.len(), 2);
    assert!(of_both.iter().all(|s| s.row.package == opkg("slurm")));
    assert!(store.rows_for_opkgs(&[]).await.unwrap().is_empty());
    let pending = store.pending_rows(&Scope::All, None, 10).await.unwrap();
    assert_eq!(pending.rows.len(), 2);
    assert_eq!(pending.next, None);
    let mine = store
        .pending_rows(&Scope::Target(head.clone()), None, 10)
        .await
        .unwrap();
    assert_eq!(mine.rows.len(), 1);
    assert_eq!(mine.rows[0].id, first.id);

    // transition: one stage under a lease
    let lease = store
        .acquire_lease(&head, "engine-a", 60_000, 30)
        .await
        .unwrap();
    assert_eq!(lease.owner, "engine-a");
    assert_eq!(lease.expires_at_ms, 60_030);
    let attempt = store
        .begin_attempt(first.id, Stage::ShouldBeInstalled, lease.token, 31)
        .await
        .unwrap();
    let running = store.row(&head, &opkg("slurm")).await.unwrap();
    assert_eq!(
        running.row.status,
        Status::Running {
            lease: lease.clone()
        }
    );
    let passed = store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: true,
                exit_code: Some(0),
                output: "installed opkg-slurm\n".to_owned(),
                output_bytes: 21,
            },
            &RowAfter {
                current: Some(Stage::ShouldBeInstalled),
                error: None,
                version: None,
            },
            lease.token,
            32,
        )
        .await
        .unwrap();
    assert_eq!(passed.row.current, Some(Stage::ShouldBeInstalled));
    assert_eq!(passed.row.status, Status::Ok);

    // error: current stays at the last completed stage
    let attempt = store
        .begin_attempt(first.id, Stage::RunConfigurator, lease.token, 40)
        .await
        .unwrap();
    let failed = store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: false,
                exit_code: Some(3),
                output: "api-pre-configure: missing value\n".to_owned(),
                output_bytes: 33,
            },
            &RowAfter {
                current: Some(Stage::ShouldBeInstalled),
                error: Some("api-pre-configure exited 3: missing value".to_owned()),
                version: None,
            },
            lease.token,
            41,
        )
        .await
        .unwrap();
    assert_eq!(failed.row.current, Some(Stage::ShouldBeInstalled));
    assert_eq!(
        failed.row.status,
        Status::Error {
            message: "api-pre-configure exited 3: missing value".to_owned()
        }
    );
    let refused = store
        .begin_attempt(first.id, Stage::RunConfigurator, lease.token, 42)
        .await;
    assert!(
        matches!(refused, Err(StoreError::RowInError { .. })),
        "{refused:?}"
    );

    // retry: clears the error, records the reason; the failed stage runs again
    let cleared = store
        .retry(&head, &opkg("slurm"), "value set by admin", 50)
        .await
        .unwrap();
    assert_eq!(cleared.row.status, Status::Ok);
    assert_eq!(cleared.row.current, Some(Stage::ShouldBeInstalled));
    let twice = store.retry(&head, &opkg("slurm"), "again", 51).await;
    assert!(
        matches!(twice, Err(StoreError::NotInError { .. })),
        "{twice:?}"
    );
    let attempt = store
        .begin_attempt(first.id, Stage::RunConfigurator, lease.token, 52)
        .await
        .unwrap();
    store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: true,
                exit_code: Some(0),
                output: String::new(),
                output_bytes: 0,
            },
            &RowAfter {
                current: Some(Stage::RunConfigurator),
                error: None,
                version: None,
            },
            lease.token,
            53,
        )
        .await
        .unwrap();

    // rerun: only stages already passed, never the uninstalled state
    let bad = store
        .rerun(&head, &opkg("slurm"), Stage::InstallBinPkgs, 60)
        .await;
    assert!(
        matches!(bad, Err(StoreError::InvalidRerun { .. })),
        "{bad:?}"
    );
    let bad = store
        .rerun(&head, &opkg("slurm"), Stage::ShouldNotBeInstalled, 60)
        .await;
    assert!(
        matches!(bad, Err(StoreError::InvalidRerun { .. })),
        "{bad:?}"
    );
    let back = store
        .rerun(&head, &opkg("slurm"), Stage::RunConfigurator, 61)
        .await
        .unwrap();
    assert_eq!(back.row.current, Some(Stage::ShouldBeInstalled));

    // configuration values: image values override opkg-wide ones
    store
        .config_set(&opkg("slurm"), None, "partition", "all")
        .await
        .unwrap();
    store
        .config_set(&opkg("slurm"), None, "partition", "batch")
        .await
        .unwrap();
    store
        .config_set(&opkg("slurm"), None, "port", "6817")
        .await
        .unwrap();
    store
        .config_set(&opkg("slurm"), Some(&image_name("img1")), "port", "7000")
        .await
        .unwrap();
    let wide = store.config_values(&opkg("slurm"), None).await.unwrap();
    assert_eq!(
        wide,
        [
            ("partition".to_owned(), "batch".to_owned()),
            ("port".to_owned(), "6817".to_owned())
        ]
    );
    let for_image = store
        .config_values(&opkg("slurm"), Some(&image_name("img1")))
        .await
        .unwrap();
    assert_eq!(
        for_image,
        [
            ("partition".to_owned(), "batch".to_owned()),
            ("port".to_owned(), "7000".to_owned())
        ]
    );

    // uninstall: requested should_not_be_installed, one recorded step, converged
    store
        .request(&head, &opkg("slurm"), Stage::ShouldNotBeInstalled, 70)
        .await
        .unwrap();
    let attempt = store
        .begin_attempt(first.id, Stage::ShouldNotBeInstalled, lease.token, 71)
        .await
        .unwrap();
    let gone = store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: true,
                exit_code: Some(0),
                output: "removed opkg-slurm\n".to_owned(),
                output_bytes: 19,
            },
            &RowAfter {
                current: Some(Stage::ShouldNotBeInstalled),
                error: None,
                version: None,
            },
            lease.token,
            72,
        )
        .await
        .unwrap();
    assert_eq!(gone.row.current, Some(Stage::ShouldNotBeInstalled));
    let mine = store
        .pending_rows(&Scope::Target(head.clone()), None, 10)
        .await
        .unwrap();
    assert!(mine.rows.is_empty(), "a converged row is not pending");
    store.release_lease(&head, lease.token).await.unwrap();
    let stale = store.renew_lease(&head, lease.token, 1000, 73).await;
    assert!(
        matches!(stale, Err(StoreError::StaleToken { .. })),
        "{stale:?}"
    );

    // history: every attempt and operator event, in order
    let history = store
        .history(&HistoryFilter {
            target: Some(head.clone()),
            opkg: Some(opkg("slurm")),
            limit: 100,
        })
        .await
        .unwrap();
    let told: Vec<_> = history
        .iter()
        .map(|h| (h.event, h.stage, h.result, h.exit_code))
        .collect();
    use AttemptResult::{Failed, Passed};
    assert_eq!(
        told,
        [
            (
                Event::Attempt,
                Some(Stage::ShouldBeInstalled),
                Some(Passed),
                Some(0)
            ),
            (
                Event::Attempt,
                Some(Stage::RunConfigurator),
                Some(Failed),
                Some(3)
            ),
            (Event::Retry, None, None, None),
            (
                Event::Attempt,
                Some(Stage::RunConfigurator),
                Some(Passed),
                Some(0)
            ),
            (Event::Rerun, Some(Stage::RunConfigurator), None, None),
            (
                Event::Attempt,
                Some(Stage::ShouldNotBeInstalled),
                Some(Passed),
                Some(0)
            ),
        ]
    );
    assert_eq!(history[0].started_ms, 31);
    assert_eq!(history[0].ended_ms, Some(32));
    assert_eq!(history[0].output, "installed opkg-slurm\n");
    assert_eq!(history[1].output, "api-pre-configure: missing value\n");
    assert_eq!(history[2].note, "value set by admin");
    let newest = store
        .history(&HistoryFilter {
            target: None,
            opkg: None,
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(newest, history[4..]);

    // a crashed attempt that is no longer needed is released by the next lease
    let img = image("img1");
    let image_row = store.row(&img, &opkg("slurm")).await.unwrap();
    let dead = store
        .acquire_lease(&img, "engine-a", 100, 90)
        .await
        .unwrap();
    store
        .begin_attempt(image_row.id, Stage::ShouldBeInstalled, dead.token, 91)
        .await
        .unwrap();
    let live = store
        .acquire_lease(&img, "engine-b", 100, 500)
        .await
        .unwrap();
    assert!(live.token > dead.token);
    let released = store
        .release_interrupted(image_row.id, live.token, 501)
        .await
        .unwrap();
    assert_eq!(released.row.status, Status::Ok);
    assert_eq!(released.row.current, Some(Stage::ShouldNotBeInstalled));
    let image_history = store
        .history(&HistoryFilter {
            target: Some(img.clone()),
            opkg: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(image_history.len(), 1);
    assert_eq!(image_history[0].result, Some(AttemptResult::Interrupted));

    // removing a node drops its rows but keeps the history
    store
        .request(&node("n1"), &opkg("slurm"), Stage::Finished, 80)
        .await
        .unwrap();
    assert_eq!(store.rows_for_target(&node("n1")).await.unwrap().len(), 1);
    store.remove_node(&node_name("n1")).await.unwrap();
    let unknown = store.rows_for_target(&node("n1")).await;
    assert!(
        matches!(unknown, Err(StoreError::UnknownNode { .. })),
        "{unknown:?}"
    );
    assert_eq!(store.rows_for_opkg(&opkg("slurm")).await.unwrap().len(), 2);
    let in_use = store.remove_image(&image_name("img1")).await;
    assert!(
        matches!(in_use, Err(StoreError::ImageInUse { .. })),
        "{in_use:?}"
    );
    let head_removal = store.remove_node(&node_name("head")).await;
    assert!(
        matches!(head_removal, Err(StoreError::HeadNodeRemoval { .. })),
        "{head_removal:?}"
    );
}

#[tokio::test]
async fn story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    let store = SqliteStore::open(&path, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    store.register_head_node(&node_name("head")).await.unwrap();
    story(&store).await;
    store.close().await;

    // Everything survives a reopen of the file.
    let reopened = SqliteStore::open(&path, OpenMode::Existing).await.unwrap();
    let rows = reopened.rows_for_opkg(&opkg("slurm")).await.unwrap();
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn story_on_postgres() {
    let Some((url, store)) = common::fresh_postgres().await else {
        return;
    };
    story(&store).await;
    store.close().await;

    // Everything survives a reconnect.
    let reopened = PostgresStore::open(&url, OpenMode::Existing).await.unwrap();
    let rows = reopened.rows_for_opkg(&opkg("slurm")).await.unwrap();
    assert_eq!(rows.len(), 2);
}
