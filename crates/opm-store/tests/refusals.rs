//! Unknown names and refused changes: a typed error, and nothing changed.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{group, image, image_name, import, node, node_name, opkg, snapshot};
use opm_model::{Phase, Stage};
use opm_store::{Image, NewNode, Store, StoreError};

/// Gives a store one node, one image, one opkg and one row.
async fn populate(store: &impl Store) {
    store
        .add_image(&Image {
            name: image_name("img1"),
            root: "/images/img1".into(),
        })
        .await
        .unwrap();
    store
        .add_node(&NewNode {
            name: node_name("n1"),
            groups: vec![],
            image: None,
        })
        .await
        .unwrap();
    store.import_opkg(&import("base"), 1).await.unwrap();
    store
        .request(&node("n1"), &opkg("base"), Stage::Finished, 2)
        .await
        .unwrap();
    store.set_phase(Phase::Addclients, 3).await.unwrap();
}

on_both_backends!(unknown_names_are_typed_errors_and_change_nothing);

async fn unknown_names_are_typed_errors_and_change_nothing(store: &impl Store) {
    populate(store).await;
    let before = snapshot(store).await;

    let error = store
        .request(&node("n1"), &opkg("nope"), Stage::Finished, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownOpkg { ref name } if name == "nope"),
        "{error:?}"
    );
    assert!(error.to_string().contains("opm opkg import"), "{error}");
    assert!(error.is_bad_input());

    let error = store
        .request(&node("ghost"), &opkg("base"), Stage::Finished, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownNode { ref name } if name == "ghost"),
        "{error:?}"
    );

    let error = store
        .request(&image("ghost"), &opkg("base"), Stage::Finished, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownImage { .. }),
        "{error:?}"
    );

    let error = store
        .add_node(&NewNode {
            name: node_name("n2"),
            groups: vec![group("gpu")],
            image: Some(image_name("ghost")),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownImage { .. }),
        "{error:?}"
    );

    let error = store
        .add_node(&NewNode {
            name: node_name("n1"),
            groups: vec![],
            image: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::AlreadyExists { kind: "node", .. }),
        "{error:?}"
    );

    let error = store
        .add_image(&Image {
            name: image_name("img1"),
            root: "/elsewhere".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::AlreadyExists { kind: "image", .. }),
        "{error:?}"
    );

    let error = store
        .select_opkg_for_group(&opkg("base"), &group("nobody"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownGroup { .. }),
        "{error:?}"
    );
    let error = store
        .select_opkg_for_group(&opkg("nope"), &group("oscar_clients"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownOpkg { .. }), "{error:?}");

    let error = store.remove_node(&node_name("ghost")).await.unwrap_err();
    assert!(matches!(error, StoreError::UnknownNode { .. }), "{error:?}");
    let error = store.remove_image(&image_name("ghost")).await.unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownImage { .. }),
        "{error:?}"
    );

    let error = store
        .config_set(&opkg("base"), Some(&image_name("ghost")), "k", "v")
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownImage { .. }),
        "{error:?}"
    );
    let error = store
        .config_set(&opkg("nope"), None, "k", "v")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownOpkg { .. }), "{error:?}");
    // The read tells an unknown name from an opkg without values.
    let error = store.config_values(&opkg("nope"), None).await.unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownOpkg { ref name } if name == "nope"),
        "{error:?}"
    );
    let error = store
        .config_values(&opkg("base"), Some(&image_name("ghost")))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::UnknownImage { ref name } if name == "ghost"),
        "{error:?}"
    );
    let none = store
        .config_values(&opkg("base"), Some(&image_name("img1")))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    let error = store
        .retry(&image("img1"), &opkg("base"), "why", 10)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnknownRow { .. }), "{error:?}");
    assert!(error.to_string().contains("image img1 / base"), "{error}");

    let error = store
        .retry(&node("n1"), &opkg("base"), "why", 10)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotInError { .. }), "{error:?}");

    let error = store
        .rerun(&node("n1"), &opkg("base"), Stage::InstallBinPkgs, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::InvalidRerun { .. }),
        "{error:?}"
    );

    assert_eq!(snapshot(store).await, before);
}
