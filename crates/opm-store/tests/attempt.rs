//! One attempt read back by id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fresh, import, node, opkg};
use opm_model::Stage;
use opm_store::{AttemptId, Outcome, RowAfter, Store, StoreError};

#[tokio::test]
async fn an_attempt_is_read_back_by_id_with_its_output() {
    let (_dir, _path, store) = fresh().await;
    store.import_opkg(&import("pkg"), 1).await.unwrap();
    let row = store
        .request(&node("head"), &opkg("pkg"), Stage::Finished, 1)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(&node("head"), "engine", 60_000, 2)
        .await
        .unwrap();
    let id = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, lease.token, 3)
        .await
        .unwrap();
    let outcome = Outcome {
        passed: true,
        exit_code: Some(0),
        output: "installed\n".to_owned(),
        output_bytes: 10,
    };
    let after = RowAfter {
        current: Some(Stage::ShouldBeInstalled),
        error: None,
        version: None,
    };
    store
        .finish_attempt(id, &outcome, &after, lease.token, 4)
        .await
        .unwrap();
    let entry = store.attempt(id).await.unwrap();
    assert_eq!(entry.id, id);
    assert_eq!(entry.target, node("head"));
    assert_eq!(entry.stage, Some(Stage::ShouldBeInstalled));
    assert_eq!(entry.output, "installed\n");
    assert_eq!((entry.started_ms, entry.ended_ms), (3, Some(4)));
    let error = store.attempt(AttemptId(id.0 + 1)).await.unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownAttempt { .. }),
        "{error:?}"
    );
}
