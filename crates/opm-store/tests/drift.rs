//! `record_drift` (SPEC §1.9): a verify's finding makes a row `drifted`
//! with its message, or `ok` again, only while the row is as the verify
//! read it; a row that moved meanwhile (a stage began, ended, or an
//! operator requested something) keeps the newer truth.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{import, node, opkg};
use opm_model::{Stage, Status, StatusKind, Target};
use opm_store::{DriftMark, Outcome, RowAfter, RowId, Store, StoredRow};

/// Walks `target`'s slurm row through every stage to finished.
async fn finished_row(store: &impl Store, target: &Target) -> StoredRow {
    let row = store
        .request(target, &opkg("slurm"), Stage::Finished, 1)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(target, "h:1:1", 60_000, 2)
        .await
        .unwrap();
    let mut stage = Stage::ShouldBeInstalled;
    loop {
        let attempt = store
            .begin_attempt(row.id, stage, lease.token, 3)
            .await
            .unwrap();
        let outcome = Outcome {
            passed: true,
            exit_code: Some(0),
            output: String::new(),
            output_bytes: 0,
        };
        let after = RowAfter {
            current: Some(stage),
            error: None,
            version: None,
        };
        store
            .finish_attempt(attempt, &outcome, &after, lease.token, 4)
            .await
            .unwrap();
        match stage.next() {
            Some(next) => stage = next,
            None => break,
        }
    }
    store.release_lease(target, lease.token).await.unwrap();
    store.row_by_id(row.id).await.unwrap()
}

fn mark(id: RowId, was: StatusKind, drift: Option<&str>) -> DriftMark {
    DriftMark {
        id,
        requested: Stage::Finished,
        current: Stage::Finished,
        was,
        drift: drift.map(str::to_owned),
    }
}

on_both_backends!(findings_apply_only_to_rows_as_judged);

async fn findings_apply_only_to_rows_as_judged(store: &impl Store) {
    store.import_opkg(&import("slurm"), 0).await.unwrap();
    let head = node("head");
    let row = finished_row(store, &head).await;
    let message = "opkg-slurm-server is not installed (expected 1.0-1)";

    // ok -> drifted, with the message; pending like an error.
    let changed = store
        .record_drift(&[mark(row.id, StatusKind::Ok, Some(message))], 10)
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let read = store.row_by_id(row.id).await.unwrap();
    assert_eq!(
        read.row.status,
        Status::Drifted {
            message: message.to_owned()
        }
    );
    assert_eq!(read.row.current, Some(Stage::Finished));

    // The same finding again changes nothing; a finding judged on a row
    // that was ok (it is drifted now) does not apply either.
    let again = [
        mark(row.id, StatusKind::Drifted, Some(message)),
        mark(row.id, StatusKind::Ok, Some("another message")),
    ];
    assert_eq!(store.record_drift(&again, 11).await.unwrap(), 0);

    // Whole again: back to ok, the message gone.
    let whole = store
        .record_drift(&[mark(row.id, StatusKind::Drifted, None)], 12)
        .await
        .unwrap();
    assert_eq!(whole, 1);
    assert_eq!(
        store.row_by_id(row.id).await.unwrap().row.status,
        Status::Ok
    );

    // A row that moved since it was read keeps its newer state: an
    // uninstall was requested (requested differs), or a rerun set current
    // back (current differs).
    store
        .request(&head, &opkg("slurm"), Stage::ShouldNotBeInstalled, 13)
        .await
        .unwrap();
    let moved = store
        .record_drift(&[mark(row.id, StatusKind::Ok, Some(message))], 14)
        .await
        .unwrap();
    assert_eq!(moved, 0);
    store
        .request(&head, &opkg("slurm"), Stage::Finished, 15)
        .await
        .unwrap();
    store
        .rerun(&head, &opkg("slurm"), Stage::InstallBinPkgs, 16)
        .await
        .unwrap();
    let moved = store
        .record_drift(&[mark(row.id, StatusKind::Ok, Some(message))], 17)
        .await
        .unwrap();
    assert_eq!(moved, 0);
    assert_eq!(
        store.row_by_id(row.id).await.unwrap().row.status,
        Status::Ok
    );
}
