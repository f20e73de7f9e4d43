//! The versions story (SPEC §1.9, migration 0007): every imported version
//! is kept, the wanted one is the newest unless pinned, a row records the
//! version its current stage was reached with, and an upgrade sets a
//! finished row back before install-bin-pkgs with the version it goes to;
//! on both backends.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{add_plain_node, import, node, opkg};
use opm_model::{Stage, Status, Target};
use opm_store::{
    Event, HistoryFilter, Outcome, RowAfter, RowId, RowUpgrade, Store, StoreError, StoredRow,
};

/// Walks `row` from its current stage up to `to` (or down the uninstall
/// path when `to` is the bottom), each stage passing with `version`.
async fn walk(
    store: &impl Store,
    target: &Target,
    row: RowId,
    to: Stage,
    version: Option<&str>,
    now: i64,
) -> StoredRow {
    let lease = store
        .acquire_lease(target, "test", 60_000, now)
        .await
        .unwrap();
    let mut stored = store.row_by_id(row).await.unwrap();
    loop {
        let current = stored.row.effective_current();
        let stage = if to == Stage::ShouldNotBeInstalled {
            if stored.row.current == Some(Stage::ShouldNotBeInstalled) {
                break;
            }
            Stage::ShouldNotBeInstalled
        } else if current >= to {
            break;
        } else {
            current.next().unwrap()
        };
        let attempt = store
            .begin_attempt(row, stage, lease.token, now)
            .await
            .unwrap();
        stored = store
            .finish_attempt(
                attempt,
                &Outcome {
                    passed: true,
                    exit_code: None,
                    output: String::new(),
                    output_bytes: 0,
                },
                &RowAfter {
                    current: Some(stage),
                    error: None,
                    version: version.map(str::to_owned),
                },
                lease.token,
                now,
            )
            .await
            .unwrap();
    }
    store.release_lease(target, lease.token).await.unwrap();
    stored
}

fn versioned(name: &str, version: &str) -> opm_store::OpkgImport {
    let mut import = import(name);
    version.clone_into(&mut import.version);
    import
}

async fn versions_story(store: &impl Store) {
    let motd = opkg("motd");
    store
        .import_opkg(&versioned("motd", "1:3.1-2"), 10)
        .await
        .unwrap();
    let listed = &store.opkgs().await.unwrap()[0];
    assert_eq!(listed.versions, ["1:3.1-2"]);
    assert_eq!(listed.wanted_version, "1:3.1-2");
    assert_eq!(listed.pinned, None);

    // A new row works towards the wanted version and has reached none.
    add_plain_node(store, "n1").await;
    let n1 = node("n1");
    let fresh = store
        .request(&n1, &motd, Stage::Finished, 20)
        .await
        .unwrap();
    assert_eq!(fresh.row.version.work.as_deref(), Some("1:3.1-2"));
    assert_eq!(fresh.row.version.reached, None);
    assert_eq!(fresh.wanted_version.as_deref(), Some("1:3.1-2"));

    // Each passed stage records the version it worked with.
    let done = walk(store, &n1, fresh.id, Stage::Finished, Some("1:3.1-2"), 30).await;
    assert_eq!(done.row.version.reached.as_deref(), Some("1:3.1-2"));
    assert_eq!(done.row.version.upgrade_from, None);
    assert_eq!(done.row, store.row_by_id(fresh.id).await.unwrap().row);

    // A newer import is kept beside the old one and becomes the wanted
    // version; the finished row keeps its own until upgraded.
    store
        .import_opkg(&versioned("motd", "1:3.2-1"), 40)
        .await
        .unwrap();
    store
        .import_opkg(&versioned("motd", "1:3.10-1"), 41)
        .await
        .unwrap();
    let listed = &store.opkgs().await.unwrap()[0];
    assert_eq!(listed.versions, ["1:3.1-2", "1:3.2-1", "1:3.10-1"]);
    assert_eq!(listed.wanted_version, "1:3.10-1");
    let outdated = store.row(&n1, &motd).await.unwrap();
    assert_eq!(outdated.row.version.reached.as_deref(), Some("1:3.1-2"));
    assert_eq!(outdated.row.version.work.as_deref(), Some("1:3.1-2"));
    assert_eq!(outdated.wanted_version.as_deref(), Some("1:3.10-1"));

    // Pins: only an imported version; unpinning goes back to the newest.
    assert_eq!(
        store.pin_opkg(&motd, Some("1:3.2-1")).await.unwrap(),
        "1:3.2-1"
    );
    let refused = store.pin_opkg(&motd, Some("9.9-9")).await.unwrap_err();
    assert!(matches!(refused, StoreError::UnknownVersion { .. }));
    assert!(refused.is_bad_input());
    assert!(refused.to_string().contains("1:3.1-2, 1:3.2-1, 1:3.10-1"));
    let listed = &store.opkgs().await.unwrap()[0];
    assert_eq!(listed.pinned.as_deref(), Some("1:3.2-1"));
    assert_eq!(listed.wanted_version, "1:3.2-1");
    // Re-importing does not move a pin.
    store
        .import_opkg(&versioned("motd", "1:3.10-1"), 42)
        .await
        .unwrap();
    assert_eq!(store.opkgs().await.unwrap()[0].wanted_version, "1:3.2-1");

    // An upgrade sets the row back before install-bin-pkgs, says from
    // which version, and history records it.
    let started = store
        .start_upgrades(
            &[RowUpgrade {
                row: fresh.id,
                to: "1:3.2-1".to_owned(),
            }],
            50,
        )
        .await
        .unwrap();
    assert_eq!(started, [fresh.id]);
    let upgrading = store.row_by_id(fresh.id).await.unwrap();
    assert_eq!(upgrading.row.current, Some(Stage::RunConfigurator));
    assert_eq!(upgrading.row.status, Status::Ok);
    assert_eq!(
        upgrading.row.version.upgrade(),
        Some(("1:3.1-2", "1:3.2-1"))
    );
    assert!(upgrading.row.is_pending());
    let page = store.all_rows(None, 100).await.unwrap();
    assert_eq!(page.rows, std::slice::from_ref(&upgrading));
    let history = store
        .history(&HistoryFilter {
            target: Some(n1.clone()),
            opkg: None,
            limit: 100,
        })
        .await
        .unwrap();
    let newest = history.iter().max_by_key(|entry| entry.id.0).unwrap();
    assert_eq!(newest.event, Event::Rerun);
    assert_eq!(newest.stage, Some(Stage::InstallBinPkgs));
    assert_eq!(newest.note, "upgrade from 1:3.1-2 to 1:3.2-1");

    // A row that is not at rest is left alone.
    assert_eq!(
        store
            .start_upgrades(
                &[RowUpgrade {
                    row: fresh.id,
                    to: "1:3.10-1".to_owned(),
                }],
                51,
            )
            .await
            .unwrap(),
        Vec::<RowId>::new()
    );

    // Half way: the new version is recorded stage by stage and the upgrade
    // still says where it came from; at the request it is over.
    let half = walk(store, &n1, fresh.id, Stage::InstallBinPkgs, None, 60).await;
    assert_eq!(half.row.version.reached.as_deref(), Some("1:3.2-1"));
    assert_eq!(half.row.version.upgrade(), Some(("1:3.1-2", "1:3.2-1")));
    let done = walk(store, &n1, fresh.id, Stage::Finished, None, 70).await;
    assert_eq!(done.row.version.reached.as_deref(), Some("1:3.2-1"));
    assert_eq!(done.row.version.upgrade(), None);
    assert!(!done.row.is_pending());

    // Uninstalled, a row has no version and would install the wanted one.
    store
        .request(&n1, &motd, Stage::ShouldNotBeInstalled, 80)
        .await
        .unwrap();
    let gone = walk(store, &n1, fresh.id, Stage::ShouldNotBeInstalled, None, 90).await;
    assert_eq!(gone.row.version.reached, None);
    assert_eq!(gone.row.version.work.as_deref(), Some("1:3.2-1"));
    store.pin_opkg(&motd, None).await.unwrap();
    let again = store.row_by_id(fresh.id).await.unwrap();
    assert_eq!(again.row.version.work.as_deref(), Some("1:3.10-1"));
}

on_both_backends!(versions_story);
