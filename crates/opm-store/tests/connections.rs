//! The stores' own connections: a call abandoned midway (a client that
//! hung up, a timeout) leaves neither its half-done write nor the
//! database's write lock behind, on SQLite or PostgreSQL, and a closed
//! store refuses calls rather than waiting forever. SQLite statements run
//! on the caller's thread, so a SQLite call can only be abandoned while it
//! waits for another process's write lock: that wait must not hold the
//! thread, and must leave nothing behind.

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

/// Another process's connection (sqlx's, as another program's would be)
/// in a write transaction on the database at `path`.
async fn hold_the_write_lock(path: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    let url = format!("sqlite://{}", path.display());
    let mut holder = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

/// On a current-thread runtime, so the timeout fires only if the wait for
/// the lock gives the thread back.
#[tokio::test(flavor = "current_thread")]
async fn a_write_abandoned_while_another_process_holds_the_lock_leaves_nothing_on_sqlite() {
    let (_dir, path, store) = fresh().await;
    let mut holder = hold_the_write_lock(&path).await;
    let big = Population {
        nodes: 10,
        opkgs: 2,
        stage: Stage::ShouldBeInstalled,
        behind: false,
    };
    let abandoned = timeout(Duration::from_millis(200), store.populate(&big, 0)).await;
    assert!(abandoned.is_err(), "the write did not wait for the lock");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    sqlx::Connection::close(holder).await.unwrap();
    let other = SqliteStore::open(&path, OpenMode::Existing).await.unwrap();
    both_write_and_nothing_was_kept(&store, &other).await;
}

/// A writer of another process that keeps the lock past the busy timeout
/// makes the call fail as transient, in about that time, not hang.
#[tokio::test(flavor = "current_thread")]
async fn a_lock_held_past_the_busy_timeout_is_reported_busy_on_sqlite() {
    let (_dir, path, store) = fresh().await;
    let mut holder = hold_the_write_lock(&path).await;
    let started = std::time::Instant::now();
    let refused = timeout(Duration::from_secs(30), store.add_node(&node("late")))
        .await
        .expect("the write waited past its busy timeout");
    let error = refused.expect_err("the write went through a held lock");
    assert!(error.is_transient(), "not reported as transient: {error}");
    assert!(started.elapsed() >= Duration::from_secs(4), "gave up early");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    timeout(PROMPT, store.add_node(&node("late")))
        .await
        .expect("the store stayed stuck after the lock was freed")
        .unwrap();
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
