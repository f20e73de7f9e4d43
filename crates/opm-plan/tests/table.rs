//! Named cases for the planner: every role × stage × gate, the rules of one
//! pass (SPEC §1.3), the cross-row rules (§1.4), the uninstall order (§1.5)
//! versions, upgrades, pins and drift (§1.9) and the old prototype's
//! traps (§9), each by name.

// Test helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use opm_model::{
    Lease, Name, NameKind, Part, Phase, Row, RowVersion, Script, Stage, Status, Target, version,
};
use opm_plan::{
    Action, Blocked, Cluster, Conflicts, Context, Decision, Dependency, Idle, ImageRef, ImageRow,
    PlanError, RequestChange, RootRef, RowRole, ScriptArg, Step, Unfinished, UpgradeSkip,
    UpgradeVerdict, Work, assign_clients, conflicts_on_target, decide, next_step, upgrade_verdict,
    with_dependencies,
};

const NOW: i64 = 1_000_000;

fn opkg(name: &str) -> Name {
    Name::new(NameKind::Opkg, name).unwrap()
}

fn node(name: &str) -> Target {
    Target::node(Name::new(NameKind::Node, name).unwrap())
}

fn image_target(name: &str) -> Target {
    Target::image(Name::new(NameKind::Image, name).unwrap())
}

fn image_ref(name: &str) -> ImageRef {
    ImageRef {
        name: Name::new(NameKind::Image, name).unwrap(),
        path: PathBuf::from(format!("/var/lib/oscar/images/{name}")),
    }
}

fn row(target: Target, package: &str, current: Option<Stage>, requested: Stage) -> Row {
    Row {
        target,
        package: opkg(package),
        requested,
        current,
        status: Status::Ok,
        version: opm_model::RowVersion::default(),
    }
}

fn role_target(role: &RowRole) -> Target {
    match role {
        RowRole::Server => node("head"),
        RowRole::Client => node("n1"),
        RowRole::Image(image) => Target::image(image.name.clone()),
    }
}

fn roles() -> [RowRole; 3] {
    [
        RowRole::Server,
        RowRole::Client,
        RowRole::Image(image_ref("img")),
    ]
}

fn work(decision: Decision) -> Work {
    match decision {
        Decision::Perform(work) => work,
        other => panic!("expected perform, got {other:?}: {other}"),
    }
}

fn blocked(decision: Decision) -> Blocked {
    match decision {
        Decision::Blocked(blocked) => blocked,
        other => panic!("expected blocked, got {other:?}: {other}"),
    }
}

fn described(work: &Work) -> Vec<String> {
    work.actions
        .iter()
        .map(|action| action.describe(&work.package))
        .collect()
}

/// SPEC §1.1's table, per role and stage, as action descriptions.
fn expected_actions(role: &RowRole, stage: Stage) -> Vec<String> {
    let own = "this machine's root";
    let img = "image img (/var/lib/oscar/images/img)";
    let lines: Vec<String> = match (role, stage) {
        (RowRole::Server, Stage::ShouldBeInstalled) => vec![
            format!("install opkg-slurm into {own}"),
            "run api-pre-install".into(),
            "run api-post-install".into(),
        ],
        (RowRole::Server, Stage::RunConfigurator) => vec![
            "run api-pre-configure".into(),
            "settle the configuration values".into(),
            "run api-post-configure".into(),
        ],
        (RowRole::Server, Stage::InstallBinPkgs) => vec![
            format!("install opkg-slurm-server into {own}"),
            "run server-post-install".into(),
        ],
        (RowRole::Server, Stage::RunScriptPostClients) => vec![
            "run api-post-clientdef".into(),
            "assign work to the nodes of its groups".into(),
        ],
        (RowRole::Server, Stage::RunScriptPostInstall) => vec!["run api-post-deploy".into()],
        (RowRole::Client, Stage::InstallBinPkgs) => vec![
            format!("install opkg-slurm-client into {own}"),
            "run client-post-install".into(),
        ],
        (RowRole::Image(_), Stage::InstallBinPkgs) => vec![
            format!("install opkg-slurm-client into {img}"),
            format!("run client-post-install chrooted in {img}"),
        ],
        // Server post-image with no image rows, finished, and every
        // "nothing" stage of clients and images.
        _ => vec![],
    };
    lines
}

#[test]
fn every_role_every_stage_gate_open_performs_the_spec_actions() {
    for role in roles() {
        for stage in &Stage::ALL[1..] {
            let stage = *stage;
            let current = stage.previous();
            let target = row(role_target(&role), "slurm", current, Stage::Finished);
            let phases_open = Phase::ALL
                .into_iter()
                .filter(|phase| stage.gate().is_none_or(|gate| phase.opens(gate)));
            for phase in phases_open {
                let work = work(decide(&target, &Context::new(role.clone(), phase, NOW)));
                assert_eq!(work.stage, stage, "{role:?} {stage} {phase}");
                assert!(!work.interrupted);
                assert_eq!(
                    described(&work),
                    expected_actions(&role, stage),
                    "{role:?} {stage} {phase}"
                );
            }
        }
    }
}

#[test]
fn every_role_every_stage_gate_closed_is_blocked_naming_gate_and_phase() {
    let mut closed_cases = 0;
    for role in roles() {
        for stage in &Stage::ALL[1..] {
            let stage = *stage;
            let Some(gate) = stage.gate() else { continue };
            let target = row(
                role_target(&role),
                "slurm",
                stage.previous(),
                Stage::Finished,
            );
            for phase in Phase::ALL.into_iter().filter(|phase| *phase < gate) {
                closed_cases += 1;
                let reason = blocked(decide(&target, &Context::new(role.clone(), phase, NOW)));
                assert_eq!(reason, Blocked::Gate { stage, gate, phase });
                assert_eq!(
                    reason.to_string(),
                    format!("gate {gate} of {stage} is not open while the phase is {phase}")
                );
            }
        }
    }
    // build_image (1) + addclients (2) + post_install (4) + test_install (5)
    // closed phases, for each of the three roles.
    assert_eq!(closed_cases, 3 * (1 + 2 + 4 + 5));
}

#[test]
fn finished_and_uninstall_carry_no_gate_of_their_own() {
    for role in roles() {
        let at_seven = row(
            role_target(&role),
            "slurm",
            Some(Stage::RunScriptPostInstall),
            Stage::Finished,
        );
        let ctx = Context::new(role.clone(), Phase::SetupWizard, NOW);
        assert_eq!(work(decide(&at_seven, &ctx)).stage, Stage::Finished);
        let installed = row(
            role_target(&role),
            "slurm",
            Some(Stage::Finished),
            Stage::ShouldNotBeInstalled,
        );
        assert!(work(decide(&installed, &ctx)).is_uninstall());
    }
}

#[test]
fn a_client_row_at_stage_seven_waits_for_test_install_like_the_server() {
    let client = row(
        node("n1"),
        "slurm",
        Some(Stage::RunScriptPostClients),
        Stage::Finished,
    );
    let reason = blocked(decide(
        &client,
        &Context::new(RowRole::Client, Phase::PostInstall, NOW),
    ));
    assert_eq!(
        reason,
        Blocked::Gate {
            stage: Stage::RunScriptPostInstall,
            gate: Phase::TestInstall,
            phase: Phase::PostInstall
        }
    );
}

#[test]
fn an_error_row_is_skipped_whatever_its_stages() {
    for role in roles() {
        for (current, requested) in [
            (Some(Stage::RunConfigurator), Stage::Finished),
            (Some(Stage::Finished), Stage::Finished),
            (Some(Stage::Finished), Stage::ShouldNotBeInstalled),
            (None, Stage::Finished),
        ] {
            let mut failed = row(role_target(&role), "slurm", current, requested);
            failed.status = Status::Error {
                message: "server-post-install exited 3: no munge key".into(),
            };
            let decision = decide(&failed, &Context::new(role.clone(), Phase::Complete, NOW));
            assert_eq!(
                decision.to_string(),
                "blocked: in error, waiting for an operator (opm retry): \
                 server-post-install exited 3: no munge key"
            );
        }
    }
}

#[test]
fn null_current_counts_as_should_not_be_installed() {
    let imported = row(node("head"), "slurm", None, Stage::Finished);
    let ctx = Context::new(RowRole::Server, Phase::Complete, NOW);
    assert_eq!(
        work(decide(&imported, &ctx)).stage,
        Stage::ShouldBeInstalled
    );
    let nothing = row(node("head"), "slurm", None, Stage::ShouldNotBeInstalled);
    assert_eq!(
        decide(&nothing, &ctx),
        Decision::Idle(Idle::Converged {
            stage: Stage::ShouldNotBeInstalled
        })
    );
}

#[test]
fn converged_rows_are_idle() {
    for stage in Stage::ALL {
        let done = row(node("head"), "slurm", Some(stage), stage);
        let decision = decide(&done, &Context::new(RowRole::Server, Phase::Complete, NOW));
        assert_eq!(decision, Decision::Idle(Idle::Converged { stage }));
        assert_eq!(decision.to_string(), format!("idle: converged at {stage}"));
    }
}

#[test]
fn ahead_of_request_undoes_nothing() {
    let ahead = row(
        node("n1"),
        "slurm",
        Some(Stage::Finished),
        Stage::RunConfigurator,
    );
    let decision = decide(&ahead, &Context::new(RowRole::Client, Phase::Complete, NOW));
    assert_eq!(
        decision,
        Decision::Idle(Idle::Ahead {
            current: Stage::Finished,
            requested: Stage::RunConfigurator
        })
    );
    assert!(decision.to_string().contains("ahead of request"));
    assert!(decision.to_string().contains("opm rerun"));
}

#[test]
fn a_live_lease_blocks_naming_its_owner() {
    let mut held = row(
        node("head"),
        "slurm",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    held.status = Status::Running {
        lease: Lease {
            owner: "opm run pid 4242 on head".into(),
            token: 7,
            expires_at_ms: NOW + 1,
        },
    };
    let decision = decide(&held, &Context::new(RowRole::Server, Phase::Complete, NOW));
    assert_eq!(
        decision.to_string(),
        format!(
            "blocked: held by a live lease of opm run pid 4242 on head (expires at {} ms)",
            NOW + 1
        )
    );
}

#[test]
fn an_expired_lease_runs_the_same_stage_again_marked_interrupted() {
    let mut crashed = row(
        node("head"),
        "slurm",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    crashed.status = Status::Running {
        lease: Lease {
            owner: "opm run pid 4242 on head".into(),
            token: 7,
            expires_at_ms: NOW,
        },
    };
    let work = work(decide(
        &crashed,
        &Context::new(RowRole::Server, Phase::Complete, NOW),
    ));
    assert_eq!(work.stage, Stage::InstallBinPkgs);
    assert!(work.interrupted);
    assert!(
        work.to_string()
            .starts_with("perform install-bin-pkgs again (the last attempt was interrupted): ")
    );
}

fn server_uninstall_actions() -> Vec<String> {
    let own = "this machine's root";
    vec![
        "run api-pre-uninstall".into(),
        "run server-pre-uninstall".into(),
        format!("remove opkg-slurm-server from {own}"),
        "run server-post-uninstall".into(),
        "run api-post-uninstall".into(),
        format!("remove opkg-slurm from {own}"),
    ]
}

#[test]
fn uninstall_order_on_the_server() {
    for current in [None, Some(Stage::ShouldBeInstalled), Some(Stage::Finished)] {
        let server = row(node("head"), "slurm", current, Stage::ShouldNotBeInstalled);
        let decision = decide(
            &server,
            &Context::new(RowRole::Server, Phase::Complete, NOW),
        );
        if current.is_none() {
            // Unknown counts as uninstalled: nothing to undo.
            assert!(matches!(decision, Decision::Idle(Idle::Converged { .. })));
            continue;
        }
        let work = work(decision);
        assert_eq!(work.stage, Stage::ShouldNotBeInstalled);
        // The whole list whatever the current stage: a failed stage may have
        // left its package behind.
        assert_eq!(described(&work), server_uninstall_actions());
    }
}

#[test]
fn uninstall_order_on_a_client_and_in_an_image() {
    let client = row(
        node("n1"),
        "slurm",
        Some(Stage::Finished),
        Stage::ShouldNotBeInstalled,
    );
    let work_client = work(decide(
        &client,
        &Context::new(RowRole::Client, Phase::Complete, NOW),
    ));
    assert_eq!(
        described(&work_client),
        [
            "run client-pre-uninstall",
            "remove opkg-slurm-client from this machine's root",
            "run client-post-uninstall"
        ]
    );
    let image = row(
        image_target("img"),
        "slurm",
        Some(Stage::InstallBinPkgs),
        Stage::ShouldNotBeInstalled,
    );
    let work_image = work(decide(
        &image,
        &Context::new(RowRole::Image(image_ref("img")), Phase::SetupWizard, NOW),
    ));
    let img = "image img (/var/lib/oscar/images/img)";
    assert_eq!(
        described(&work_image),
        [
            format!("run client-pre-uninstall chrooted in {img}"),
            format!("remove opkg-slurm-client from {img}"),
            format!("run client-post-uninstall chrooted in {img}"),
        ]
    );
}

fn server_context_with(clients: Vec<Row>, images: Vec<(&str, Row)>) -> Context {
    let mut ctx = Context::new(RowRole::Server, Phase::Complete, NOW);
    ctx.clients = clients;
    ctx.images = images
        .into_iter()
        .map(|(name, row)| ImageRow {
            image: image_ref(name),
            row,
        })
        .collect();
    ctx
}

#[test]
fn server_uninstall_first_requests_client_and_image_rows_down() {
    let server = row(
        node("head"),
        "slurm",
        Some(Stage::Finished),
        Stage::ShouldNotBeInstalled,
    );
    let ctx = server_context_with(
        vec![
            row(node("n2"), "slurm", Some(Stage::Finished), Stage::Finished),
            row(node("n1"), "slurm", Some(Stage::Finished), Stage::Finished),
            // Already going down: not requested again.
            row(
                node("n3"),
                "slurm",
                Some(Stage::Finished),
                Stage::ShouldNotBeInstalled,
            ),
        ],
        vec![(
            "img",
            row(
                image_target("img"),
                "slurm",
                Some(Stage::Finished),
                Stage::Finished,
            ),
        )],
    );
    let Decision::Request { changes } = decide(&server, &ctx) else {
        panic!("expected the fan-out");
    };
    let down = |target: Target| RequestChange {
        target,
        package: opkg("slurm"),
        requested: Stage::ShouldNotBeInstalled,
        create: false,
    };
    assert_eq!(
        changes,
        [
            down(node("n1")),
            down(node("n2")),
            down(image_target("img"))
        ]
    );
}

#[test]
fn server_uninstall_waits_for_client_and_image_rows_then_removes_its_own() {
    let server = row(
        node("head"),
        "slurm",
        Some(Stage::Finished),
        Stage::ShouldNotBeInstalled,
    );
    let going = |target, current| row(target, "slurm", Some(current), Stage::ShouldNotBeInstalled);
    let mut failed = going(node("n2"), Stage::Finished);
    failed.status = Status::Error {
        message: "client-pre-uninstall exited 1".into(),
    };
    let ctx = server_context_with(
        vec![failed, going(node("n3"), Stage::Finished)],
        vec![(
            "img",
            going(image_target("img"), Stage::ShouldNotBeInstalled),
        )],
    );
    let reason = blocked(decide(&server, &ctx));
    assert_eq!(
        reason.to_string(),
        "waiting for node n2 / slurm to be uninstalled first (it is at finished, requested \
         should_not_be_installed, in error: it waits for an operator) and 1 more"
    );
    let done = server_context_with(
        vec![
            going(node("n2"), Stage::ShouldNotBeInstalled),
            row(node("n3"), "slurm", None, Stage::ShouldNotBeInstalled),
        ],
        vec![(
            "img",
            going(image_target("img"), Stage::ShouldNotBeInstalled),
        )],
    );
    assert_eq!(
        described(&work(decide(&server, &done))),
        server_uninstall_actions()
    );
}

fn dependency(package: &str, row: Option<Row>) -> Dependency {
    Dependency {
        package: opkg(package),
        row,
    }
}

#[test]
fn dependency_waits_name_the_opkg_and_its_state() {
    let app = row(
        node("n1"),
        "app",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    let mut ctx = Context::new(RowRole::Client, Phase::Complete, NOW);
    ctx.dependencies = vec![dependency("munge", None)];
    assert_eq!(
        blocked(decide(&app, &ctx)).to_string(),
        "waiting for opkg munge on this target to complete install-bin-pkgs \
         (it has no row here; request munge too)"
    );
    let mut behind = row(
        node("n1"),
        "munge",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    behind.status = Status::Error {
        message: "boom".into(),
    };
    ctx.dependencies = vec![dependency("munge", Some(behind))];
    assert_eq!(
        blocked(decide(&app, &ctx)).to_string(),
        "waiting for opkg munge on this target to complete install-bin-pkgs \
         (it is at run-configurator, requested finished, in error: it waits for an operator)"
    );
    // Once the dependency has passed the stage (even if it errs later), the
    // dependent may pass it too.
    let mut passed = row(
        node("n1"),
        "munge",
        Some(Stage::InstallBinPkgs),
        Stage::Finished,
    );
    passed.status = Status::Error {
        message: "later stage failed".into(),
    };
    ctx.dependencies = vec![
        dependency("munge", Some(passed)),
        dependency(
            "base",
            Some(row(
                node("n1"),
                "base",
                Some(Stage::Finished),
                Stage::Finished,
            )),
        ),
    ];
    assert_eq!(work(decide(&app, &ctx)).stage, Stage::InstallBinPkgs);
}

#[test]
fn dependencies_are_checked_after_the_gate() {
    let app = row(
        node("head"),
        "app",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    let mut ctx = Context::new(RowRole::Server, Phase::SetupWizard, NOW);
    ctx.dependencies = vec![dependency("munge", None)];
    assert!(matches!(
        blocked(decide(&app, &ctx)),
        Blocked::Gate {
            gate: Phase::BuildImage,
            ..
        }
    ));
}

#[test]
fn uninstall_is_refused_while_a_dependent_is_wanted_and_names_it() {
    let munge = row(
        node("n1"),
        "munge",
        Some(Stage::Finished),
        Stage::ShouldNotBeInstalled,
    );
    let mut ctx = Context::new(RowRole::Client, Phase::Complete, NOW);
    ctx.dependents = vec![
        row(node("n1"), "slurm", Some(Stage::Finished), Stage::Finished),
        // Gone entirely: does not count.
        row(
            node("n1"),
            "gone",
            Some(Stage::ShouldNotBeInstalled),
            Stage::ShouldNotBeInstalled,
        ),
    ];
    let reason = blocked(decide(&munge, &ctx));
    assert!(
        matches!(&reason, Blocked::DependentWanted { package, .. } if package.as_str() == "slurm")
    );
    assert!(reason.to_string().starts_with(
        "uninstall refused: opkg slurm on this target depends on it (it is at finished"
    ));

    // Asked to take dependents along: they are requested down first.
    ctx.remove_dependents = true;
    assert_eq!(
        decide(&munge, &ctx),
        Decision::Request {
            changes: vec![RequestChange {
                target: node("n1"),
                package: opkg("slurm"),
                requested: Stage::ShouldNotBeInstalled,
                create: false,
            }]
        }
    );

    // The dependent is going down but still installed: wait for it.
    ctx.dependents[0].requested = Stage::ShouldNotBeInstalled;
    assert!(matches!(
        blocked(decide(&munge, &ctx)),
        Blocked::DependentRemoving { .. }
    ));

    // The dependent is gone: uninstall proceeds.
    ctx.dependents[0].current = Some(Stage::ShouldNotBeInstalled);
    assert!(work(decide(&munge, &ctx)).is_uninstall());
}

#[test]
fn image_before_post_image_waits_for_every_image_row() {
    let server = row(
        node("head"),
        "slurm",
        Some(Stage::InstallBinPkgs),
        Stage::Finished,
    );
    let img = |name: &str, current: Stage| {
        (
            name.to_owned(),
            row(image_target(name), "slurm", Some(current), Stage::Finished),
        )
    };
    let ctx_of = |images: Vec<(String, Row)>| {
        server_context_with(
            Vec::new(),
            images
                .iter()
                .map(|(name, row)| (name.as_str(), row.clone()))
                .collect(),
        )
    };
    let waiting = ctx_of(vec![
        img("img-b", Stage::RunConfigurator),
        img("img-a", Stage::InstallBinPkgs),
    ]);
    let reason = blocked(decide(&server, &waiting));
    assert_eq!(
        reason.to_string(),
        "waiting for image img-b / slurm to complete install-bin-pkgs \
         (it is at run-configurator, requested finished)"
    );

    let mut failed = img("img-b", Stage::RunConfigurator);
    failed.1.status = Status::Error {
        message: "dnf failed".into(),
    };
    let reason = blocked(decide(&server, &ctx_of(vec![failed])));
    assert!(
        reason
            .to_string()
            .ends_with("in error: it waits for an operator)")
    );

    // Every image ready: one api-post-image per image, by name, with the
    // image root as the argument; an image being uninstalled is left out.
    let mut leaving = img("img-c", Stage::RunConfigurator);
    leaving.1.requested = Stage::ShouldNotBeInstalled;
    let ready = ctx_of(vec![
        img("img-b", Stage::Finished),
        img("img-a", Stage::InstallBinPkgs),
        leaving,
    ]);
    let work = work(decide(&server, &ready));
    assert_eq!(work.stage, Stage::RunScriptPostImage);
    assert_eq!(
        work.actions,
        ["img-a", "img-b"]
            .map(|name| Action::RunScript {
                script: Script::ApiPostImage,
                args: vec![ScriptArg::ImageRoot(image_ref(name))],
                chroot: None,
            })
            .to_vec()
    );
    assert_eq!(
        described(&work),
        [
            "run api-post-image /var/lib/oscar/images/img-a",
            "run api-post-image /var/lib/oscar/images/img-b"
        ]
    );
}

#[test]
fn conflicts_are_found_in_either_direction() {
    let conflicts = |package: &str, with: &[&str]| Conflicts {
        package: opkg(package),
        with: with.iter().map(|name| opkg(name)).collect(),
    };
    let candidate = conflicts("torque", &["slurm"]);
    let present = [
        conflicts("slurm", &[]),
        conflicts("pbs", &["torque"]),
        conflicts("munge", &[]),
        conflicts("torque", &["torque"]),
    ];
    assert_eq!(
        conflicts_on_target(&candidate, &present),
        [opkg("pbs"), opkg("slurm")]
    );
    assert!(conflicts_on_target(&conflicts("munge", &[]), &[conflicts("slurm", &[])]).is_empty());
}

fn groups(names: &[&str]) -> BTreeSet<Name> {
    names
        .iter()
        .map(|name| Name::new(NameKind::Group, name).unwrap())
        .collect()
}

fn nodes(pairs: &[(&str, &[&str])]) -> BTreeMap<Name, BTreeSet<Name>> {
    pairs
        .iter()
        .map(|(node, group_names)| {
            (
                Name::new(NameKind::Node, node).unwrap(),
                groups(group_names),
            )
        })
        .collect()
}

#[test]
fn assign_clients_creates_and_re_requests_rows_of_the_selected_groups_only() {
    let nodes = nodes(&[
        ("n1", &["oscar_clients"]),
        ("n2", &["oscar_clients", "gpu"]),
        ("n3", &["gpu"]),
        ("n4", &["oscar_clients"]),
    ]);
    let existing = [
        row(node("n2"), "slurm", Some(Stage::Finished), Stage::Finished),
        row(
            node("n4"),
            "slurm",
            Some(Stage::ShouldNotBeInstalled),
            Stage::ShouldNotBeInstalled,
        ),
        // Another opkg's row on n1 does not count as slurm's.
        row(node("n1"), "munge", Some(Stage::Finished), Stage::Finished),
    ];
    let changes = assign_clients(
        &opkg("slurm"),
        &groups(&["oscar_clients"]),
        &nodes,
        &existing,
    );
    let change = |name: &str, create| RequestChange {
        target: node(name),
        package: opkg("slurm"),
        requested: Stage::Finished,
        create,
    };
    assert_eq!(changes, [change("n1", true), change("n4", false)]);
    assert_eq!(
        changes[0].to_string(),
        "request finished on node n1 / slurm (new row)"
    );
    assert!(assign_clients(&opkg("slurm"), &groups(&[]), &nodes, &existing).is_empty());
}

fn cluster() -> Cluster {
    let mut cluster = Cluster::new(Name::new(NameKind::Node, "head").unwrap(), Phase::Complete);
    cluster.images.insert(
        Name::new(NameKind::Image, "img").unwrap(),
        image_ref("img").path,
    );
    cluster.nodes = nodes(&[("n1", &["oscar_clients"]), ("n2", &["oscar_clients"])]);
    cluster
        .selections
        .insert(opkg("slurm"), groups(&["oscar_clients"]));
    cluster
        .depends_on
        .insert(opkg("slurm"), [opkg("munge")].into_iter().collect());
    cluster
}

#[test]
fn cluster_gathers_each_rows_context() {
    let mut cluster = cluster();
    for r in [
        row(
            node("head"),
            "slurm",
            Some(Stage::Finished),
            Stage::Finished,
        ),
        row(
            node("head"),
            "munge",
            Some(Stage::Finished),
            Stage::Finished,
        ),
        row(node("n1"), "slurm", Some(Stage::Finished), Stage::Finished),
        row(
            image_target("img"),
            "slurm",
            Some(Stage::Finished),
            Stage::Finished,
        ),
        row(node("n1"), "munge", Some(Stage::Finished), Stage::Finished),
    ] {
        cluster.upsert(r);
    }
    let server = cluster.row(&node("head"), &opkg("slurm")).unwrap().clone();
    let ctx = cluster.context(&server, NOW).unwrap();
    assert_eq!(ctx.role, RowRole::Server);
    assert_eq!(ctx.clients.len(), 1);
    assert_eq!(ctx.images.len(), 1);
    assert_eq!(ctx.images[0].image, image_ref("img"));
    assert_eq!(ctx.dependencies.len(), 1);
    assert_eq!(
        ctx.dependencies[0].row.as_ref().unwrap().target,
        node("head")
    );
    assert!(ctx.dependents.is_empty());

    let munge_on_n1 = cluster.row(&node("n1"), &opkg("munge")).unwrap().clone();
    let ctx = cluster.context(&munge_on_n1, NOW).unwrap();
    assert_eq!(ctx.role, RowRole::Client);
    assert!(ctx.clients.is_empty() && ctx.images.is_empty());
    assert_eq!(ctx.dependents.len(), 1);
    assert_eq!(ctx.dependents[0].package, opkg("slurm"));

    let image_row = cluster
        .row(&image_target("img"), &opkg("slurm"))
        .unwrap()
        .clone();
    assert_eq!(
        cluster.context(&image_row, NOW).unwrap().role,
        RowRole::Image(image_ref("img"))
    );
    assert_eq!(cluster.rows().count(), 5);
}

#[test]
fn an_image_without_a_registered_root_is_an_error_not_slash() {
    let mut cluster = cluster();
    let stray = row(image_target("stray"), "slurm", None, Stage::Finished);
    cluster.upsert(stray.clone());
    let error = cluster.decide(&stray, NOW).unwrap_err();
    assert!(matches!(error, PlanError::UnknownImage { .. }));
    assert_eq!(
        error.to_string(),
        "image stray has no registered root; add it with: opm image add stray --path DIR"
    );
}

#[test]
fn cluster_applies_request_changes_without_duplicating_rows() {
    let mut cluster = cluster();
    let changes = cluster.assign_clients(&opkg("slurm"));
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().all(|change| change.create));
    for change in &changes {
        cluster.apply(change);
    }
    assert_eq!(cluster.rows().count(), 2);
    let created = cluster.row(&node("n1"), &opkg("slurm")).unwrap();
    assert_eq!(created.current, Some(Stage::ShouldNotBeInstalled));
    assert_eq!(created.requested, Stage::Finished);
    assert!(cluster.assign_clients(&opkg("slurm")).is_empty());
    cluster.apply(&RequestChange {
        create: false,
        requested: Stage::ShouldNotBeInstalled,
        ..changes[0].clone()
    });
    assert_eq!(cluster.rows().count(), 2);
    assert_eq!(cluster.assign_clients(&opkg("slurm")).len(), 1);
}

#[test]
fn decisions_serialise_for_opm_plan_json() {
    let server = row(
        node("head"),
        "slurm",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    let decision = decide(
        &server,
        &Context::new(RowRole::Server, Phase::Complete, NOW),
    );
    let json = serde_json::to_value(&decision).unwrap();
    assert_eq!(json["decision"], "perform");
    assert_eq!(json["stage"], "install-bin-pkgs");
    assert_eq!(json["actions"][0]["action"], "install");
    assert_eq!(json["actions"][0]["part"], "server");
    assert_eq!(json["actions"][0]["root"]["root"], "own");
    let gate = decide(
        &server,
        &Context::new(RowRole::Server, Phase::SetupWizard, NOW),
    );
    let json = serde_json::to_value(&gate).unwrap();
    assert_eq!(json["decision"], "blocked");
    assert_eq!(json["blocked"], "gate");
    assert_eq!(json["gate"], "build_image");
}

// ---- SPEC §9: the old prototype's traps, one named test each ----

#[test]
fn trap_1_gates_are_applied() {
    let server = row(
        node("head"),
        "slurm",
        Some(Stage::RunScriptPostImage),
        Stage::Finished,
    );
    let at = |phase| decide(&server, &Context::new(RowRole::Server, phase, NOW));
    assert!(matches!(
        at(Phase::Netboot),
        Decision::Blocked(Blocked::Gate { .. })
    ));
    assert_eq!(
        work(at(Phase::PostInstall)).stage,
        Stage::RunScriptPostClients
    );
}

#[test]
fn trap_2_client_and_image_work_names_the_package() {
    assert!(Name::new(NameKind::Opkg, "").is_err());
    let client = row(
        node("n1"),
        "slurm",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    let work_client = work(decide(
        &client,
        &Context::new(RowRole::Client, Phase::Complete, NOW),
    ));
    assert_eq!(work_client.package, opkg("slurm"));
    assert!(
        work_client
            .to_string()
            .contains("install opkg-slurm-client ")
    );
    let image = row(
        image_target("img"),
        "slurm",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    let work_image = work(decide(
        &image,
        &Context::new(RowRole::Image(image_ref("img")), Phase::Complete, NOW),
    ));
    assert!(
        work_image
            .to_string()
            .contains("install opkg-slurm-client ")
    );
}

#[test]
fn trap_3_one_spelling_of_stage_names() {
    assert!("should-be-installed".parse::<Stage>().is_err());
    let fresh = row(node("head"), "slurm", None, Stage::Finished);
    let text = decide(&fresh, &Context::new(RowRole::Server, Phase::Complete, NOW)).to_string();
    assert!(text.starts_with("perform should_be_installed: "), "{text}");
}

#[test]
fn trap_4_a_successful_stage_advances_so_it_does_not_rerun() {
    let mut target = row(node("head"), "slurm", None, Stage::Finished);
    let ctx = Context::new(RowRole::Server, Phase::Complete, NOW);
    let mut performed = Vec::new();
    while let Decision::Perform(work) = decide(&target, &ctx) {
        performed.push(work.stage);
        target.current = Some(work.stage);
        assert!(performed.len() <= 7, "a stage ran twice: {performed:?}");
    }
    assert_eq!(performed, Stage::ALL[1..].to_vec());
    assert_eq!(
        decide(&target, &ctx),
        Decision::Idle(Idle::Converged {
            stage: Stage::Finished
        })
    );
}

#[test]
fn trap_5_a_failed_stage_is_not_recorded_and_runs_again_after_retry() {
    let mut target = row(
        node("head"),
        "slurm",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    let ctx = Context::new(RowRole::Server, Phase::Complete, NOW);
    let failed_stage = work(decide(&target, &ctx)).stage;
    // The engine records a failure as: status error, current unchanged.
    target.status = Status::Error {
        message: "server-post-install exited 1".into(),
    };
    assert!(matches!(
        decide(&target, &ctx),
        Decision::Blocked(Blocked::Error { .. })
    ));
    // opm retry clears the error; the failed stage comes back, not the next.
    target.status = Status::Ok;
    assert_eq!(work(decide(&target, &ctx)).stage, failed_stage);
    assert_eq!(
        next_step(target.current, target.requested),
        Step::Up(failed_stage)
    );
}

#[test]
fn trap_6_real_script_names_and_the_image_root_argument() {
    let ctx = server_context_with(
        Vec::new(),
        vec![(
            "img",
            row(
                image_target("img"),
                "slurm",
                Some(Stage::Finished),
                Stage::Finished,
            ),
        )],
    );
    let scripts_at = |current| {
        let server = row(node("head"), "slurm", Some(current), Stage::Finished);
        work(decide(&server, &ctx)).actions
    };
    assert_eq!(
        scripts_at(Stage::InstallBinPkgs),
        [Action::RunScript {
            script: Script::ApiPostImage,
            args: vec![ScriptArg::ImageRoot(image_ref("img"))],
            chroot: None
        }]
    );
    assert!(
        scripts_at(Stage::RunScriptPostImage).contains(&Action::RunScript {
            script: Script::ApiPostClientdef,
            args: vec![],
            chroot: None
        })
    );
    assert_eq!(Script::ApiPostClientdef.file_name(), "api-post-clientdef");
    assert_eq!(
        scripts_at(Stage::RunScriptPostClients),
        [Action::RunScript {
            script: Script::ApiPostDeploy,
            args: vec![],
            chroot: None
        }]
    );
    assert_eq!(Script::ApiPostDeploy.file_name(), "api-post-deploy");
}

#[test]
fn trap_7_image_work_goes_into_the_image_root_never_own() {
    let image = row(
        image_target("img"),
        "slurm",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    let ctx = Context::new(RowRole::Image(image_ref("img")), Phase::Complete, NOW);
    let install = work(decide(&image, &ctx));
    let uninstalling = Row {
        requested: Stage::ShouldNotBeInstalled,
        current: Some(Stage::Finished),
        ..image.clone()
    };
    let uninstall = work(decide(&uninstalling, &ctx));
    for action in install.actions.iter().chain(&uninstall.actions) {
        match action {
            Action::Install { root, .. } | Action::Remove { root, .. } => {
                assert_eq!(root, &RootRef::Image(image_ref("img")));
            }
            Action::RunScript { chroot, .. } => assert_eq!(chroot, &Some(image_ref("img"))),
            other => panic!("unexpected image action {other:?}"),
        }
    }
    assert!(matches!(
        install.actions[0],
        Action::Install {
            part: Part::Client,
            ..
        }
    ));
}

#[test]
fn trap_8_work_is_handed_to_clients() {
    let mut cluster = cluster();
    cluster.upsert(row(
        node("head"),
        "slurm",
        Some(Stage::RunScriptPostImage),
        Stage::Finished,
    ));
    cluster.upsert(row(
        node("head"),
        "munge",
        Some(Stage::Finished),
        Stage::Finished,
    ));
    let server = cluster.row(&node("head"), &opkg("slurm")).unwrap().clone();
    let work = work(cluster.decide(&server, NOW).unwrap());
    assert_eq!(work.actions.last(), Some(&Action::AssignClients));
    for change in cluster.assign_clients(&opkg("slurm")) {
        cluster.apply(&change);
    }
    for name in ["n1", "n2"] {
        let client = cluster.row(&node(name), &opkg("slurm")).unwrap();
        assert_eq!(client.requested, Stage::Finished);
        // The client's agent now has work (after its dependency's row).
        let decision = cluster.decide(client, NOW).unwrap();
        assert!(
            matches!(decision, Decision::Blocked(Blocked::Dependency { ref package, .. }) if package.as_str() == "munge"),
            "{decision}"
        );
    }
}

#[test]
fn trap_9_there_is_an_uninstall_path_for_every_role() {
    for role in roles() {
        let installed = row(
            role_target(&role),
            "slurm",
            Some(Stage::Finished),
            Stage::ShouldNotBeInstalled,
        );
        let work = work(decide(
            &installed,
            &Context::new(role.clone(), Phase::Complete, NOW),
        ));
        assert!(work.is_uninstall());
        assert!(work.to_string().starts_with("uninstall: "));
        assert!(
            work.actions
                .iter()
                .any(|action| matches!(action, Action::Remove { .. }))
        );
    }
}

// ---- what the simulator found: stale leases and unfinished attempts ----

#[test]
fn an_expired_lease_on_a_row_with_nothing_left_to_do_is_released() {
    let mut crashed = row(
        node("head"),
        "slurm",
        Some(Stage::Finished),
        Stage::Finished,
    );
    crashed.status = Status::Running {
        lease: Lease {
            owner: "opm run pid 9 on head".into(),
            token: 3,
            expires_at_ms: NOW - 1,
        },
    };
    let decision = decide(
        &crashed,
        &Context::new(RowRole::Server, Phase::Complete, NOW),
    );
    assert_eq!(
        decision,
        Decision::Release {
            owner: "opm run pid 9 on head".into()
        }
    );
    assert_eq!(
        decision.to_string(),
        "release: the interrupted attempt of opm run pid 9 on head is no longer needed"
    );
}

#[test]
fn a_failed_first_install_is_still_uninstalled_from_the_bottom() {
    // opkg-slurm went in, api-pre-install failed: current stayed at 1.
    let removed = row(
        node("head"),
        "slurm",
        Some(Stage::ShouldNotBeInstalled),
        Stage::ShouldNotBeInstalled,
    );
    let mut ctx = Context::new(RowRole::Server, Phase::Complete, NOW);
    assert!(matches!(decide(&removed, &ctx), Decision::Idle(_)));
    ctx.unfinished = Some(Unfinished::Up);
    let work = work(decide(&removed, &ctx));
    assert!(work.is_uninstall());
    assert_eq!(described(&work), server_uninstall_actions());
}

#[test]
fn a_cut_short_uninstall_is_finished_before_climbing_again() {
    // The uninstall removed opkg-slurm-client and then failed; the opkg is
    // requested again: the parts still counted by current may be gone.
    let back = row(node("n1"), "slurm", Some(Stage::Finished), Stage::Finished);
    let mut ctx = Context::new(RowRole::Client, Phase::Complete, NOW);
    ctx.unfinished = Some(Unfinished::Uninstall);
    // A dependent does not hold it back: the opkg is coming back.
    ctx.dependents = vec![row(
        node("n1"),
        "app",
        Some(Stage::Finished),
        Stage::Finished,
    )];
    let client_work = work(decide(&back, &ctx));
    assert!(client_work.is_uninstall());
    assert_eq!(
        described(&client_work),
        [
            "run client-pre-uninstall",
            "remove opkg-slurm-client from this machine's root",
            "run client-post-uninstall"
        ]
    );
    // A server finishing its uninstall does not fan out: it is coming back.
    let server = row(
        node("head"),
        "slurm",
        Some(Stage::Finished),
        Stage::Finished,
    );
    let mut ctx = server_context_with(
        vec![row(
            node("n1"),
            "slurm",
            Some(Stage::Finished),
            Stage::Finished,
        )],
        Vec::new(),
    );
    ctx.unfinished = Some(Unfinished::Uninstall);
    assert_eq!(
        described(&work(decide(&server, &ctx))),
        server_uninstall_actions()
    );
}

fn cluster_with_base_and_app_installed() -> Cluster {
    let mut cluster = cluster();
    cluster
        .depends_on
        .insert(opkg("app"), [opkg("slurm")].into_iter().collect());
    for package in ["munge", "slurm", "app"] {
        for target in [node("head"), node("n1"), node("n2"), image_target("img")] {
            cluster.upsert(row(target, package, Some(Stage::Finished), Stage::Finished));
        }
    }
    cluster
}

#[test]
fn remove_requests_are_refused_while_a_dependent_is_on_the_server() {
    let cluster = cluster_with_base_and_app_installed();
    // slurm depends on munge, app on slurm: both are named, transitively.
    assert_eq!(
        cluster.remove_requests(&opkg("munge"), false),
        Err(vec![opkg("slurm")])
    );
    let changes = cluster.remove_requests(&opkg("munge"), true).unwrap();
    let packages: BTreeSet<&str> = changes.iter().map(|c| c.package.as_str()).collect();
    assert_eq!(packages, BTreeSet::from(["munge", "slurm", "app"]));
    // Every row of each: head, both nodes and the image.
    assert_eq!(changes.len(), 12);
    assert!(
        changes
            .iter()
            .all(|c| c.requested == Stage::ShouldNotBeInstalled && !c.create)
    );
    let app_only = cluster.remove_requests(&opkg("app"), false).unwrap();
    assert_eq!(app_only.len(), 4);
}

#[test]
fn install_requests_cover_head_and_images_and_nodes_once_assigned() {
    let mut cluster = cluster();
    let changes = cluster.install_requests(&opkg("slurm"));
    assert_eq!(
        changes,
        [node("head"), image_target("img")].map(|target| RequestChange {
            target,
            package: opkg("slurm"),
            requested: Stage::Finished,
            create: true,
        })
    );
    // The server is already past run-script-post-clients (being removed
    // when installed again): the nodes are assigned now.
    cluster.upsert(row(
        node("head"),
        "slurm",
        Some(Stage::Finished),
        Stage::ShouldNotBeInstalled,
    ));
    let changes = cluster.install_requests(&opkg("slurm"));
    let targets: Vec<Target> = changes.iter().map(|c| c.target.clone()).collect();
    assert_eq!(
        targets,
        [node("head"), image_target("img"), node("n1"), node("n2")]
    );
}

#[test]
fn an_orchestration_decision_prints_one_line() {
    let server = row(
        node("head"),
        "slurm",
        Some(Stage::Finished),
        Stage::ShouldNotBeInstalled,
    );
    let ctx = server_context_with(
        vec![row(
            node("n1"),
            "slurm",
            Some(Stage::Finished),
            Stage::Finished,
        )],
        Vec::new(),
    );
    assert_eq!(
        decide(&server, &ctx).to_string(),
        "orchestrate: request should_not_be_installed on node n1 / slurm"
    );
}

// ---- SPEC §1.9: versions, upgrades, pins, drift ----

fn at_version(mut row: Row, reached: &str) -> Row {
    row.version = RowVersion {
        reached: Some(reached.to_owned()),
        work: Some(reached.to_owned()),
        upgrade_from: None,
    };
    row
}

/// A row as the store's `start_upgrades` leaves it: set back before
/// install-bin-pkgs, working towards `to`, from `from`.
fn upgrading(target: Target, from: &str, to: &str) -> Row {
    let mut row = row(
        target,
        "slurm",
        Some(Stage::RunConfigurator),
        Stage::Finished,
    );
    row.version = RowVersion {
        reached: Some(from.to_owned()),
        work: Some(to.to_owned()),
        upgrade_from: Some(from.to_owned()),
    };
    row
}

#[test]
fn s1_9_a_finished_row_behind_the_wanted_version_is_upgraded() {
    let finished = at_version(
        row(node("n1"), "slurm", Some(Stage::Finished), Stage::Finished),
        "1:3.1-2",
    );
    assert_eq!(
        upgrade_verdict(&finished, Some("1:3.2-1"), false),
        UpgradeVerdict::Start {
            from: "1:3.1-2".into(),
            to: "1:3.2-1".into(),
            downgrade: false
        }
    );
    assert_eq!(
        upgrade_verdict(&finished, Some("1:3.1-2"), false),
        UpgradeVerdict::UpToDate {
            version: "1:3.1-2".into()
        }
    );
    // Versions compare as dpkg does, not as text.
    assert!(matches!(
        upgrade_verdict(&finished, Some("1:3.10-1"), false),
        UpgradeVerdict::Start { .. }
    ));
}

#[test]
fn s1_9_a_downgrade_is_refused_unless_allowed() {
    let finished = at_version(
        row(
            node("head"),
            "slurm",
            Some(Stage::Finished),
            Stage::Finished,
        ),
        "1:3.2-1",
    );
    let refused = upgrade_verdict(&finished, Some("1:3.1-2"), false);
    assert_eq!(
        refused,
        UpgradeVerdict::Downgrade {
            from: "1:3.2-1".into(),
            to: "1:3.1-2".into()
        }
    );
    assert_eq!(
        refused.to_string(),
        "refused: 1:3.1-2 is older than 1:3.2-1; a downgrade needs --allow-downgrade \
         (or opm opkg unpin)"
    );
    assert_eq!(
        upgrade_verdict(&finished, Some("1:3.1-2"), true),
        UpgradeVerdict::Start {
            from: "1:3.2-1".into(),
            to: "1:3.1-2".into(),
            downgrade: true
        }
    );
}

#[test]
fn s1_9_the_wanted_version_is_the_pin_or_the_newest_import() {
    let imported = ["1:3.1-2", "1:3.2-1", "1:3.10-1"];
    assert_eq!(version::wanted(imported, None), Some("1:3.10-1"));
    assert_eq!(version::wanted(imported, Some("1:3.1-2")), Some("1:3.1-2"));
    // Pinned at the version a row has: nothing to upgrade.
    let finished = at_version(
        row(node("n1"), "slurm", Some(Stage::Finished), Stage::Finished),
        "1:3.1-2",
    );
    assert!(matches!(
        upgrade_verdict(&finished, version::wanted(imported, Some("1:3.1-2")), false),
        UpgradeVerdict::UpToDate { .. }
    ));
}

#[test]
fn s1_9_rows_that_are_not_at_rest_and_finished_are_skipped_with_a_reason() {
    let base = at_version(
        row(node("n1"), "slurm", Some(Stage::Finished), Stage::Finished),
        "1.0-1",
    );
    let mut error = base.clone();
    error.status = Status::Error {
        message: "boom".into(),
    };
    let mut drifted = base.clone();
    drifted.status = Status::Drifted {
        message: "opkg-slurm-client is missing".into(),
    };
    let mut running = base.clone();
    running.status = Status::Running {
        lease: Lease {
            owner: "agent".into(),
            token: 1,
            expires_at_ms: NOW,
        },
    };
    let mut climbing = base.clone();
    climbing.current = Some(Stage::InstallBinPkgs);
    let mut unversioned = base.clone();
    unversioned.version = RowVersion::default();
    let cases = [
        (error, UpgradeSkip::Error),
        (drifted, UpgradeSkip::Drifted),
        (running, UpgradeSkip::Running),
        (
            climbing,
            UpgradeSkip::NotFinished {
                current: Some(Stage::InstallBinPkgs),
                requested: Stage::Finished,
            },
        ),
        (
            upgrading(node("n1"), "0.9-1", "1.0-1"),
            UpgradeSkip::Upgrading {
                from: "0.9-1".into(),
                to: "1.0-1".into(),
            },
        ),
        (unversioned, UpgradeSkip::NoVersion),
    ];
    for (row, skip) in cases {
        assert_eq!(
            upgrade_verdict(&row, Some("2.0-1"), true),
            UpgradeVerdict::Skip(skip),
            "{row}"
        );
    }
}

#[test]
fn s1_9_the_upgrade_runs_install_bin_pkgs_again_and_the_head_upgrades_its_api_package_first() {
    let server = upgrading(node("head"), "1.0-1", "2.0-1");
    let upgrade = work(decide(
        &server,
        &Context::new(RowRole::Server, Phase::Complete, NOW),
    ));
    assert_eq!(upgrade.stage, Stage::InstallBinPkgs);
    assert_eq!(upgrade.upgrade(), Some(("1.0-1", "2.0-1")));
    assert_eq!(upgrade.version.as_deref(), Some("2.0-1"));
    assert_eq!(
        described(&upgrade),
        [
            "install opkg-slurm into this machine's root",
            "install opkg-slurm-server into this machine's root",
            "run server-post-install",
        ]
    );
    assert_eq!(
        upgrade.to_string(),
        "perform install-bin-pkgs (upgrade from 1.0-1 to 2.0-1): install opkg-slurm into \
         this machine's root, install opkg-slurm-server into this machine's root, \
         run server-post-install"
    );
    // Nodes and images upgrade their client part only; nothing is removed.
    for role in [RowRole::Client, RowRole::Image(image_ref("img"))] {
        let row = upgrading(role_target(&role), "1.0-1", "2.0-1");
        let client = work(decide(
            &row,
            &Context::new(role.clone(), Phase::Complete, NOW),
        ));
        assert_eq!(
            described(&client),
            expected_actions(&role, Stage::InstallBinPkgs)
        );
        assert!(
            !client
                .actions
                .iter()
                .any(|action| matches!(action, Action::Remove { .. })),
            "{role:?}: an upgrade never removes first"
        );
    }
}

#[test]
fn s1_9_the_later_stages_run_again_with_the_usual_gates_and_carry_the_upgrade() {
    let mut server = upgrading(node("head"), "1.0-1", "2.0-1");
    server.current = Some(Stage::RunScriptPostImage);
    server.version.reached = Some("2.0-1".into());
    let work = work(decide(
        &server,
        &Context::new(RowRole::Server, Phase::Complete, NOW),
    ));
    assert_eq!(work.stage, Stage::RunScriptPostClients);
    assert_eq!(work.upgrade(), Some(("1.0-1", "2.0-1")));
    assert_eq!(
        described(&work),
        expected_actions(&RowRole::Server, Stage::RunScriptPostClients)
    );
    // Gates still hold during an upgrade.
    assert!(matches!(
        blocked(decide(
            &server,
            &Context::new(RowRole::Server, Phase::Netboot, NOW)
        )),
        Blocked::Gate { .. }
    ));
}

#[test]
fn s1_9_the_server_post_image_of_an_upgrade_waits_for_the_images_upgrade() {
    let mut server = upgrading(node("head"), "1.0-1", "2.0-1");
    server.current = Some(Stage::InstallBinPkgs);
    let mut context = Context::new(RowRole::Server, Phase::Complete, NOW);
    context.images = vec![ImageRow {
        image: image_ref("img"),
        row: upgrading(image_target("img"), "1.0-1", "2.0-1"),
    }];
    assert!(matches!(
        blocked(decide(&server, &context)),
        Blocked::Image { .. }
    ));
}

#[test]
fn s1_9_an_opkg_upgrades_after_the_opkgs_it_depends_on() {
    // `opm upgrade app` covers base, which app depends on.
    let depends_on = BTreeMap::from([(opkg("app"), BTreeSet::from([opkg("base")]))]);
    assert_eq!(
        with_dependencies(&BTreeSet::from([opkg("app")]), &depends_on),
        BTreeSet::from([opkg("app"), opkg("base")])
    );
    // Both set back: app's install-bin-pkgs waits for base's.
    let mut app = upgrading(node("n1"), "1.0-1", "2.0-1");
    app.package = opkg("app");
    let mut base = upgrading(node("n1"), "1.0-1", "2.0-1");
    base.package = opkg("base");
    let mut context = Context::new(RowRole::Client, Phase::Complete, NOW);
    context.dependencies = vec![Dependency {
        package: opkg("base"),
        row: Some(base.clone()),
    }];
    assert!(matches!(
        blocked(decide(&app, &context)),
        Blocked::Dependency { ref package, stage: Stage::InstallBinPkgs, .. } if *package == opkg("base")
    ));
    base.current = Some(Stage::Finished);
    base.version = base
        .version
        .after_pass(Stage::Finished, Stage::Finished, None);
    context.dependencies[0].row = Some(base);
    assert_eq!(work(decide(&app, &context)).stage, Stage::InstallBinPkgs);
}

#[test]
fn s1_9_a_crash_mid_upgrade_resumes_the_upgrade_and_says_so() {
    // install-bin-pkgs passed at the new version, then the process died in
    // post-image: the row still says where it came from and what it runs.
    let mut server = upgrading(node("head"), "1.0-1", "2.0-1");
    server.current = Some(Stage::InstallBinPkgs);
    server.version =
        server
            .version
            .after_pass(Stage::InstallBinPkgs, Stage::Finished, Some("2.0-1"));
    assert_eq!(server.version.reached.as_deref(), Some("2.0-1"));
    assert_eq!(server.version.upgrade(), Some(("1.0-1", "2.0-1")));
    server.status = Status::Running {
        lease: Lease {
            owner: "opm run pid 1 on head".into(),
            token: 3,
            expires_at_ms: NOW - 1,
        },
    };
    let again = work(decide(
        &server,
        &Context::new(RowRole::Server, Phase::Complete, NOW),
    ));
    assert_eq!(again.stage, Stage::RunScriptPostImage);
    assert!(again.interrupted);
    assert_eq!(again.upgrade(), Some(("1.0-1", "2.0-1")));
    // At its request, the upgrade is over.
    let done = server
        .version
        .after_pass(Stage::Finished, Stage::Finished, None);
    assert_eq!(done.upgrade(), None);
    assert_eq!(done.reached.as_deref(), Some("2.0-1"));
}

#[test]
fn s1_9_a_drifted_row_is_not_finished_and_waits_for_a_repair() {
    let mut drifted = row(node("n1"), "slurm", Some(Stage::Finished), Stage::Finished);
    drifted.status = Status::Drifted {
        message: "opkg-slurm-client is not installed".into(),
    };
    assert!(drifted.is_pending());
    let decision = decide(
        &drifted,
        &Context::new(RowRole::Client, Phase::Complete, NOW),
    );
    assert_eq!(
        decision.to_string(),
        "blocked: drifted, waiting for a repair (opm repair): opkg-slurm-client is not installed"
    );
}

#[test]
fn s1_9_an_uninstall_forgets_the_version_and_a_new_row_works_towards_the_wanted_one() {
    let reached = RowVersion {
        reached: Some("2.0-1".into()),
        work: Some("2.0-1".into()),
        upgrade_from: None,
    };
    assert_eq!(
        reached.after_pass(
            Stage::ShouldNotBeInstalled,
            Stage::ShouldNotBeInstalled,
            None
        ),
        RowVersion::default()
    );
    let mut cluster = Cluster::new(Name::new(NameKind::Node, "head").unwrap(), Phase::Complete);
    cluster.wanted.insert(opkg("slurm"), "2.0-1".into());
    cluster.apply(&RequestChange {
        target: node("head"),
        package: opkg("slurm"),
        requested: Stage::Finished,
        create: true,
    });
    let created = cluster.row(&node("head"), &opkg("slurm")).unwrap();
    assert_eq!(created.version.work.as_deref(), Some("2.0-1"));
    assert_eq!(created.version.reached, None);
}

/// The late-assignment rule (SPEC §1.4) over every phase and head-row
/// state: a joining node gets a row only for an opkg installed on the
/// head node, selected for one of its groups, once its client work was
/// assigned (the head row passed run-script-post-clients, or the cluster
/// is complete).
#[test]
fn a_late_node_gets_rows_only_for_assigned_opkgs_of_its_groups() {
    type Case = (Phase, Option<Stage>, Stage, &'static [&'static str], bool);
    let cases: &[Case] = &[
        // phase, head row's current, head row's requested, node's groups, gets a row
        (
            Phase::Complete,
            Some(Stage::Finished),
            Stage::Finished,
            &["oscar_clients"],
            true,
        ),
        (
            Phase::Complete,
            Some(Stage::ShouldBeInstalled),
            Stage::Finished,
            &["oscar_clients"],
            true,
        ),
        (
            Phase::Complete,
            Some(Stage::Finished),
            Stage::Finished,
            &["gpu"],
            false,
        ),
        (
            Phase::Complete,
            Some(Stage::Finished),
            Stage::ShouldNotBeInstalled,
            &["oscar_clients"],
            false,
        ),
        (
            Phase::SetupWizard,
            Some(Stage::RunScriptPostClients),
            Stage::Finished,
            &["oscar_clients"],
            true,
        ),
        (
            Phase::SetupWizard,
            Some(Stage::RunScriptPostImage),
            Stage::Finished,
            &["oscar_clients"],
            false,
        ),
        (
            Phase::SetupWizard,
            None,
            Stage::Finished,
            &["oscar_clients"],
            false,
        ),
        (
            Phase::SetupWizard,
            Some(Stage::Finished),
            Stage::Finished,
            &["gpu", "oscar_clients"],
            true,
        ),
    ];
    for (phase, current, requested, node_groups, gets) in cases {
        let mut cluster = cluster();
        cluster.phase = *phase;
        cluster.upsert(row(node("head"), "slurm", *current, *requested));
        cluster.nodes.insert(
            Name::new(NameKind::Node, "n9").unwrap(),
            groups(node_groups),
        );
        let changes = cluster.late_assignments(&Name::new(NameKind::Node, "n9").unwrap());
        let expected = if *gets {
            vec![RequestChange {
                target: node("n9"),
                package: opkg("slurm"),
                requested: Stage::Finished,
                create: true,
            }]
        } else {
            Vec::new()
        };
        assert_eq!(
            changes, expected,
            "{phase:?} {current:?} {requested:?} {node_groups:?}"
        );
    }
}

/// An image added later gets `finished` rows for exactly the opkgs
/// requested `finished` on the head node.
#[test]
fn a_late_image_gets_the_head_nodes_installed_opkgs() {
    let mut cluster = cluster();
    cluster.upsert(row(
        node("head"),
        "slurm",
        Some(Stage::Finished),
        Stage::Finished,
    ));
    cluster.upsert(row(node("head"), "munge", None, Stage::Finished));
    cluster.upsert(row(
        node("head"),
        "gone",
        Some(Stage::Finished),
        Stage::ShouldNotBeInstalled,
    ));
    cluster.upsert(row(
        node("n1"),
        "other",
        Some(Stage::Finished),
        Stage::Finished,
    ));
    let late = Name::new(NameKind::Image, "late").unwrap();
    let packages: Vec<String> = cluster
        .image_rows(&late)
        .iter()
        .map(|change| {
            assert_eq!(change.target, image_target("late"));
            assert_eq!(change.requested, Stage::Finished);
            assert!(change.create);
            change.package.to_string()
        })
        .collect();
    assert_eq!(packages, ["munge", "slurm"]);
}
