//! A batch of changes lands whole or not at all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fresh, group, image, image_name, import, node, node_name, opkg};
use opm_model::Stage;
use opm_store::{Batch, Change, Image, NewNode, Store, StoreError};

#[tokio::test]
async fn every_change_of_a_batch_lands_in_order() {
    let (_dir, _path, store) = fresh().await;
    let batch = Batch {
        changes: vec![
            Change::Import {
                opkg: import("pkg"),
                at_ms: 5,
            },
            Change::AddNode(NewNode {
                name: node_name("n1"),
                groups: vec![group("rack1")],
                image: None,
            }),
            Change::AddImage(Image {
                name: image_name("compute"),
                root: "/srv/images/compute".into(),
            }),
            Change::Request {
                target: image("compute"),
                opkg: opkg("pkg"),
                stage: Stage::Finished,
            },
            Change::Select {
                opkg: opkg("pkg"),
                group: group("rack1"),
            },
            Change::Request {
                target: node("n1"),
                opkg: opkg("pkg"),
                stage: Stage::Finished,
            },
            Change::Config {
                opkg: opkg("pkg"),
                image: None,
                key: "nodes".to_owned(),
                value: "4".to_owned(),
            },
        ],
    };
    store.apply(&batch, 10).await.unwrap();
    let opkgs = store.opkgs().await.unwrap();
    assert_eq!(opkgs[0].imported_at_ms, 5);
    assert_eq!(opkgs[0].groups, vec![group("rack1")]);
    let row = store.row(&node("n1"), &opkg("pkg")).await.unwrap();
    assert_eq!(row.row.requested, Stage::Finished);
    let row = store.row(&image("compute"), &opkg("pkg")).await.unwrap();
    assert_eq!(row.row.requested, Stage::Finished);
    assert_eq!(
        store.config_values(&opkg("pkg"), None).await.unwrap(),
        vec![("nodes".to_owned(), "4".to_owned())]
    );
}

#[tokio::test]
async fn a_failing_change_rolls_the_whole_batch_back() {
    let (_dir, _path, store) = fresh().await;
    store.import_opkg(&import("pkg"), 1).await.unwrap();
    let batch = Batch {
        changes: vec![
            Change::Request {
                target: node("head"),
                opkg: opkg("pkg"),
                stage: Stage::Finished,
            },
            Change::AddNode(NewNode {
                name: node_name("n1"),
                groups: Vec::new(),
                image: Some(image_name("missing")),
            }),
        ],
    };
    let error = store.apply(&batch, 10).await.unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownImage { .. }),
        "{error:?}"
    );
    assert!(store.all_rows(None, 10).await.unwrap().rows.is_empty());
    assert_eq!(store.nodes().await.unwrap().len(), 1);
}
