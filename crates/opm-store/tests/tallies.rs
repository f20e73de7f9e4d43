//! The loader's bulk reads: attempt tallies (per pending row and stage, the
//! count and the newest attempt's result, operator events left out) and
//! the whole-cluster row walk, whose pages read `ok` rows as bare numbers
//! and the rest in full; both must say what the per-row reads say.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{image_name, import, node, opkg};
use opm_model::{Stage, Status};
use opm_store::{AttemptResult, Image, Outcome, RowAfter, RowId, Scope, Store, StoredRow};

on_both_backends!(tallies_count_attempts_and_keep_the_newest_result);
on_both_backends!(the_row_walk_reads_every_status_as_the_row_read_does);

fn outcome(passed: bool) -> Outcome {
    Outcome {
        passed,
        exit_code: Some(if passed { 0 } else { 1 }),
        output: String::new(),
        output_bytes: 0,
    }
}

/// Begins `stage` on `row` at `at` and fails it at `at + 1` with `message`
/// (the row stays at should_not_be_installed, in error).
async fn fail_stage(
    store: &impl Store,
    row: RowId,
    stage: Stage,
    token: u64,
    at: i64,
    message: &str,
) {
    let attempt = store.begin_attempt(row, stage, token, at).await.unwrap();
    let after = RowAfter {
        current: Some(Stage::ShouldNotBeInstalled),
        error: Some(message.to_owned()),
        version: None,
    };
    store
        .finish_attempt(attempt, &outcome(false), &after, token, at + 1)
        .await
        .unwrap();
}

async fn tallies_count_attempts_and_keep_the_newest_result(store: &impl Store) {
    store.import_opkg(&import("slurm"), 0).await.unwrap();
    store.import_opkg(&import("c3"), 0).await.unwrap();
    let head = node("head");
    let slurm = store
        .request(&head, &opkg("slurm"), Stage::Finished, 0)
        .await
        .unwrap();
    let c3 = store
        .request(&head, &opkg("c3"), Stage::ShouldBeInstalled, 0)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(&head, "h:1:1", 60_000, 0)
        .await
        .unwrap();
    // slurm: should_be_installed fails, is retried (an operator event),
    // passes; run-configurator is under way.
    fail_stage(
        store,
        slurm.id,
        Stage::ShouldBeInstalled,
        lease.token,
        1,
        "boom",
    )
    .await;
    store
        .retry(&head, &opkg("slurm"), "fixed", 3)
        .await
        .unwrap();
    let passed = store
        .begin_attempt(slurm.id, Stage::ShouldBeInstalled, lease.token, 4)
        .await
        .unwrap();
    let after_pass = RowAfter {
        current: Some(Stage::ShouldBeInstalled),
        error: None,
        version: None,
    };
    store
        .finish_attempt(passed, &outcome(true), &after_pass, lease.token, 5)
        .await
        .unwrap();
    let running = store
        .begin_attempt(slurm.id, Stage::RunConfigurator, lease.token, 6)
        .await
        .unwrap();
    // c3 reaches what it was asked for: no longer pending, so not tallied.
    let done = store
        .begin_attempt(c3.id, Stage::ShouldBeInstalled, lease.token, 7)
        .await
        .unwrap();
    store
        .finish_attempt(done, &outcome(true), &after_pass, lease.token, 8)
        .await
        .unwrap();

    let tallies = store.attempt_tallies(&Scope::All).await.unwrap();
    let seen: Vec<_> = tallies
        .iter()
        .map(|t| (t.row, t.stage, t.attempts, t.newest, t.result))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                slurm.id,
                Stage::ShouldBeInstalled,
                2,
                passed,
                Some(AttemptResult::Passed)
            ),
            (
                slurm.id,
                Stage::RunConfigurator,
                1,
                running,
                Some(AttemptResult::Running)
            ),
        ]
    );
    let on_head = store
        .attempt_tallies(&Scope::Target(head.clone()))
        .await
        .unwrap();
    assert_eq!(on_head, tallies);
    common::add_plain_node(store, "n1").await;
    assert!(
        store
            .attempt_tallies(&Scope::Target(node("n1")))
            .await
            .unwrap()
            .is_empty()
    );
    // A target that does not exist has no pending rows, so no tallies.
    for ghost in [node("ghost"), common::image("ghost")] {
        assert!(
            store
                .attempt_tallies(&Scope::Target(ghost))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

async fn the_row_walk_reads_every_status_as_the_row_read_does(store: &impl Store) {
    for name in ["alpha", "beta", "gamma", "delta"] {
        store.import_opkg(&import(name), 0).await.unwrap();
    }
    store
        .add_image(&Image {
            name: image_name("img"),
            root: "/srv/img".into(),
        })
        .await
        .unwrap();
    common::add_plain_node(store, "n1").await;
    let targets = [node("head"), node("n1"), common::image("img")];
    for target in &targets {
        for name in ["alpha", "beta", "gamma"] {
            store
                .request(target, &opkg(name), Stage::Finished, 0)
                .await
                .unwrap();
        }
    }
    // One row at its requested stage already (not pending), one running
    // under a lease, one in error, the rest ok and behind.
    store
        .request(&targets[0], &opkg("delta"), Stage::ShouldNotBeInstalled, 0)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(&targets[1], "h:1:1", 60_000, 0)
        .await
        .unwrap();
    let n1_a = store.row(&targets[1], &opkg("alpha")).await.unwrap();
    store
        .begin_attempt(n1_a.id, Stage::ShouldBeInstalled, lease.token, 1)
        .await
        .unwrap();
    let n1_b = store.row(&targets[1], &opkg("beta")).await.unwrap();
    fail_stage(
        store,
        n1_b.id,
        Stage::ShouldBeInstalled,
        lease.token,
        2,
        "it broke",
    )
    .await;

    let mut walked: Vec<StoredRow> = Vec::new();
    let mut after_id: Option<RowId> = None;
    let mut pages = 0;
    loop {
        let page = store.all_rows(after_id, 2).await.unwrap();
        assert!(page.rows.len() <= 2);
        pages += 1;
        walked.extend(page.rows);
        match page.next {
            Some(next) => after_id = Some(next),
            None => break,
        }
    }
    assert!(pages >= 5, "{pages} pages");
    let mut expected = Vec::new();
    for target in &targets {
        for name in ["alpha", "beta", "gamma"] {
            expected.push(store.row(target, &opkg(name)).await.unwrap());
        }
    }
    expected.push(store.row(&targets[0], &opkg("delta")).await.unwrap());
    expected.sort_by_key(|stored| stored.id);
    assert_eq!(walked, expected);
    // The loader's in-memory test agrees with the pending index.
    let pending = store.pending_rows(&Scope::All, None, 100).await.unwrap();
    let pending_ids: Vec<RowId> = pending.rows.iter().map(|s| s.id).collect();
    let walked_pending: Vec<RowId> = walked
        .iter()
        .filter(|s| s.row.is_pending())
        .map(|s| s.id)
        .collect();
    assert_eq!(walked_pending, pending_ids);
    assert_eq!(walked_pending.len(), walked.len() - 1);
    let statuses: Vec<&str> = walked.iter().map(|s| s.row.status.kind().name()).collect();
    assert!(statuses.contains(&"running") && statuses.contains(&"error"));
    assert!(walked.iter().any(
        |s| matches!(&s.row.status, Status::Error { message } if message.contains("it broke"))
    ));
}
