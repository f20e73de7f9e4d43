//! The audit trail: every operator action is kept with who asked and
//! when, cluster-level actions too; entries read back oldest first from a
//! point in time on; an action the schema does not know is refused. An
//! entry is written in the transaction of its action (a batch's
//! `Change::Audit`): a refused action leaves none, an accepted one exactly
//! one.

// Entries are fixed, valid test data; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{add_plain_node, image_name, node, node_name, opkg, snapshot};
use opm_model::{Phase, Stage};
use opm_store::{AuditAction, AuditEntry, Batch, Change, Image, Store};

fn entry(at_ms: i64, actor: &str, action: AuditAction, subject: &str) -> AuditEntry {
    AuditEntry {
        at_ms,
        actor: actor.to_owned(),
        action,
        subject: subject.to_owned(),
    }
}

/// Writes `entry` alone, as an action with nothing else to change would.
async fn record(store: &impl Store, entry: &AuditEntry) {
    let batch = Batch {
        changes: vec![Change::Audit(entry.clone())],
    };
    store.apply(&batch, entry.at_ms).await.unwrap();
}

/// `change`, audited as `action` by alice at `at_ms`.
fn audited(change: Change, action: AuditAction, at_ms: i64) -> Batch {
    Batch {
        changes: vec![change, Change::Audit(entry(at_ms, "alice", action, "x"))],
    }
}

on_both_backends!(operator_actions_are_kept_with_who_and_when);

async fn operator_actions_are_kept_with_who_and_when(store: &impl Store) {
    assert_eq!(store.audit_since(0).await.unwrap(), vec![]);

    // alice installs an opkg, the API's admin token moves the cluster to
    // the next phase and adds a node, then bob retries, all in one
    // millisecond for the last two: every action is kept, in order.
    let story = [
        entry(100, "alice", AuditAction::Install, "ganglia on n1"),
        entry(200, "admin", AuditAction::Phase, "post-install"),
        entry(300, "admin", AuditAction::NodeAdd, "n7"),
        entry(300, "bob", AuditAction::Retry, "ganglia on n1"),
    ];
    for e in &story {
        record(store, e).await;
    }
    assert_eq!(store.audit_since(0).await.unwrap(), story.to_vec());

    // From a point in time on: the entries at or after it.
    assert_eq!(store.audit_since(200).await.unwrap(), story[1..].to_vec());
    assert_eq!(store.audit_since(301).await.unwrap(), vec![]);

    // Every action round-trips through the schema's CHECK.
    for (i, action) in AuditAction::ALL.into_iter().enumerate() {
        let at = 1000 + i64::try_from(i).unwrap();
        record(store, &entry(at, "carol", action, "x")).await;
    }
    let all = store.audit_since(1000).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.action).collect::<Vec<_>>(),
        AuditAction::ALL.to_vec()
    );
}

on_both_backends!(a_refused_action_writes_no_entry_and_an_accepted_one_exactly_one);

async fn a_refused_action_writes_no_entry_and_an_accepted_one_exactly_one(store: &impl Store) {
    add_plain_node(store, "n1").await;
    store
        .add_image(&Image {
            name: image_name("img1"),
            root: "/var/lib/opm/images/img1".into(),
        })
        .await
        .unwrap();
    store
        .import_opkg(&common::import("base"), 10)
        .await
        .unwrap();
    store
        .request(&node("n1"), &opkg("base"), Stage::Finished, 20)
        .await
        .unwrap();

    // Each action the store refuses: the head node removed, a node or
    // image that does not exist, a row not in error retried, a stage the
    // row has not passed rerun. Nothing changes and no entry is written.
    let refused = [
        (
            Change::RemoveNode(node_name("head")),
            AuditAction::NodeRemove,
        ),
        (Change::RemoveNode(node_name("n9")), AuditAction::NodeRemove),
        (
            Change::RemoveImage(image_name("img9")),
            AuditAction::ImageRemove,
        ),
        (
            Change::Retry {
                target: node("n1"),
                opkg: opkg("base"),
                reason: "try again".to_owned(),
                whole_stage: false,
            },
            AuditAction::Retry,
        ),
        (
            Change::Rerun {
                target: node("n1"),
                opkg: opkg("base"),
                from: Stage::RunScriptPostInstall,
            },
            AuditAction::Rerun,
        ),
    ];
    let before = snapshot(store).await;
    for (change, action) in refused {
        let batch = audited(change.clone(), action, 100);
        assert!(
            store.apply(&batch, 100).await.is_err(),
            "{change:?} should be refused"
        );
    }
    assert_eq!(snapshot(store).await, before);
    assert_eq!(store.audit_since(0).await.unwrap(), vec![]);

    // Accepted actions: each one is written with exactly one entry.
    let accepted = [
        (Change::SetPhase(Phase::Complete), AuditAction::Phase),
        (
            Change::RemoveImage(image_name("img1")),
            AuditAction::ImageRemove,
        ),
        (Change::RemoveNode(node_name("n1")), AuditAction::NodeRemove),
    ];
    for (i, (change, action)) in accepted.into_iter().enumerate() {
        let at = 200 + i64::try_from(i).unwrap();
        store.apply(&audited(change, action, at), at).await.unwrap();
        let trail = store.audit_since(0).await.unwrap();
        assert_eq!(trail.len(), i + 1, "{trail:?}");
        assert_eq!(trail[i], entry(at, "alice", action, "x"));
    }
    assert_eq!(store.phase().await.unwrap(), Phase::Complete);
    assert!(store.images().await.unwrap().is_empty());
    assert_eq!(store.nodes().await.unwrap().len(), 1);
}
