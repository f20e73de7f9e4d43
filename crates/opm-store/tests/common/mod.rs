//! Test helpers shared by the store's integration tests: names, a fresh
//! SQLite store in a temp dir, and a snapshot of everything readable.

#![allow(dead_code)]

use std::path::PathBuf;

use opm_model::{Name, NameKind, Target};
use opm_store::{
    HistoryEntry, HistoryFilter, Image, NewNode, Node, OpenMode, Opkg, OpkgImport, PostgresStore,
    SqliteStore, Store, StoredRow,
};

/// An opkg name.
pub fn opkg(name: &str) -> Name {
    Name::new(NameKind::Opkg, name).unwrap()
}

/// A node name.
pub fn node_name(name: &str) -> Name {
    Name::new(NameKind::Node, name).unwrap()
}

/// An image name.
pub fn image_name(name: &str) -> Name {
    Name::new(NameKind::Image, name).unwrap()
}

/// A group name.
pub fn group(name: &str) -> Name {
    Name::new(NameKind::Group, name).unwrap()
}

/// A node target.
pub fn node(name: &str) -> Target {
    Target::node(node_name(name))
}

/// An image target.
pub fn image(name: &str) -> Target {
    Target::image(image_name(name))
}

/// Adds compute node `name`, in no group and without an image.
pub async fn add_plain_node(store: &impl Store, name: &str) {
    store
        .add_node(&NewNode {
            name: node_name(name),
            groups: Vec::new(),
            image: None,
        })
        .await
        .unwrap();
}

/// An opkg import with no relations.
pub fn import(name: &str) -> OpkgImport {
    OpkgImport {
        name: opkg(name),
        version: "1.0-1".to_owned(),
        summary: format!("the {name} package"),
        source: format!("/srv/opkgs/{name}"),
        depends: Vec::new(),
        conflicts: Vec::new(),
    }
}

/// A migrated store with head node `head`, in a fresh temp dir.
pub async fn fresh() -> (tempfile::TempDir, PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    let store = SqliteStore::open(&path, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    store.register_head_node(&node_name("head")).await.unwrap();
    (dir, path, store)
}

/// A migrated PostgreSQL store with head node `head`, in a fresh database
/// of its own, with that database's URL; `None` (after a loud SKIPPED line)
/// when no PostgreSQL server can be had.
pub async fn fresh_postgres() -> Option<(String, PostgresStore)> {
    let server = opm_testkit::postgres()?;
    let url = server.fresh_database().await.unwrap();
    let store = PostgresStore::open(&url, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    store.register_head_node(&node_name("head")).await.unwrap();
    Some((url, store))
}

/// Everything the store shows, to prove a refused call changed nothing.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    nodes: Vec<Node>,
    images: Vec<Image>,
    opkgs: Vec<Opkg>,
    rows: Vec<StoredRow>,
    history: Vec<HistoryEntry>,
    phase: opm_model::Phase,
}

/// Reads a [`Snapshot`].
pub async fn snapshot(store: &impl Store) -> Snapshot {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store.all_rows(after, 1000).await.unwrap();
        rows.extend(page.rows);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Snapshot {
        nodes: store.nodes().await.unwrap(),
        images: store.images().await.unwrap(),
        opkgs: store.opkgs().await.unwrap(),
        rows,
        history: store
            .history(&HistoryFilter {
                target: None,
                opkg: None,
                limit: 10_000,
            })
            .await
            .unwrap(),
        phase: store.phase().await.unwrap(),
    }
}

/// Turns `async fn $check(store: &impl Store)` into two tests, `$check::sqlite`
/// and `$check::postgres`, each on a fresh migrated store with head node `head`.
#[macro_export]
macro_rules! on_both_backends {
    ($check:ident) => {
        mod $check {
            #[tokio::test]
            async fn sqlite() {
                let (_dir, _path, store) = $crate::common::fresh().await;
                super::$check(&store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some((_url, store)) = $crate::common::fresh_postgres().await else {
                    return;
                };
                super::$check(&store).await;
            }
        }
    };
}
