//! PostgreSQL's attempt writes of one target run side by side, while the
//! writes of one row queue and a change of the target's lease waits for
//! them all (`locks.rs`). Another session plays an attempt's begin in
//! progress: it takes the locks a begin takes (the target's lock shared,
//! then the row) and records a running attempt. The begin that queued
//! behind it must read what it committed, and mark that attempt
//! interrupted.

// Helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{fresh_postgres, import, node, opkg};
use opm_model::Stage;
use opm_store::{AttemptResult, HistoryFilter, Store};
use sqlx::{Connection, PgConnection};
use tokio::time::{sleep, timeout};

/// Long enough for a write that is not stuck behind a lock.
const PROMPT: Duration = Duration::from_secs(10);

/// How long a write that should be waiting is watched before the lock it
/// waits for is freed; a write that ought to wait and is merely slow
/// passes too, so this only has to be long enough to catch one that does
/// not wait.
const WATCHED: Duration = Duration::from_millis(300);

#[tokio::test]
async fn attempts_on_one_target_begin_side_by_side_and_one_rows_writes_queue() {
    let Some((url, store)) = fresh_postgres().await else {
        return;
    };
    let head = node("head");
    for name in ["first", "second"] {
        store.import_opkg(&import(name), 1).await.unwrap();
    }
    let first = store
        .request(&head, &opkg("first"), Stage::ShouldBeInstalled, 2)
        .await
        .unwrap();
    let second = store
        .request(&head, &opkg("second"), Stage::ShouldBeInstalled, 2)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(&head, "server", 60_000, 10)
        .await
        .unwrap();

    let mut other = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "BEGIN; \
         SELECT pg_advisory_xact_lock_shared(id * 2 + 2) FROM nodes WHERE name = 'head'",
    )
    .execute(&mut other)
    .await
    .unwrap();
    sqlx::query("SELECT 1 FROM rows WHERE id = $1 FOR UPDATE")
        .bind(first.id.0)
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO history (row_id, target_kind, target_name, opkg, event, stage, result, \
         lease_token, started_ms) VALUES ($1, 'node', 'head', 'first', 'attempt', $2, 'running', $3, 11)",
    )
    .bind(first.id.0)
    .bind(i64::from(Stage::ShouldBeInstalled.id()))
    .bind(i64::try_from(lease.token).unwrap())
    .execute(&mut other)
    .await
    .unwrap();

    timeout(
        PROMPT,
        store.begin_attempt(second.id, Stage::ShouldBeInstalled, lease.token, 11),
    )
    .await
    .expect("an attempt waited on another row's write")
    .unwrap();
    let queued = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .begin_attempt(first.id, Stage::ShouldBeInstalled, lease.token, 12)
                .await
        }
    });
    let renewal = tokio::spawn({
        let store = store.clone();
        let head = head.clone();
        async move { store.renew_lease(&head, lease.token, 60_000, 13).await }
    });
    sleep(WATCHED).await;
    assert!(
        !queued.is_finished(),
        "a second write of one row did not wait"
    );
    assert!(!renewal.is_finished(), "a lease change did not wait");

    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
    timeout(PROMPT, queued)
        .await
        .expect("the queued attempt stayed stuck")
        .unwrap()
        .unwrap();
    timeout(PROMPT, renewal)
        .await
        .expect("the lease change stayed stuck")
        .unwrap()
        .unwrap();
    let attempts = store
        .history(&HistoryFilter {
            target: Some(head),
            opkg: Some(opkg("first")),
            limit: 10,
        })
        .await
        .unwrap();
    let mut results: Vec<_> = attempts.iter().map(|entry| entry.result).collect();
    results.sort_by_key(|result| result.map(AttemptResult::name));
    assert_eq!(
        results,
        [
            Some(AttemptResult::Interrupted),
            Some(AttemptResult::Running)
        ],
        "{attempts:?}"
    );
}
