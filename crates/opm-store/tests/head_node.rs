//! The head node's name alone, as an agent's poll reads it: the node `opm
//! init` registered, never a compute node.

#![allow(clippy::unwrap_used)]

mod common;

use common::node_name;
use opm_store::{NewNode, Store};

on_both_backends!(the_head_node_is_the_registered_one);

async fn the_head_node_is_the_registered_one(store: &impl Store) {
    store
        .add_node(&NewNode {
            name: node_name("a1"),
            groups: Vec::new(),
            image: None,
        })
        .await
        .unwrap();
    assert_eq!(store.head_node().await.unwrap(), Some(node_name("head")));
}
