//! The stores' own connections: a call abandoned midway (a client that
//! hung up, a timeout) leaves neither its half-done write nor the
//! database's write lock behind, on SQLite or PostgreSQL, and a closed
//! store refuses calls rather than waiting forever.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{fresh, fresh_postgres, node_name};
use opm_model::Stage;
use opm_store::{NewNode, OpenMode, Population, PostgresStore, SqliteStore, Store};
use tokio::time::timeout;

/// Long enough for a write that is not stuck behind a lock; SQLite's own
/// busy timeout (5 s) is longer, so a lock left behind shows as a failure.
const PROMPT: Duration = Duration::from_secs(2);

fn node(name: &str) -> NewNode {
    NewNode {
        name: node_name(name),
        groups: Vec::new(),
        image: None,
    }
}

/// Tens of thousands of rows take far longer than a millisecond, so the
/// write is dropped while its transaction is open.
async fn abandon_a_big_write(store: &impl Store) {
    let big = Population {
        nodes: 50_000,
        opkgs: 2,
        stage: Stage::ShouldBeInstalled,
        behind: false,
    };
    let abandoned = timeout(Duration::from_millis(1), store.populate(&big, 0)).await;
    assert!(
        abandoned.is_err(),
        "the write finished before it was dropped"
    );
}

/// The same store writes again at once, and so does another one on the
/// database (another process): the transaction was rolled back, not left
/// holding the lock; and nothing of it was kept.
async fn both_write_and_nothing_was_kept(store: &impl Store, other: &impl Store) {
    timeout(PROMPT, store.add_node(&node("after")))
        .await
        .expect("the store's next write waited on the abandoned one")
        .unwrap();
    timeout(PROMPT, other.add_node(&node("elsewhere")))
        .await
        .expect("another store waited on the abandoned write's lock")
        .unwrap();
    let mut names: Vec<String> = store
        .nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|node| node.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["after", "elsewhere", "head"]);
    assert!(store.opkgs().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_abandoned_write_rolls_back_and_frees_the_write_lock_on_sqlite() {
    let (_dir, path, store) = fresh().await;
    abandon_a_big_write(&store).await;
    let other = SqliteStore::open(&path, OpenMode::Existing).await.unwrap();
    both_write_and_nothing_was_kept(&store, &other).await;
}

#[tokio::test]
async fn an_abandoned_write_rolls_back_and_frees_the_write_lock_on_postgres() {
    let Some((url, store)) = fresh_postgres().await else {
        return;
    };
    abandon_a_big_write(&store).await;
    let other = PostgresStore::open(&url, OpenMode::Existing).await.unwrap();
    both_write_and_nothing_was_kept(&store, &other).await;
}

#[tokio::test]
async fn a_closed_store_refuses_calls_and_lets_the_file_go() {
    let (dir, path, store) = fresh().await;
    store.add_node(&node("n1")).await.unwrap();
    store.close().await;
    let read = timeout(PROMPT, store.nodes()).await.expect("a read hung");
    assert!(read.is_err(), "a closed store still read: {read:?}");
    let write = timeout(PROMPT, store.add_node(&node("n2")))
        .await
        .expect("a write hung");
    assert!(write.is_err(), "a closed store still wrote: {write:?}");
    // Closing checkpointed the WAL: the main file alone holds everything.
    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    let reopened = SqliteStore::open(&copy, OpenMode::Existing).await.unwrap();
    assert_eq!(reopened.nodes().await.unwrap().len(), 2);
}

/// A write the store refuses (here a lease another owner holds) ends its
/// transaction before the call returns: its locks do not wait on an idle
/// connection for whichever call uses it next.
async fn a_refused_write_keeps_no_lock(store: &impl Store, other: &impl Store) {
    let target = opm_model::Target::node(node_name("head"));
    store
        .acquire_lease(&target, "first", 60_000, 0)
        .await
        .unwrap();
    let refused = store.acquire_lease(&target, "second", 60_000, 0).await;
    assert!(
        matches!(refused, Err(opm_store::StoreError::LeaseHeld { .. })),
        "{refused:?}"
    );
    timeout(PROMPT, other.add_node(&node("elsewhere")))
        .await
        .expect("another store waited on the refused write's lock")
        .unwrap();
}

#[tokio::test]
async fn a_refused_write_keeps_no_lock_on_sqlite() {
    let (_dir, path, store) = fresh().await;
    let other = SqliteStore::open(&path, OpenMode::Existing).await.unwrap();
    a_refused_write_keeps_no_lock(&store, &other).await;
}

#[tokio::test]
async fn a_refused_write_keeps_no_lock_on_postgres() {
    let Some((url, store)) = fresh_postgres().await else {
        return;
    };
    let other = PostgresStore::open(&url, OpenMode::Existing).await.unwrap();
    a_refused_write_keeps_no_lock(&store, &other).await;
}
