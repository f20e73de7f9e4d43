//! Dependency cycles among opkgs: which cycle is found from where, how it
//! is spelled, and what the planner tells a row that waits on one.

// Test helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use opm_model::{Name, NameKind, Phase, Row, Stage, Status, Target};
use opm_plan::{Blocked, Cluster, Decision, cycle_reachable, cycle_through, first_cycle};

fn opkg(name: &str) -> Name {
    Name::new(NameKind::Opkg, name).unwrap()
}

/// A dependency map from `"aa>bb"` edges.
fn graph(edges: &[&str]) -> BTreeMap<Name, BTreeSet<Name>> {
    let mut map: BTreeMap<Name, BTreeSet<Name>> = BTreeMap::new();
    for edge in edges {
        let (from, to) = edge.split_once('>').unwrap();
        map.entry(opkg(from)).or_default().insert(opkg(to));
        map.entry(opkg(to)).or_default();
    }
    map
}

fn spelled(cycle: Option<opm_plan::Cycle>) -> Option<String> {
    cycle.map(|cycle| cycle.to_string())
}

#[test]
fn the_cycle_through_an_opkg_is_the_shortest_spelled_back_to_it() {
    // (edges, opkg, cycle through it)
    let cases: &[(&[&str], &str, Option<&str>)] = &[
        (&[], "aa", None),
        (&["aa>bb"], "aa", None),
        (&["aa>bb"], "bb", None),
        (&["aa>bb", "bb>aa"], "aa", Some("aa -> bb -> aa")),
        (&["aa>bb", "bb>aa"], "bb", Some("bb -> aa -> bb")),
        (
            &["aa>bb", "bb>cc", "cc>aa"],
            "aa",
            Some("aa -> bb -> cc -> aa"),
        ),
        (
            &["aa>bb", "bb>cc", "cc>aa"],
            "cc",
            Some("cc -> aa -> bb -> cc"),
        ),
        // The shorter of two cycles through aa.
        (
            &["aa>bb", "bb>cc", "cc>aa", "aa>dd", "dd>aa"],
            "aa",
            Some("aa -> dd -> aa"),
        ),
        // Ties broken by name.
        (
            &["aa>cc", "cc>aa", "aa>bb", "bb>aa"],
            "aa",
            Some("aa -> bb -> aa"),
        ),
        // A cycle aa merely reaches is not through it.
        (&["aa>bb", "bb>cc", "cc>bb"], "aa", None),
        (&["aa>bb", "bb>cc", "cc>bb"], "bb", Some("bb -> cc -> bb")),
        // A diamond is no cycle.
        (&["aa>bb", "aa>cc", "bb>dd", "cc>dd"], "aa", None),
        (&["aa>aa"], "aa", Some("aa -> aa")),
    ];
    for (edges, from, expected) in cases {
        assert_eq!(
            spelled(cycle_through(&graph(edges), &opkg(from))).as_deref(),
            *expected,
            "{edges:?} through {from}"
        );
    }
}

#[test]
fn a_cycle_an_opkg_depends_on_is_found_from_it() {
    let cases: &[(&[&str], &str, Option<&str>)] = &[
        (&["aa>bb", "bb>cc"], "aa", None),
        (&["aa>bb", "bb>cc", "cc>bb"], "aa", Some("bb -> cc -> bb")),
        (
            &["aa>bb", "bb>cc", "cc>dd", "dd>cc"],
            "aa",
            Some("cc -> dd -> cc"),
        ),
        (&["aa>bb", "bb>aa"], "aa", Some("aa -> bb -> aa")),
        // What depends on a cycle does not make the cycle its own.
        (&["xx>aa", "aa>bb", "bb>aa"], "bb", Some("bb -> aa -> bb")),
        (&["xx>aa", "aa>bb", "bb>aa", "yy>zz"], "yy", None),
        // An opkg nobody mentions.
        (&["aa>bb", "bb>aa"], "qq", None),
    ];
    for (edges, from, expected) in cases {
        assert_eq!(
            spelled(cycle_reachable(&graph(edges), &opkg(from))).as_deref(),
            *expected,
            "{edges:?} from {from}"
        );
    }
}

#[test]
fn the_first_cycle_of_a_graph_starts_at_the_first_name_on_one() {
    let cases: &[(&[&str], Option<&str>)] = &[
        (&[], None),
        (&["aa>bb", "bb>cc", "aa>cc"], None),
        (&["aa>bb", "bb>aa"], Some("aa -> bb -> aa")),
        (
            &["xx>yy", "yy>xx", "cc>dd", "dd>cc"],
            Some("cc -> dd -> cc"),
        ),
        (&["aa>bb", "bb>cc", "cc>bb"], Some("bb -> cc -> bb")),
    ];
    for (edges, expected) in cases {
        assert_eq!(
            spelled(first_cycle(&graph(edges))).as_deref(),
            *expected,
            "{edges:?}"
        );
    }
}

/// A head node with rows for `aa`, `bb` and `cc`, all requested
/// `requested` from `current`, in a phase that opens every gate.
fn cluster(edges: &[&str], requested: Stage, current: Option<Stage>) -> Cluster {
    let head = Name::new(NameKind::Node, "head").unwrap();
    let mut cluster = Cluster::new(head.clone(), Phase::Complete);
    cluster.depends_on = graph(edges);
    for package in ["aa", "bb", "cc"] {
        cluster.upsert(Row {
            target: Target::node(head.clone()),
            package: opkg(package),
            requested,
            current,
            status: Status::Ok,
            version: opm_model::RowVersion::default(),
        });
    }
    cluster
}

fn decision(cluster: &Cluster, package: &str) -> Decision {
    let head = Target::node(cluster.head.clone());
    let row = cluster.row(&head, &opkg(package)).unwrap().clone();
    cluster.decide(&row, 0).unwrap()
}

#[test]
fn a_row_waiting_on_a_cycle_is_told_of_the_cycle() {
    let installing = cluster(&["aa>bb", "bb>aa"], Stage::Finished, None);
    for (package, spelled) in [("aa", "aa -> bb -> aa"), ("bb", "bb -> aa -> bb")] {
        match decision(&installing, package) {
            Decision::Blocked(Blocked::Cycle { cycle }) => assert_eq!(cycle.to_string(), spelled),
            other => panic!("{package}: {other:?}"),
        }
        let shown = decision(&installing, package).to_string();
        assert!(
            shown.contains(&format!("form a cycle ({spelled})")),
            "{shown}"
        );
    }
    // cc depends on the cycle: it waits forever too, and says on what.
    let above = cluster(&["cc>aa", "aa>bb", "bb>aa"], Stage::Finished, None);
    assert!(
        decision(&above, "cc")
            .to_string()
            .contains("form a cycle (aa -> bb -> aa)")
    );
    // Removing both: each waits for the other to go first.
    let removing = cluster(
        &["aa>bb", "bb>aa"],
        Stage::ShouldNotBeInstalled,
        Some(Stage::Finished),
    );
    match decision(&removing, "aa") {
        Decision::Blocked(Blocked::Cycle { cycle }) => {
            assert_eq!(cycle.to_string(), "aa -> bb -> aa");
        }
        other => panic!("{other:?}"),
    }
    // Without a cycle the ordinary wait is kept.
    let plain = cluster(&["aa>bb"], Stage::Finished, None);
    assert!(matches!(
        decision(&plain, "aa"),
        Decision::Blocked(Blocked::Dependency { .. })
    ));
}
