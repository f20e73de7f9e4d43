//! Node enrolments: a token is redeemed once, by its node, before it
//! expires; the redemption makes the agent's token the node's; the same
//! agent asking again is answered as before; a newer enrolment replaces an
//! older one; a removed node's enrolments go with it.

// Helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use common::node_name;
use opm_model::{EnrolmentRefusal, Redemption};
use opm_store::{Store, StoreError, TokenSubject};

on_both_backends!(an_enrolment_is_redeemed_once_and_its_token_becomes_the_nodes);

async fn an_enrolment_is_redeemed_once_and_its_token_becomes_the_nodes(store: &impl Store) {
    common::add_plain_node(store, "n1").await;
    common::add_plain_node(store, "n2").await;
    let n1 = node_name("n1");
    store
        .set_token(&TokenSubject::Node(n1.clone()), "old", 1)
        .await
        .unwrap();
    store.add_enrolment(&n1, "enrol-a", 10, 1000).await.unwrap();

    // Another node's agent cannot use it, and nothing changes.
    let wrong = store
        .redeem_enrolment("enrol-a", &node_name("n2"), "agent-x", 20)
        .await
        .unwrap();
    assert!(
        matches!(
            wrong,
            Redemption::Refused(EnrolmentRefusal::WrongNode { .. })
        ),
        "{wrong:?}"
    );
    assert_eq!(
        store
            .redeem_enrolment("nobody", &n1, "agent-x", 20)
            .await
            .unwrap(),
        Redemption::Refused(EnrolmentRefusal::Unknown)
    );

    assert_eq!(
        store
            .redeem_enrolment("enrol-a", &n1, "agent-1", 20)
            .await
            .unwrap(),
        Redemption::Redeem
    );
    // The agent's token is the node's now; the old one stopped working.
    assert_eq!(
        store.token_subject("agent-1").await.unwrap(),
        Some(TokenSubject::Node(n1.clone()))
    );
    assert_eq!(store.token_subject("old").await.unwrap(), None);
    // The enrolment token itself never was an API token.
    assert_eq!(store.token_subject("enrol-a").await.unwrap(), None);

    // The same agent again (it died before keeping the answer), even
    // after expiry: recognised, nothing changes.
    assert_eq!(
        store
            .redeem_enrolment("enrol-a", &n1, "agent-1", 5000)
            .await
            .unwrap(),
        Redemption::AlreadyRedeemed
    );
    // Anybody else: already used, and the node's token stays the agent's.
    let again = store
        .redeem_enrolment("enrol-a", &n1, "agent-2", 30)
        .await
        .unwrap();
    assert!(
        matches!(again, Redemption::Refused(EnrolmentRefusal::Used { .. })),
        "{again:?}"
    );
    assert_eq!(store.token_subject("agent-2").await.unwrap(), None);
    assert_eq!(
        store.token_subject("agent-1").await.unwrap(),
        Some(TokenSubject::Node(n1))
    );
}

on_both_backends!(an_enrolment_expires_and_a_newer_one_replaces_it);

async fn an_enrolment_expires_and_a_newer_one_replaces_it(store: &impl Store) {
    common::add_plain_node(store, "n1").await;
    let n1 = node_name("n1");
    store.add_enrolment(&n1, "first", 10, 1000).await.unwrap();
    let expired = store
        .redeem_enrolment("first", &n1, "agent", 1000)
        .await
        .unwrap();
    assert!(
        matches!(
            expired,
            Redemption::Refused(EnrolmentRefusal::Expired { .. })
        ),
        "{expired:?}"
    );
    assert_eq!(store.token_subject("agent").await.unwrap(), None);

    store
        .add_enrolment(&n1, "second", 2000, 9000)
        .await
        .unwrap();
    store.add_enrolment(&n1, "third", 2001, 9000).await.unwrap();
    let replaced = store
        .redeem_enrolment("second", &n1, "agent", 3000)
        .await
        .unwrap();
    assert!(
        matches!(
            replaced,
            Redemption::Refused(EnrolmentRefusal::Replaced { .. })
        ),
        "{replaced:?}"
    );
    assert_eq!(
        store
            .redeem_enrolment("third", &n1, "agent", 3000)
            .await
            .unwrap(),
        Redemption::Redeem
    );

    let ghost = store
        .add_enrolment(&node_name("ghost"), "x", 1, 2)
        .await
        .unwrap_err();
    assert!(matches!(ghost, StoreError::UnknownNode { .. }), "{ghost:?}");

    // A removed node's enrolments go with it.
    store
        .add_enrolment(&n1, "fourth", 4000, 9000)
        .await
        .unwrap();
    store.remove_node(&n1).await.unwrap();
    common::add_plain_node(store, "n1").await;
    assert_eq!(
        store
            .redeem_enrolment("fourth", &n1, "agent-4", 4001)
            .await
            .unwrap(),
        Redemption::Refused(EnrolmentRefusal::Unknown)
    );
}

on_both_backends!(two_agents_racing_with_one_enrolment_cannot_both_win);

async fn two_agents_racing_with_one_enrolment_cannot_both_win(store: &impl Store) {
    common::add_plain_node(store, "n1").await;
    let n1 = node_name("n1");
    for round in 0..10 {
        let hash = format!("enrol-{round}");
        store.add_enrolment(&n1, &hash, 10, 1000).await.unwrap();
        let (a, b) = (format!("agent-a-{round}"), format!("agent-b-{round}"));
        let (first, second) = tokio::join!(
            store.redeem_enrolment(&hash, &n1, &a, 20),
            store.redeem_enrolment(&hash, &n1, &b, 20),
        );
        let verdicts = [first.unwrap(), second.unwrap()];
        let won: Vec<&String> = verdicts
            .iter()
            .zip([&a, &b])
            .filter(|(verdict, _)| **verdict == Redemption::Redeem)
            .map(|(_, agent)| agent)
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {verdicts:?}");
        assert!(
            verdicts
                .iter()
                .any(|v| matches!(v, Redemption::Refused(EnrolmentRefusal::Used { .. }))),
            "round {round}: {verdicts:?}"
        );
        // The node's token is the winner's, and only the winner's.
        assert_eq!(
            store.token_subject(won[0]).await.unwrap(),
            Some(TokenSubject::Node(n1.clone()))
        );
        let loser = if won[0] == &a { &b } else { &a };
        assert_eq!(store.token_subject(loser).await.unwrap(), None);
    }
}
