//! The cluster facts a store keeps in memory are never stale: every change
//! to the phase, head node, images, opkgs, their relations or selections,
//! made through this store or another one on the same database (another
//! process), shows on the next read.

// Helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{add_plain_node, fresh, fresh_postgres, group, image_name, import, node_name, opkg};
use opm_model::Phase;
use opm_store::{Facts, Image, OpenMode, PostgresStore, SqliteStore, Store};

#[tokio::test]
async fn changes_through_another_store_show_at_once_on_sqlite() {
    let (_dir, path, reader) = fresh().await;
    let writer = SqliteStore::open(&path, OpenMode::Existing).await.unwrap();
    every_change_shows(&reader, &writer).await;
}

#[tokio::test]
async fn changes_through_another_store_show_at_once_on_postgres() {
    let Some((url, reader)) = fresh_postgres().await else {
        return;
    };
    let writer = PostgresStore::open(&url, OpenMode::Existing).await.unwrap();
    every_change_shows(&reader, &writer).await;
}

/// What `facts()` says now, with every list in a fixed order.
async fn facts(store: &impl Store) -> Facts {
    store.facts().await.unwrap()
}

async fn every_change_shows(reader: &impl Store, writer: &impl Store) {
    let first = facts(reader).await;
    assert_eq!(first.phase, Phase::SetupWizard);
    assert_eq!(first.head, Some(node_name("head")));
    assert!(first.images.is_empty() && first.opkgs.is_empty());
    // Read twice with nothing changed: the same facts.
    assert_eq!(facts(reader).await, first);

    writer.set_phase(Phase::Complete, 1).await.unwrap();
    assert_eq!(facts(reader).await.phase, Phase::Complete);

    let image = Image {
        name: image_name("img"),
        root: PathBuf::from("/var/lib/images/img"),
    };
    writer.add_image(&image).await.unwrap();
    assert_eq!(facts(reader).await.images, std::slice::from_ref(&image));

    writer.import_opkg(&import("alpha"), 2).await.unwrap();
    let seen = facts(reader).await;
    assert_eq!(seen.opkgs.len(), 1);
    assert!(seen.opkgs[0].import.depends.is_empty());

    // A relation alone changes (the import again, now with a dependency).
    let mut b = import("beta");
    writer.import_opkg(&b, 3).await.unwrap();
    let mut a = import("alpha");
    a.depends = vec![opkg("beta")];
    writer.import_opkg(&a, 4).await.unwrap();
    let seen = facts(reader).await;
    assert_eq!(seen.opkgs.len(), 2);
    assert_eq!(seen.opkgs[0].import.depends, [opkg("beta")]);

    writer
        .select_opkg_for_group(&opkg("beta"), &group("oscar_clients"))
        .await
        .unwrap();
    assert_eq!(
        facts(reader).await.opkgs[1].groups,
        [group("oscar_clients")]
    );

    b.summary = "changed".to_owned();
    writer.import_opkg(&b, 5).await.unwrap();
    assert_eq!(facts(reader).await.opkgs[1].import.summary, "changed");

    writer.remove_image(&image.name).await.unwrap();
    assert!(facts(reader).await.images.is_empty());

    // Compute nodes are not among the facts.
    let before = facts(reader).await;
    add_plain_node(writer, "n1").await;
    assert_eq!(facts(reader).await, before);
    assert_eq!(reader.nodes().await.unwrap().len(), 2);
}
