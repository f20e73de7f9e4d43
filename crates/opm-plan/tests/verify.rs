//! Named cases for drift (SPEC §1.9): which packages each role's row should
//! have at each stage, what a package database answer makes of a row (and
//! the exact message), which rows are not judged and why, and the stage a
//! repair runs again from.

// Test helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use opm_model::Phase;
use opm_model::{
    Inventory, Lease, Name, NameKind, Part, Presence, Row, RowVersion, Stage, Status, Target,
};
use opm_plan::{
    Blocked, Context, Decision, ImageRef, RowRole, Unjudged, Verdict, decide, expected_packages,
    packages_to_ask, repair_from, same_version, verify,
};

const V: &str = "1:3.1-2";

fn row(current: Option<Stage>, requested: Stage, status: Status) -> Row {
    Row {
        target: Target::node(Name::new(NameKind::Node, "n1").unwrap()),
        package: Name::new(NameKind::Opkg, "motd").unwrap(),
        requested,
        current,
        status,
        version: RowVersion::default(),
    }
}

fn finished() -> Row {
    row(Some(Stage::Finished), Stage::Finished, Status::Ok)
}

fn image() -> RowRole {
    RowRole::Image(ImageRef {
        name: Name::new(NameKind::Image, "img").unwrap(),
        path: PathBuf::from("/var/lib/oscar/images/img"),
    })
}

fn installed(version: &str) -> Presence {
    Presence::Installed {
        version: version.to_owned(),
    }
}

fn inventory(entries: &[(&str, Presence)]) -> Inventory {
    let asked: Vec<String> = entries.iter().map(|(name, _)| (*name).to_owned()).collect();
    Inventory::new(
        &asked,
        entries
            .iter()
            .map(|(name, presence)| ((*name).to_owned(), presence.clone())),
    )
}

fn drift_message(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Drifted(drift) => drift.message(),
        other => panic!("expected drift, got {other:?}"),
    }
}

#[test]
fn each_role_expects_the_packages_its_stages_installed() {
    for stage in Stage::ALL {
        let row = row(Some(stage), Stage::Finished, Status::Ok);
        let names = |role: &RowRole| -> Vec<(String, Stage)> {
            expected_packages(&row, role)
                .into_iter()
                .map(|expected| (expected.name, expected.stage))
                .collect()
        };
        if stage < Stage::InstallBinPkgs {
            for role in [RowRole::Server, RowRole::Client, image()] {
                assert!(names(&role).is_empty(), "{stage} {role:?}");
            }
            continue;
        }
        assert_eq!(
            names(&RowRole::Server),
            [
                ("opkg-motd".to_owned(), Stage::ShouldBeInstalled),
                ("opkg-motd-server".to_owned(), Stage::InstallBinPkgs),
            ],
            "{stage}"
        );
        for role in [RowRole::Client, image()] {
            assert_eq!(
                names(&role),
                [("opkg-motd-client".to_owned(), Stage::InstallBinPkgs)],
                "{stage} {role:?}"
            );
        }
    }
    // An unknown current stage counts as the first: nothing claimed.
    assert!(
        expected_packages(&row(None, Stage::Finished, Status::Ok), &RowRole::Client).is_empty()
    );
}

#[test]
fn packages_at_the_recorded_version_are_whole() {
    let head = inventory(&[
        ("opkg-motd", installed(V)),
        ("opkg-motd-server", installed(V)),
    ]);
    assert_eq!(
        verify(&finished(), &RowRole::Server, Some(V), &head),
        Verdict::Whole
    );
    let node = inventory(&[("opkg-motd-client", installed(V))]);
    for role in [RowRole::Client, image()] {
        assert_eq!(verify(&finished(), &role, Some(V), &node), Verdict::Whole);
    }
    // Just past install-bin-pkgs counts too.
    let at_install = row(Some(Stage::InstallBinPkgs), Stage::Finished, Status::Ok);
    assert_eq!(
        verify(&at_install, &RowRole::Client, Some(V), &node),
        Verdict::Whole
    );
}

/// A case name, the row's role, the database's answer, the recorded
/// version and the message.
type MessageCase = (
    &'static str,
    RowRole,
    Vec<(&'static str, Presence)>,
    Option<&'static str>,
    &'static str,
);

/// The row's role, the parts that differ, the stage a repair runs from.
type RepairCase<'a> = (&'a RowRole, Option<&'a [Part]>, Option<Stage>);

#[test]
fn each_difference_has_its_exact_message() {
    let cases: [MessageCase; 7] = [
        (
            "a node's client package removed behind opm's back",
            RowRole::Client,
            vec![("opkg-motd-client", Presence::Missing)],
            Some(V),
            "opkg-motd-client is not installed (expected 1:3.1-2)",
        ),
        (
            "an image's client package downgraded",
            image(),
            vec![("opkg-motd-client", installed("1:3.0-1"))],
            Some(V),
            "opkg-motd-client is 1:3.0-1, expected 1:3.1-2",
        ),
        (
            "the head node's server part upgraded by hand",
            RowRole::Server,
            vec![
                ("opkg-motd", installed(V)),
                ("opkg-motd-server", installed("1:3.2-1")),
            ],
            Some(V),
            "opkg-motd-server is 1:3.2-1, expected 1:3.1-2",
        ),
        (
            "both parts of the head node differ, in install order",
            RowRole::Server,
            vec![
                ("opkg-motd-server", installed("1:3.0-1")),
                ("opkg-motd", Presence::Missing),
            ],
            Some(V),
            "opkg-motd is not installed (expected 1:3.1-2); opkg-motd-server is 1:3.0-1, expected 1:3.1-2",
        ),
        (
            "a package dpkg left half-configured",
            RowRole::Client,
            vec![(
                "opkg-motd-client",
                Presence::Partial {
                    version: V.to_owned(),
                    state: "half-configured".to_owned(),
                },
            )],
            Some(V),
            "opkg-motd-client is only half-configured at 1:3.1-2 (expected 1:3.1-2)",
        ),
        (
            "no recorded version: a missing package still counts",
            RowRole::Client,
            vec![("opkg-motd-client", Presence::Missing)],
            None,
            "opkg-motd-client is not installed",
        ),
        (
            "no recorded version: partly installed still counts",
            RowRole::Client,
            vec![(
                "opkg-motd-client",
                Presence::Partial {
                    version: "2.0".to_owned(),
                    state: "unpacked".to_owned(),
                },
            )],
            None,
            "opkg-motd-client is only unpacked at 2.0",
        ),
    ];
    for (case, role, entries, version, message) in cases {
        let verdict = verify(&finished(), &role, version, &inventory(&entries));
        assert_eq!(drift_message(&verdict), message, "{case}");
    }
}

#[test]
fn without_a_recorded_version_any_installed_version_is_whole() {
    let node = inventory(&[("opkg-motd-client", installed("0.1-1"))]);
    assert_eq!(
        verify(&finished(), &RowRole::Client, None, &node),
        Verdict::Whole
    );
}

#[test]
fn rows_that_are_not_judged_say_why() {
    let lease = Lease {
        owner: "agent".into(),
        token: 1,
        expires_at_ms: 10,
    };
    let missing = inventory(&[("opkg-motd-client", Presence::Missing)]);
    let cases = [
        (
            row(
                Some(Stage::RunConfigurator),
                Stage::Finished,
                Status::Running { lease },
            ),
            missing.clone(),
            Unjudged::Running,
        ),
        (
            row(
                Some(Stage::Finished),
                Stage::Finished,
                Status::Error {
                    message: "boom".into(),
                },
            ),
            missing.clone(),
            Unjudged::Error,
        ),
        (
            row(Some(Stage::RunConfigurator), Stage::Finished, Status::Ok),
            missing.clone(),
            Unjudged::NotInstalled,
        ),
        (
            row(None, Stage::Finished, Status::Ok),
            missing.clone(),
            Unjudged::NotInstalled,
        ),
        (
            row(
                Some(Stage::Finished),
                Stage::ShouldNotBeInstalled,
                Status::Ok,
            ),
            missing,
            Unjudged::Uninstalling,
        ),
        (
            finished(),
            inventory(&[("opkg-other-client", Presence::Missing)]),
            Unjudged::NotAsked,
        ),
    ];
    for (row, inventory, reason) in cases {
        assert_eq!(
            verify(&row, &RowRole::Client, Some(V), &inventory),
            Verdict::Unjudged { reason },
            "{row:?}"
        );
    }
}

#[test]
fn a_package_not_asked_about_is_not_called_missing() {
    // The server part was asked about, the api part not (say the row
    // reached install-bin-pkgs after the read): only what was read counts.
    let head = inventory(&[("opkg-motd-server", installed(V))]);
    assert_eq!(
        verify(&finished(), &RowRole::Server, Some(V), &head),
        Verdict::Whole
    );
}

#[test]
fn one_question_names_each_package_of_the_judged_rows_once() {
    let mut other = finished();
    other.package = Name::new(NameKind::Opkg, "apple").unwrap();
    let below = row(Some(Stage::RunConfigurator), Stage::Finished, Status::Ok);
    let server = RowRole::Server;
    let client = RowRole::Client;
    let node = finished();
    let rows = [
        (&node, &client),
        (&other, &client),
        (&node, &client),
        (&below, &server),
        (&node, &server),
    ];
    assert_eq!(
        packages_to_ask(rows),
        [
            "opkg-apple-client",
            "opkg-motd",
            "opkg-motd-client",
            "opkg-motd-server"
        ]
    );
}

#[test]
fn a_repair_runs_again_from_the_first_stage_that_installs_a_drifted_part() {
    let server = RowRole::Server;
    let cases: [RepairCase; 7] = [
        (&server, Some(&[Part::Server]), Some(Stage::InstallBinPkgs)),
        (&server, Some(&[Part::Api]), Some(Stage::ShouldBeInstalled)),
        (
            &server,
            Some(&[Part::Server, Part::Api]),
            Some(Stage::ShouldBeInstalled),
        ),
        // Unknown which part (the root could not be read): every part.
        (&server, None, Some(Stage::ShouldBeInstalled)),
        (&RowRole::Client, None, Some(Stage::InstallBinPkgs)),
        (
            &RowRole::Client,
            Some(&[Part::Client]),
            Some(Stage::InstallBinPkgs),
        ),
        // A part the role never installs: nothing to repair.
        (&RowRole::Client, Some(&[Part::Server]), None),
    ];
    for (role, parts, from) in cases {
        assert_eq!(
            repair_from(&finished(), role, parts),
            from,
            "{role:?} {parts:?}"
        );
    }
    assert_eq!(
        repair_from(&finished(), &image(), None),
        Some(Stage::InstallBinPkgs)
    );
}

#[test]
fn the_drift_names_the_parts_a_repair_needs() {
    let head = inventory(&[
        ("opkg-motd", installed(V)),
        ("opkg-motd-server", Presence::Missing),
    ]);
    let Verdict::Drifted(drift) = verify(&finished(), &RowRole::Server, Some(V), &head) else {
        panic!("expected drift");
    };
    assert_eq!(drift.parts(), [Part::Server]);
    assert_eq!(
        repair_from(&finished(), &RowRole::Server, Some(&drift.parts())),
        Some(Stage::InstallBinPkgs)
    );
}

#[test]
fn versions_compare_across_the_two_families_spellings() {
    let cases = [
        ("1:3.1-2", "1:3.1-2", true),
        ("3.1", "3.1-0", true),
        ("3.1", "0:3.1", true),
        ("0:3.1-0", "3.1", true),
        ("3.1-2", "3.1-3", false),
        ("1:3.1-2", "3.1-2", false),
        ("3.1", "3.10", false),
        ("3.1-rc-1", "3.1-rc-1", true),
        ("3.1-rc-1", "3.1-1", false),
    ];
    for (recorded, installed, same) in cases {
        assert_eq!(
            same_version(recorded, installed),
            same,
            "{recorded} vs {installed}"
        );
    }
    // The rule's use: rpm's spelling of a version without a release is no drift.
    let node = inventory(&[("opkg-motd-client", installed("3.1-0"))]);
    assert_eq!(
        verify(&finished(), &RowRole::Client, Some("3.1"), &node),
        Verdict::Whole
    );
}

#[test]
fn a_drifted_row_waits_for_a_repair_unless_it_is_on_its_way_out() {
    let message = "opkg-motd-client is not installed (expected 1:3.1-2)";
    let drifted = |requested| {
        row(
            Some(Stage::Finished),
            requested,
            Status::Drifted {
                message: message.to_owned(),
            },
        )
    };
    for role in [RowRole::Server, RowRole::Client, image()] {
        let context = Context::new(role.clone(), Phase::Complete, 0);
        assert_eq!(
            decide(&drifted(Stage::Finished), &context),
            Decision::Blocked(Blocked::Drifted {
                message: message.to_owned()
            }),
            "{role:?}"
        );
        // Requested down: the uninstall path, as for an ok row.
        let down = decide(&drifted(Stage::ShouldNotBeInstalled), &context);
        let ok_down = decide(
            &row(
                Some(Stage::Finished),
                Stage::ShouldNotBeInstalled,
                Status::Ok,
            ),
            &context,
        );
        assert_eq!(down, ok_down, "{role:?}");
        assert!(
            !matches!(down, Decision::Blocked(Blocked::Drifted { .. })),
            "{role:?}"
        );
    }
}
