//! The rollout story, on both backends: a rollout is opened with its
//! members in order, starts some of them (only from the generation it
//! read: two deciders cannot both start nodes from one view), pauses,
//! survives a restart of the store with everything it knew, takes a node
//! added while it runs at the end of its order, resumes, is aborted, and
//! is replaced (closed) by a later command; a removed node leaves it.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::{add_plain_node, node_name, opkg};
use opm_model::{Limit, RolloutPolicy, RolloutState};
use opm_store::{NewRollout, OpenMode, PostgresStore, SqliteStore, Store};

fn policy() -> RolloutPolicy {
    RolloutPolicy {
        max_parallel: Some(Limit::Count(1)),
        max_failures: Some(Limit::Percent(10)),
        canary: Some(1),
    }
}

/// Before the restart: opened, one node started, paused.
async fn before_restart(store: &impl Store) -> i64 {
    for name in ["n1", "n2", "n3"] {
        add_plain_node(store, name).await;
    }
    assert_eq!(store.rollouts().await.unwrap(), vec![]);
    let id = store
        .open_rollout(
            &NewRollout {
                label: "motd 1:3.2-1".to_owned(),
                packages: vec![opkg("motd"), opkg("ganglia")],
                policy: policy(),
                members: vec![node_name("n2"), node_name("n1"), node_name("n2")],
            },
            100,
        )
        .await
        .unwrap();
    let rollouts = store.rollouts().await.unwrap();
    assert_eq!(rollouts.len(), 1);
    let opened = &rollouts[0];
    assert_eq!(opened.id, id);
    assert_eq!(opened.label, "motd 1:3.2-1");
    assert_eq!(opened.packages, [opkg("motd"), opkg("ganglia")]);
    assert_eq!(opened.policy, policy());
    assert_eq!(opened.state, RolloutState::Running);
    assert_eq!(opened.members, 2, "a node named twice is one member");
    assert!(opened.holds());
    let members = store.rollout_members(id).await.unwrap();
    let order: Vec<(&str, usize)> = members.iter().map(|m| (m.node.as_str(), m.seq)).collect();
    assert_eq!(order, [("n2", 0), ("n1", 1)]);
    assert!(members.iter().all(|m| m.started_ms.is_none()));

    // Start n2 from generation 0; a second decider that read generation 0
    // too starts nobody.
    let generation = opened.generation;
    assert!(
        store
            .start_rollout_members(id, generation, &[node_name("n2")], 200)
            .await
            .unwrap()
    );
    assert!(
        !store
            .start_rollout_members(id, generation, &[node_name("n1")], 201)
            .await
            .unwrap()
    );
    let n1 = store.rollout_member(id, &node_name("n1")).await.unwrap();
    assert_eq!(n1.unwrap().started_ms, None);
    let n2 = store.rollout_member(id, &node_name("n2")).await.unwrap();
    assert_eq!(n2.unwrap().started_ms, Some(200));
    assert_eq!(
        store.rollout_member(id, &node_name("n3")).await.unwrap(),
        None
    );

    let why = "rollout of motd 1:3.2-1 paused: 1 of 2 nodes failed, the limit is 0";
    store
        .set_rollout_state(id, RolloutState::Paused, why, true, 300)
        .await
        .unwrap();
    id
}

/// After the restart: everything as it was, then a joining node, a
/// resume, an abort, a replacement and a removed node.
async fn after_restart(store: &impl Store, id: i64) {
    let rollout = store.rollouts().await.unwrap().remove(0);
    assert_eq!(rollout.state, RolloutState::Paused);
    assert_eq!(
        rollout.message,
        "rollout of motd 1:3.2-1 paused: 1 of 2 nodes failed, the limit is 0"
    );
    assert!(rollout.canary_pending);
    assert_eq!(rollout.changed_ms, 300);
    assert_eq!(rollout.generation, 1);
    let started: Vec<Option<i64>> = store
        .rollout_members(id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.started_ms)
        .collect();
    assert_eq!(started, [Some(200), None]);

    // n3, added while the rollout runs, joins at the end; joining again
    // keeps its place.
    store.join_rollout(id, &[node_name("n3")]).await.unwrap();
    store
        .join_rollout(id, &[node_name("n3"), node_name("n1")])
        .await
        .unwrap();
    let order: Vec<(String, usize)> = store
        .rollout_members(id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.node.to_string(), m.seq))
        .collect();
    assert_eq!(
        order,
        [
            ("n2".to_owned(), 0),
            ("n1".to_owned(), 1),
            ("n3".to_owned(), 2)
        ]
    );
    assert_eq!(store.rollouts().await.unwrap()[0].members, 3);

    store
        .set_rollout_state(id, RolloutState::Running, "", false, 400)
        .await
        .unwrap();
    store
        .set_rollout_state(id, RolloutState::Aborted, "", false, 500)
        .await
        .unwrap();
    let aborted = store.rollouts().await.unwrap().remove(0);
    assert_eq!(aborted.state, RolloutState::Aborted);
    assert_eq!(aborted.changed_ms, 500);
    assert!(
        aborted.holds(),
        "an aborted rollout still holds its nodes back"
    );

    // A later command for its opkgs replaces it.
    let later = store
        .open_rollout(
            &NewRollout {
                label: "motd".to_owned(),
                packages: vec![opkg("motd")],
                policy: RolloutPolicy::default(),
                members: vec![node_name("n1")],
            },
            600,
        )
        .await
        .unwrap();
    store.close_rollouts(&[id], 600).await.unwrap();
    let rollouts = store.rollouts().await.unwrap();
    assert_eq!(
        rollouts.iter().map(|r| r.id).collect::<Vec<_>>(),
        [later, id]
    );
    assert!(!rollouts[1].holds());
    assert_eq!(rollouts[0].policy, RolloutPolicy::default());

    // A removed node leaves every rollout.
    store.remove_node(&node_name("n1")).await.unwrap();
    let left: Vec<String> = store
        .rollout_members(id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.node.to_string())
        .collect();
    assert_eq!(left, ["n2", "n3"]);
}

#[tokio::test]
async fn a_rollout_survives_a_restart_sqlite() {
    let (_dir, path, store) = common::fresh().await;
    let id = before_restart(&store).await;
    drop(store);
    let store = SqliteStore::open(&path, OpenMode::Existing).await.unwrap();
    after_restart(&store, id).await;
}

#[tokio::test]
async fn a_rollout_survives_a_restart_postgres() {
    let Some((url, store)) = common::fresh_postgres().await else {
        return;
    };
    let id = before_restart(&store).await;
    store.close().await;
    let store = PostgresStore::open(&url, OpenMode::Existing).await.unwrap();
    after_restart(&store, id).await;
}
