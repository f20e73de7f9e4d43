//! API tokens: a new token replaces the subject's old one, a removed node's
//! token goes with it, and an unknown hash speaks for nobody.

// Helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::node_name;
use opm_store::{NewNode, Store, StoreError, TokenSubject};

on_both_backends!(a_new_token_replaces_the_old_and_goes_with_its_node);

async fn a_new_token_replaces_the_old_and_goes_with_its_node(store: &impl Store) {
    let n1 = node_name("n1");
    store
        .add_node(&NewNode {
            name: n1.clone(),
            groups: Vec::new(),
            image: None,
        })
        .await
        .unwrap();
    let node = TokenSubject::Node(n1.clone());
    store.set_token(&node, "hash-a", 1).await.unwrap();
    store
        .set_token(&TokenSubject::Admin, "hash-admin", 1)
        .await
        .unwrap();
    assert_eq!(
        store.token_subject("hash-a").await.unwrap(),
        Some(node.clone())
    );
    assert_eq!(
        store.token_subject("hash-admin").await.unwrap(),
        Some(TokenSubject::Admin)
    );

    store.set_token(&node, "hash-b", 2).await.unwrap();
    assert_eq!(store.token_subject("hash-a").await.unwrap(), None);
    assert_eq!(store.token_subject("hash-b").await.unwrap(), Some(node));
    store
        .set_token(&TokenSubject::Admin, "hash-admin-2", 2)
        .await
        .unwrap();
    assert_eq!(store.token_subject("hash-admin").await.unwrap(), None);

    let error = store
        .set_token(&TokenSubject::Node(node_name("ghost")), "hash-c", 3)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownNode { .. }), "{error:?}");

    store.remove_node(&n1).await.unwrap();
    assert_eq!(store.token_subject("hash-b").await.unwrap(), None);
    assert_eq!(
        store.token_subject("hash-admin-2").await.unwrap(),
        Some(TokenSubject::Admin)
    );
}

on_both_backends!(many_tokens_are_set_at_once_each_replacing_the_old);

async fn many_tokens_are_set_at_once_each_replacing_the_old(store: &impl Store) {
    for name in ["n1", "n2"] {
        common::add_plain_node(store, name).await;
    }
    let n1 = TokenSubject::Node(node_name("n1"));
    let n2 = TokenSubject::Node(node_name("n2"));
    store.set_token(&n1, "old-1", 1).await.unwrap();
    store
        .set_tokens(
            &[
                (n1.clone(), "new-1".to_owned()),
                (n2.clone(), "new-2".to_owned()),
            ],
            2,
        )
        .await
        .unwrap();
    assert_eq!(store.token_subject("old-1").await.unwrap(), None);
    assert_eq!(
        store.token_subject("new-1").await.unwrap(),
        Some(n1.clone())
    );
    assert_eq!(store.token_subject("new-2").await.unwrap(), Some(n2));

    // All or nothing: an unknown node leaves every token as it was.
    let error = store
        .set_tokens(
            &[
                (n1.clone(), "newer-1".to_owned()),
                (TokenSubject::Node(node_name("ghost")), "x".to_owned()),
            ],
            3,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownNode { .. }), "{error:?}");
    assert_eq!(store.token_subject("new-1").await.unwrap(), Some(n1));
    assert_eq!(store.token_subject("newer-1").await.unwrap(), None);
}
