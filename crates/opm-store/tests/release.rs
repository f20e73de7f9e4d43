//! `release_interrupted`: a row left running by a crashed attempt that is
//! no longer needed goes back to ok, its attempt is marked interrupted,
//! `current` is untouched, and only the target's current lease may do it.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{import, node, opkg};
use opm_model::{Stage, Status};
use opm_store::{AttemptResult, HistoryFilter, Store, StoreError};

on_both_backends!(a_dead_attempt_is_released_under_the_current_lease_only);

async fn a_dead_attempt_is_released_under_the_current_lease_only(store: &impl Store) {
    store.import_opkg(&import("slurm"), 0).await.unwrap();
    let head = node("head");
    let row = store
        .request(&head, &opkg("slurm"), Stage::Finished, 0)
        .await
        .unwrap();
    // A first owner begins a stage and dies: its lease runs out.
    let dead = store.acquire_lease(&head, "h:1:1", 1_000, 0).await.unwrap();
    store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, dead.token, 10)
        .await
        .unwrap();
    let live = store
        .acquire_lease(&head, "h:2:2", 1_000, 2_000)
        .await
        .unwrap();
    // The stale token may not release.
    let refused = store
        .release_interrupted(row.id, dead.token, 2_001)
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::StaleToken { .. }),
        "{refused}"
    );
    let released = store
        .release_interrupted(row.id, live.token, 2_002)
        .await
        .unwrap();
    assert_eq!(released.row.status, Status::Ok);
    assert_eq!(released.row.current, Some(Stage::ShouldNotBeInstalled));
    let history = store
        .history(&HistoryFilter {
            target: Some(head.clone()),
            opkg: Some(opkg("slurm")),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].result, Some(AttemptResult::Interrupted));
    assert_eq!(history[0].ended_ms, Some(2_002));
    // Releasing a row that is not running changes nothing.
    let again = store
        .release_interrupted(row.id, live.token, 2_003)
        .await
        .unwrap();
    assert_eq!(again, released);
}
