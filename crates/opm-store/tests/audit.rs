//! The audit trail: every operator action is kept with who asked and
//! when, cluster-level actions too; entries read back oldest first from a
//! point in time on; an action the schema does not know is refused.

// Entries are fixed, valid test data; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use opm_store::{AuditAction, AuditEntry, Store};

fn entry(at_ms: i64, actor: &str, action: AuditAction, subject: &str) -> AuditEntry {
    AuditEntry {
        at_ms,
        actor: actor.to_owned(),
        action,
        subject: subject.to_owned(),
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
        store.record_audit(e).await.unwrap();
    }
    assert_eq!(store.audit_since(0).await.unwrap(), story.to_vec());

    // From a point in time on: the entries at or after it.
    assert_eq!(store.audit_since(200).await.unwrap(), story[1..].to_vec());
    assert_eq!(store.audit_since(301).await.unwrap(), vec![]);

    // Every action round-trips through the schema's CHECK.
    for (i, action) in AuditAction::ALL.into_iter().enumerate() {
        let at = 1000 + i64::try_from(i).unwrap();
        store
            .record_audit(&entry(at, "carol", action, "x"))
            .await
            .unwrap();
    }
    let all = store.audit_since(1000).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.action).collect::<Vec<_>>(),
        AuditAction::ALL.to_vec()
    );
}
