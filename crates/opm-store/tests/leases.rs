//! Fencing tokens: a lease held by another owner is refused, every grant
//! gets a larger token, a stale token cannot write, and a stage interrupted
//! by a crash (lease expired) is recorded as interrupted when it runs again.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{add_plain_node, fresh, fresh_postgres, import, node, opkg};
use opm_model::{Stage, Status, Target};
use opm_store::{AttemptResult, HistoryFilter, Outcome, RowAfter, Scope, Store, StoreError};

fn passed() -> Outcome {
    Outcome {
        passed: true,
        exit_code: Some(0),
        output: String::new(),
        output_bytes: 0,
    }
}

fn done(stage: Stage) -> RowAfter {
    RowAfter {
        current: Some(stage),
        error: None,
        version: None,
    }
}

on_both_backends!(unfinished_work_keeps_a_row_pending);

/// Issue 16: a row whose newest attempt left work undone must stay among
/// the pending rows, or the engine never sees it: a failed first install
/// leaves `current` unknown, and an uninstall that failed and was then
/// requested back up and retried does not look converged.
async fn unfinished_work_keeps_a_row_pending(store: &impl Store) {
    let head = node("head");
    store.import_opkg(&import("base"), 1).await.unwrap();
    let row = store
        .request(&head, &opkg("base"), Stage::Finished, 2)
        .await
        .unwrap();
    let failed = |stage: Option<Stage>| {
        (
            Outcome {
                passed: false,
                exit_code: Some(1),
                output: String::new(),
                output_bytes: 0,
            },
            RowAfter {
                current: stage,
                error: Some("a script failed".to_owned()),
                version: None,
            },
        )
    };
    let pending = || async {
        store
            .pending_rows(&Scope::Target(head.clone()), None, 10)
            .await
            .unwrap()
            .rows
    };
    let lease = store.acquire_lease(&head, "a", 100_000, 10).await.unwrap();
    // A failed first install: what it left in place is unknown.
    let first = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, lease.token, 20)
        .await
        .unwrap();
    let (outcome, after) = failed(Some(Stage::ShouldNotBeInstalled));
    let ended = store
        .finish_attempt(first, &outcome, &after, lease.token, 30)
        .await
        .unwrap();
    assert_eq!(ended.row.current, None);
    store
        .request(&head, &opkg("base"), Stage::ShouldNotBeInstalled, 40)
        .await
        .unwrap();
    store
        .retry(&head, &opkg("base"), "fixed", 50)
        .await
        .unwrap();
    assert_eq!(
        pending().await.len(),
        1,
        "removed and retried, still pending"
    );
    // The uninstall the planner decides is admitted, and passes.
    let uninstall = store
        .begin_attempt(row.id, Stage::ShouldNotBeInstalled, lease.token, 60)
        .await
        .unwrap();
    store
        .finish_attempt(
            uninstall,
            &passed(),
            &done(Stage::ShouldNotBeInstalled),
            lease.token,
            70,
        )
        .await
        .unwrap();
    assert!(pending().await.is_empty());

    // Up one stage, then an uninstall that fails half way.
    store
        .request(&head, &opkg("base"), Stage::ShouldBeInstalled, 80)
        .await
        .unwrap();
    let up = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, lease.token, 90)
        .await
        .unwrap();
    store
        .finish_attempt(
            up,
            &passed(),
            &done(Stage::ShouldBeInstalled),
            lease.token,
            100,
        )
        .await
        .unwrap();
    store
        .request(&head, &opkg("base"), Stage::ShouldNotBeInstalled, 110)
        .await
        .unwrap();
    let down = store
        .begin_attempt(row.id, Stage::ShouldNotBeInstalled, lease.token, 120)
        .await
        .unwrap();
    let (outcome, after) = failed(Some(Stage::ShouldBeInstalled));
    let ended = store
        .finish_attempt(down, &outcome, &after, lease.token, 130)
        .await
        .unwrap();
    assert_eq!(ended.row.current, Some(Stage::ShouldBeInstalled));
    // Requested back up to where current says it is, then retried.
    store
        .request(&head, &opkg("base"), Stage::ShouldBeInstalled, 140)
        .await
        .unwrap();
    let retried = store
        .retry(&head, &opkg("base"), "fixed", 150)
        .await
        .unwrap();
    assert_eq!(retried.row.current, None, "{retried:?}");
    assert_eq!(
        pending().await.len(),
        1,
        "a cut-short uninstall stays pending"
    );
    // The uninstall is finished first; then the row climbs again.
    let finish = store
        .begin_attempt(row.id, Stage::ShouldNotBeInstalled, lease.token, 160)
        .await
        .unwrap();
    let row_after = store
        .finish_attempt(
            finish,
            &passed(),
            &done(Stage::ShouldNotBeInstalled),
            lease.token,
            170,
        )
        .await
        .unwrap();
    assert_eq!(row_after.row.current, Some(Stage::ShouldNotBeInstalled));
    assert_eq!(pending().await.len(), 1, "requested up again");
}

on_both_backends!(a_superseded_attempt_is_called_superseded_not_stale);

/// Issue 16: finishing an attempt that a later one superseded, under the
/// lease that is still current, said "lease token N is stale".
async fn a_superseded_attempt_is_called_superseded_not_stale(store: &impl Store) {
    let head = node("head");
    store.import_opkg(&import("base"), 1).await.unwrap();
    let row = store
        .request(&head, &opkg("base"), Stage::Finished, 2)
        .await
        .unwrap();
    let lease = store.acquire_lease(&head, "a", 1000, 10).await.unwrap();
    let first = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, lease.token, 20)
        .await
        .unwrap();
    // The same stage begun again under the same lease supersedes it.
    let second = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, lease.token, 30)
        .await
        .unwrap();
    let refused = store
        .finish_attempt(
            first,
            &passed(),
            &done(Stage::ShouldBeInstalled),
            lease.token,
            40,
        )
        .await
        .unwrap_err();
    let message = refused.to_string();
    assert!(
        matches!(refused, StoreError::AttemptSuperseded { .. }),
        "{refused:?}"
    );
    assert!(
        message.contains("node head / base")
            && message.contains(&format!("attempt {}", first.0))
            && message.contains("superseded by a later attempt")
            && !message.contains("stale"),
        "{message}"
    );
    assert!(!refused.is_bad_input());
    // The attempt that superseded it finishes as usual.
    let finished = store
        .finish_attempt(
            second,
            &passed(),
            &done(Stage::ShouldBeInstalled),
            lease.token,
            50,
        )
        .await
        .unwrap();
    assert_eq!(finished.row.current, Some(Stage::ShouldBeInstalled));
    // Finishing it twice: it has ended.
    let again = store
        .finish_attempt(
            second,
            &passed(),
            &done(Stage::ShouldBeInstalled),
            lease.token,
            60,
        )
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("has already ended (passed)"),
        "{again}"
    );
}

on_both_backends!(stale_tokens_are_refused_and_crashes_are_recorded);

async fn stale_tokens_are_refused_and_crashes_are_recorded(store: &impl Store) {
    let head = node("head");
    store.import_opkg(&import("base"), 1).await.unwrap();
    let row = store
        .request(&head, &opkg("base"), Stage::Finished, 2)
        .await
        .unwrap();

    let a = store.acquire_lease(&head, "a", 1000, 10).await.unwrap();
    let held = store
        .acquire_lease(&head, "b", 1000, 500)
        .await
        .unwrap_err();
    assert!(
        matches!(held, StoreError::LeaseHeld { ref owner, expires_at_ms: 1010, .. } if owner == "a"),
        "{held:?}"
    );

    // A begins a stage and "crashes"; the lease runs out.
    let crashed = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, a.token, 20)
        .await
        .unwrap();
    let late = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, a.token, 1010)
        .await
        .unwrap_err();
    assert!(
        matches!(late, StoreError::StaleToken { .. }),
        "an expired lease cannot start work: {late:?}"
    );

    // B takes over with a larger token; A's token is now stale everywhere.
    let b = store.acquire_lease(&head, "b", 1000, 2000).await.unwrap();
    assert!(b.token > a.token);
    let retried = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, b.token, 2001)
        .await
        .unwrap();
    let stale = store
        .finish_attempt(
            crashed,
            &passed(),
            &done(Stage::ShouldBeInstalled),
            a.token,
            2002,
        )
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::StaleToken { .. }), "{stale:?}");
    let stale = store
        .renew_lease(&head, a.token, 1000, 2002)
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::StaleToken { .. }), "{stale:?}");
    let stale = store.release_lease(&head, a.token).await.unwrap_err();
    assert!(matches!(stale, StoreError::StaleToken { .. }), "{stale:?}");
    // Even B cannot finish A's interrupted attempt: it was superseded.
    let superseded = store
        .finish_attempt(
            crashed,
            &passed(),
            &done(Stage::ShouldBeInstalled),
            b.token,
            2002,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(superseded, StoreError::AttemptSuperseded { .. }),
        "{superseded:?}"
    );
    let running = store.row(&head, &opkg("base")).await.unwrap();
    assert!(
        matches!(running.row.status, Status::Running { ref lease } if lease.token == b.token),
        "{running:?}"
    );

    // Renewal moves the running row's expiry along.
    let renewed = store.renew_lease(&head, b.token, 5000, 3000).await.unwrap();
    assert_eq!(renewed.expires_at_ms, 8000);
    let running = store.row(&head, &opkg("base")).await.unwrap();
    assert!(
        matches!(running.row.status, Status::Running { ref lease } if lease.expires_at_ms == 8000),
        "{running:?}"
    );

    store
        .finish_attempt(
            retried,
            &passed(),
            &done(Stage::ShouldBeInstalled),
            b.token,
            3001,
        )
        .await
        .unwrap();
    store.release_lease(&head, b.token).await.unwrap();
    let c = store.acquire_lease(&head, "a", 1000, 4000).await.unwrap();
    assert!(c.token > b.token, "tokens never come back");

    let history = store
        .history(&HistoryFilter {
            target: Some(head.clone()),
            opkg: None,
            limit: 10,
        })
        .await
        .unwrap();
    let results: Vec<_> = history.iter().map(|h| (h.result, h.ended_ms)).collect();
    assert_eq!(
        results,
        [
            (Some(AttemptResult::Interrupted), Some(2001)),
            (Some(AttemptResult::Passed), Some(3001)),
        ]
    );
}

#[tokio::test]
async fn two_stores_on_one_file_race_for_a_lease_and_one_wins() {
    let (_dir, path, first) = fresh().await;
    let second = opm_store::SqliteStore::open(&path, opm_store::OpenMode::Existing)
        .await
        .unwrap();
    race_for_leases(&first, &second).await;
}

/// PostgreSQL's writers of different targets do not wait for each other
/// (locks.rs); two of one target still do, so one wins each round.
#[tokio::test]
async fn two_stores_on_one_postgres_database_race_for_a_lease_and_one_wins() {
    let Some((url, first)) = fresh_postgres().await else {
        return;
    };
    let second = opm_store::PostgresStore::open(&url, opm_store::OpenMode::Existing)
        .await
        .unwrap();
    race_for_leases(&first, &second).await;
}

/// Twenty rounds of two stores asking for the head node's lease at once,
/// while they also lease twenty nodes each: one wins the head each round,
/// and no token is handed out twice.
async fn race_for_leases(first: &impl Store, second: &impl Store) {
    let head = node("head");
    let nodes: Vec<Target> = (0..40).map(|i| node(&format!("n{i}"))).collect();
    for target in &nodes {
        add_plain_node(first, target.name.as_ref()).await;
    }
    let mut tokens = std::collections::BTreeSet::new();
    for round in 0..20_i64 {
        let now = round * 10_000;
        let (a, b) = tokio::join!(
            first.acquire_lease(&head, "a", 1000, now),
            second.acquire_lease(&head, "b", 1000, now)
        );
        let won = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {a:?} {b:?}");
        let lost = if a.is_ok() { b } else { a };
        assert!(
            matches!(lost, Err(StoreError::LeaseHeld { .. })),
            "round {round}: {lost:?}"
        );
        let (x, y) = tokio::join!(
            first.acquire_lease(&nodes[round as usize], "x", 1000, now),
            second.acquire_lease(&nodes[20 + round as usize], "y", 1000, now)
        );
        for token in [x.unwrap().token, y.unwrap().token] {
            assert!(tokens.insert(token), "round {round}: token {token} twice");
        }
    }
}

on_both_backends!(a_stage_done_meanwhile_is_not_begun_again);

/// A second worker that decided on an old snapshot and got the lease after
/// the first one finished the stage: its begin is refused, nothing recorded.
async fn a_stage_done_meanwhile_is_not_begun_again(store: &impl Store) {
    let head = node("head");
    store.import_opkg(&import("base"), 1).await.unwrap();
    let row = store
        .request(&head, &opkg("base"), Stage::ShouldBeInstalled, 2)
        .await
        .unwrap();
    let first = store.acquire_lease(&head, "first", 1000, 10).await.unwrap();
    let attempt = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, first.token, 11)
        .await
        .unwrap();
    store
        .finish_attempt(
            attempt,
            &passed(),
            &done(Stage::ShouldBeInstalled),
            first.token,
            12,
        )
        .await
        .unwrap();
    store.release_lease(&head, first.token).await.unwrap();

    let second = store
        .acquire_lease(&head, "second", 1000, 13)
        .await
        .unwrap();
    let moved = store
        .begin_attempt(row.id, Stage::ShouldBeInstalled, second.token, 14)
        .await
        .unwrap_err();
    assert!(matches!(moved, StoreError::RowMoved { .. }), "{moved:?}");
    // Skipping ahead is refused the same way.
    let ahead = store
        .begin_attempt(row.id, Stage::InstallBinPkgs, second.token, 15)
        .await
        .unwrap_err();
    assert!(matches!(ahead, StoreError::RowMoved { .. }), "{ahead:?}");
    let attempts = store
        .history(&HistoryFilter {
            target: Some(head),
            opkg: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1, "{attempts:?}");
}
