//! The one query that tells the server which waiting agents to wake:
//! nodes whose rows need work or are running, never rows in error, the
//! converged ones or the head node's, each with its rows' newest change.

#![allow(clippy::unwrap_used)]

mod common;

use common::{import, node, node_name, opkg};
use opm_model::Stage;
use opm_store::{Outcome, PendingNode, RowAfter, Store};

on_both_backends!(only_nodes_an_agent_may_work_for_are_listed);

async fn only_nodes_an_agent_may_work_for_are_listed(store: &impl Store) {
    for name in ["n1", "n2", "n3", "n4"] {
        common::add_plain_node(store, name).await;
    }
    store.import_opkg(&import("pkg"), 1).await.unwrap();
    let p = opkg("pkg");
    assert_eq!(store.nodes_with_work().await.unwrap(), Vec::new());

    // n1 needs work; n2's row is where it was asked to be; the head's
    // rows are never an agent's.
    store
        .request(&node("n1"), &p, Stage::Finished, 5)
        .await
        .unwrap();
    store
        .request(&node("n2"), &p, Stage::ShouldNotBeInstalled, 5)
        .await
        .unwrap();
    store
        .request(&node("head"), &p, Stage::Finished, 5)
        .await
        .unwrap();
    // n3's stage failed: its row waits for an operator, not for an agent.
    let n3 = store
        .request(&node("n3"), &p, Stage::Finished, 5)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(&node("n3"), "agent:n3:a", 60_000, 6)
        .await
        .unwrap();
    let attempt = store
        .begin_attempt(n3.id, Stage::ShouldBeInstalled, lease.token, 6)
        .await
        .unwrap();
    let failed = Outcome {
        passed: false,
        exit_code: Some(1),
        output: String::new(),
        output_bytes: 0,
    };
    let after = RowAfter {
        current: n3.row.current,
        error: Some("broken".to_owned()),
        version: None,
    };
    store
        .finish_attempt(attempt, &failed, &after, lease.token, 7)
        .await
        .unwrap();
    // n4's stage is under way.
    let n4 = store
        .request(&node("n4"), &p, Stage::Finished, 5)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(&node("n4"), "agent:n4:a", 60_000, 8)
        .await
        .unwrap();
    store
        .begin_attempt(n4.id, Stage::ShouldBeInstalled, lease.token, 8)
        .await
        .unwrap();

    let pending = |name: &str, changed_ms| PendingNode {
        node: node_name(name),
        changed_ms,
    };
    assert_eq!(
        store.nodes_with_work().await.unwrap(),
        vec![pending("n1", 5), pending("n4", 8)]
    );
    // A change to n1's row is seen in its time.
    store
        .request(&node("n1"), &p, Stage::Finished, 9)
        .await
        .unwrap();
    assert_eq!(
        store.nodes_with_work().await.unwrap(),
        vec![pending("n1", 9), pending("n4", 8)]
    );
}
