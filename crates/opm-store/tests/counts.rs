//! What a metrics scrape reads: rows counted by status and stage, and the
//! leases held, by aggregate queries that must agree with the rows read
//! one by one, and the agents' last contacts as `nodes()` reads them; and
//! the readiness check of a migrated database.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{add_plain_node, node, node_name, opkg};
use opm_model::{Stage, StatusKind};
use opm_store::{AgentContact, Outcome, RowAfter, RowCount, Store};

on_both_backends!(counts_group_rows_by_status_and_stage_and_count_live_leases);
on_both_backends!(a_migrated_database_is_ready);
on_both_backends!(the_scrape_reads_each_agents_last_contact_as_stored);

async fn counts_group_rows_by_status_and_stage_and_count_live_leases(store: &impl Store) {
    let empty = store.row_counts(0).await.unwrap();
    assert!(empty.rows.is_empty(), "{empty:?}");
    assert_eq!(empty.leases, 0);
    for name in ["slurm", "c3", "ganglia"] {
        store.import_opkg(&common::import(name), 0).await.unwrap();
    }
    let head = node("head");
    let mut ids = Vec::new();
    for name in ["slurm", "c3", "ganglia"] {
        let row = store
            .request(&head, &opkg(name), Stage::Finished, 0)
            .await
            .unwrap();
        ids.push(row.id);
    }
    let lease = store
        .acquire_lease(&head, "h:1:1", 60_000, 0)
        .await
        .unwrap();
    // slurm fails its first stage: one row in error.
    let attempt = store
        .begin_attempt(ids[0], Stage::ShouldBeInstalled, lease.token, 1)
        .await
        .unwrap();
    let failed = Outcome {
        passed: false,
        exit_code: Some(1),
        output: String::new(),
        output_bytes: 0,
    };
    let after = RowAfter {
        current: Some(Stage::ShouldNotBeInstalled),
        error: Some("boom".to_owned()),
        version: None,
    };
    store
        .finish_attempt(attempt, &failed, &after, lease.token, 2)
        .await
        .unwrap();
    // c3 is under way.
    store
        .begin_attempt(ids[1], Stage::ShouldBeInstalled, lease.token, 3)
        .await
        .unwrap();

    let counted = store.row_counts(10).await.unwrap();
    // The aggregate says what the rows, read one by one, say.
    let mut expected: Vec<RowCount> = Vec::new();
    for id in &ids {
        let row = store.row_by_id(*id).await.unwrap().row;
        let status = row.status.kind();
        match expected
            .iter_mut()
            .find(|c| c.status == status && c.stage == row.current)
        {
            Some(count) => count.rows += 1,
            None => expected.push(RowCount {
                status,
                stage: row.current,
                rows: 1,
            }),
        }
    }
    let key = |c: &RowCount| (c.status.name(), c.stage.map(Stage::id));
    expected.sort_by_key(key);
    let mut got = counted.rows.clone();
    got.sort_by_key(key);
    assert_eq!(got, expected);
    let of = |status| -> u64 {
        got.iter()
            .filter(|c| c.status == status)
            .map(|c| c.rows)
            .sum()
    };
    assert_eq!(
        (
            of(StatusKind::Ok),
            of(StatusKind::Running),
            of(StatusKind::Error)
        ),
        (1, 1, 1)
    );
    assert_eq!(counted.leases, 1, "the head node's lease is held");
    // Past its expiry the lease is no longer held.
    assert_eq!(store.row_counts(120_000).await.unwrap().leases, 0);
}

async fn the_scrape_reads_each_agents_last_contact_as_stored(store: &impl Store) {
    for name in ["n1", "n2", "n3"] {
        add_plain_node(store, name).await;
    }
    assert_eq!(store.row_counts(0).await.unwrap().contacts, vec![]);
    for (name, seen_ms) in [("n2", 5_000), ("n1", 7_000), ("n2", 9_000)] {
        let contact = AgentContact {
            seen_ms,
            version: "opm/1.0".to_owned(),
            address: "10.0.0.2".to_owned(),
        };
        store
            .record_agent_contact(&node_name(name), &contact)
            .await
            .unwrap();
    }
    // n3's agent never called; n2's last contact is its newest.
    assert_eq!(
        store.row_counts(10_000).await.unwrap().contacts,
        vec![(node_name("n1"), 7_000), (node_name("n2"), 9_000)]
    );
}

async fn a_migrated_database_is_ready(store: &impl Store) {
    store.check_ready().await.unwrap();
}
