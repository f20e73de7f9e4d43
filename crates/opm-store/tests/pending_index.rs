//! Finding work costs what there is to do: the pending queries read the
//! partial `rows_pending*` indexes (checked with EXPLAIN QUERY PLAN), and
//! on a converged cluster they return only the rows that need work.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

#[path = "common/bulk.rs"]
mod bulk;

use common::{fresh, node, opkg};
use opm_model::Stage;
use opm_store::{Scope, Store};

#[tokio::test]
async fn pending_queries_use_the_partial_indexes() {
    let (_dir, path, store) = fresh().await;
    bulk::converged_cluster(&path, 200, 10, 7).await;
    for (scope, index) in [
        (Scope::All, "rows_pending"),
        (Scope::Target(node("n000001")), "rows_pending_node"),
        (Scope::Target(common::image("img")), "rows_pending_image"),
    ] {
        let plan = store.explain_pending(&scope).await.unwrap();
        let on_rows: Vec<&String> = plan.iter().filter(|step| step.contains(" r ")).collect();
        assert!(
            on_rows
                .iter()
                .any(|step| step.contains(&format!("INDEX {index} "))),
            "{scope:?} must use {index}: {plan:?}"
        );
        assert!(
            on_rows
                .iter()
                .all(|step| step.contains("INDEX rows_pending")),
            "{scope:?} must not read rows another way: {plan:?}"
        );
    }
}

#[tokio::test]
async fn a_converged_cluster_yields_only_its_pending_rows() {
    let (_dir, path, store) = fresh().await;
    bulk::converged_cluster(&path, 500, 20, 7).await;
    let all = store.pending_rows(&Scope::All, None, 100).await.unwrap();
    assert_eq!(all.rows.len(), 7);
    assert!(
        all.rows
            .iter()
            .all(|r| r.row.current == Some(Stage::InstallBinPkgs))
    );

    // Paging walks the same rows in id order.
    let first = store.pending_rows(&Scope::All, None, 4).await.unwrap();
    assert_eq!(first.rows.len(), 4);
    let rest = store
        .pending_rows(&Scope::All, first.next, 4)
        .await
        .unwrap();
    assert_eq!(rest.rows.len(), 3);
    assert_eq!(rest.next, None);
    let paged: Vec<_> = first.rows.iter().chain(&rest.rows).map(|r| r.id).collect();
    let whole: Vec<_> = all.rows.iter().map(|r| r.id).collect();
    assert_eq!(paged, whole);

    // A node's own pending rows only.
    let target = all.rows[0].row.target.clone();
    let mine = store
        .pending_rows(&Scope::Target(target.clone()), None, 100)
        .await
        .unwrap();
    assert!(!mine.rows.is_empty());
    assert!(mine.rows.iter().all(|r| r.row.target == target));

    // A row in error stays visible (it waits for an operator).
    let head = node("head");
    store
        .request(&head, &opkg("pkg001"), Stage::Finished, 1)
        .await
        .unwrap();
    let now = store.pending_rows(&Scope::All, None, 100).await.unwrap();
    assert_eq!(now.rows.len(), 8);
}
