//! Nodes drained through the scheduler (issue 20, migration 0012): a
//! drain is stored, completes keeping the time opm asked for it, survives
//! a reopened database, ends with a note on the rows that failed during
//! it (and only those), and goes with its node.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{node, node_name, opkg};
use opm_model::{DrainState, Stage, Status};
use opm_store::{OpenMode, Outcome, RowAfter, SqliteStore, Store, StoreError};

/// Fails the install of `opkg` on node `n1` at `at_ms` with `message`.
async fn fail(store: &impl Store, package: &str, at_ms: i64, message: &str) {
    let target = node("n1");
    let row = store
        .request(&target, &opkg(package), Stage::InstallBinPkgs, at_ms)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(&target, "agent:n1:a", 60_000, at_ms)
        .await
        .unwrap();
    let attempt = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, lease.token, at_ms)
        .await
        .unwrap();
    store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: false,
                exit_code: Some(1),
                output: String::new(),
                output_bytes: 0,
            },
            &RowAfter {
                current: None,
                error: Some(message.to_owned()),
                version: None,
            },
            lease.token,
            at_ms,
        )
        .await
        .unwrap();
    store.release_lease(&target, lease.token).await.unwrap();
}

async fn message(store: &impl Store, package: &str) -> String {
    match store
        .row(&node("n1"), &opkg(package))
        .await
        .unwrap()
        .row
        .status
    {
        Status::Error { message } => message,
        other => panic!("{package}: {other:?}"),
    }
}

on_both_backends!(a_drain_is_kept_ended_with_a_note_and_goes_with_its_node);

async fn a_drain_is_kept_ended_with_a_note_and_goes_with_its_node(store: &impl Store) {
    common::add_plain_node(store, "n1").await;
    common::add_plain_node(store, "n2").await;
    for name in ["motd", "slurm"] {
        store.import_opkg(&common::import(name), 1).await.unwrap();
    }
    let (n1, n2) = (node_name("n1"), node_name("n2"));
    assert_eq!(store.node_drain(&n1).await.unwrap(), None);
    assert!(store.node_drains().await.unwrap().is_empty());

    // A failure before the drain is not the drain's business.
    fail(store, "slurm", 50, "slurm failed").await;
    store
        .set_node_drain(&n1, DrainState::Draining { since_ms: 100 }, 100)
        .await
        .unwrap();
    store
        .set_node_drain(&n2, DrainState::Drained { ours: false }, 110)
        .await
        .unwrap();
    assert_eq!(
        store.node_drain(&n1).await.unwrap(),
        Some(DrainState::Draining { since_ms: 100 })
    );
    // Completing keeps the time opm asked for the drain: a failure after
    // it is noted at the end, the one before it is not.
    store
        .set_node_drain(&n1, DrainState::Drained { ours: true }, 200)
        .await
        .unwrap();
    assert_eq!(
        store.node_drains().await.unwrap(),
        [
            (n1.clone(), DrainState::Drained { ours: true }),
            (n2.clone(), DrainState::Drained { ours: false }),
        ]
    );
    fail(store, "motd", 150, "motd failed").await;
    assert_eq!(
        store
            .end_node_drain(&n1, "opm resumed n1 after this failure")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        message(store, "motd").await,
        "motd failed; opm resumed n1 after this failure"
    );
    assert_eq!(message(store, "slurm").await, "slurm failed");
    assert_eq!(store.node_drain(&n1).await.unwrap(), None);
    // Ending a drain that is not there changes nothing.
    assert_eq!(store.end_node_drain(&n1, "again").await.unwrap(), 0);
    assert_eq!(message(store, "motd").await.matches("resumed").count(), 1);

    // An unknown node is refused by name; a removed node's drain goes.
    let ghost = node_name("ghost");
    let refused = store
        .set_node_drain(&ghost, DrainState::Drained { ours: true }, 1)
        .await;
    assert!(
        matches!(refused, Err(StoreError::UnknownNode { .. })),
        "{refused:?}"
    );
    store.remove_node(&n2).await.unwrap();
    assert!(store.node_drains().await.unwrap().is_empty());
}

/// A restarted server opens the database again: the drain is there, with
/// the time opm asked for it, from which the timeout counts.
#[tokio::test]
async fn a_drain_survives_a_reopened_database() {
    let (_dir, path, store) = common::fresh().await;
    common::add_plain_node(&store, "n1").await;
    let n1 = node_name("n1");
    store
        .set_node_drain(&n1, DrainState::Draining { since_ms: 1234 }, 1234)
        .await
        .unwrap();
    drop(store);
    let again = SqliteStore::open(&path, OpenMode::Existing).await.unwrap();
    assert_eq!(
        again.node_drain(&n1).await.unwrap(),
        Some(DrainState::Draining { since_ms: 1234 })
    );
}
