//! A node's agent's last contact (migration 0008): recorded per node,
//! overwritten by the next, read back with the nodes, refused for a node
//! that does not exist; on SQLite and PostgreSQL.

// Test code: fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{add_plain_node, node_name};
use opm_store::{AgentContact, Store, StoreError};

async fn contacts_are_kept_per_node(store: &impl Store) {
    add_plain_node(store, "n1").await;
    add_plain_node(store, "n2").await;
    let nodes = store.nodes().await.unwrap();
    assert!(nodes.iter().all(|node| node.agent.is_none()), "{nodes:?}");
    let contact = |seen_ms, version: &str| AgentContact {
        seen_ms,
        version: version.to_owned(),
        address: "10.0.0.7".to_owned(),
    };
    store
        .record_agent_contact(&node_name("n1"), &contact(1_000, "opm/0.1.0"))
        .await
        .unwrap();
    store
        .record_agent_contact(&node_name("n1"), &contact(2_000, "opm/0.2.0"))
        .await
        .unwrap();
    let nodes = store.nodes().await.unwrap();
    let n1 = nodes.iter().find(|n| n.name == node_name("n1")).unwrap();
    assert_eq!(n1.agent, Some(contact(2_000, "opm/0.2.0")));
    let n2 = nodes.iter().find(|n| n.name == node_name("n2")).unwrap();
    assert_eq!(n2.agent, None);
    let error = store
        .record_agent_contact(&node_name("ghost"), &contact(3_000, ""))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownNode { .. }), "{error:?}");
}

on_both_backends!(contacts_are_kept_per_node);
