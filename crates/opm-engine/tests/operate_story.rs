//! One operator's story through `opm_engine::operate`'s [`Operator`] seam
//! (the local implementation), on SQLite and on PostgreSQL: nodes,
//! images, install, the late node's and late image's rows, requests and
//! their refusals (a conflict among them, changing nothing), filtered
//! views, the phase, retry and rerun refusals, config and history. The
//! same operations through a real `opm server` are the `opm` crate's
//! `operator_seam` test.

// Test code: fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use opm_engine::ManualClock;
use opm_engine::load::Identity;
use opm_engine::operate::{Actor, Local, OperateError, Operator, PlanScope};
use opm_model::api::{
    ConfigQuery, HistoryQuery, ImageAddBody, InstallBody, NodeAddBody, PhaseBody, RemoveBody,
    RequestBody, RerunBody, RetryBody, RowFilter,
};
use opm_model::{Name, NameKind, Phase, Role, Stage, Target};
use opm_store::{OpenMode, OpkgImport, PostgresStore, SqliteStore, Store};

fn name(kind: NameKind, text: &str) -> Name {
    Name::new(kind, text).unwrap()
}

fn opkg(text: &str) -> Name {
    name(NameKind::Opkg, text)
}

fn import(package: &str, depends: &[&str], conflicts: &[&str]) -> OpkgImport {
    OpkgImport {
        name: opkg(package),
        version: "1.0-1".to_owned(),
        summary: format!("the {package} package"),
        source: format!("/nonexistent/{package}"),
        depends: depends.iter().map(|d| opkg(d)).collect(),
        conflicts: conflicts.iter().map(|c| opkg(c)).collect(),
    }
}

fn operator<S: Store>(store: S) -> Local<S> {
    Local {
        store: Arc::new(store),
        clock: Arc::new(ManualClock::at(1_795_000_000_000)),
        scope: Some(PlanScope {
            identity: Identity {
                role: Role::Server,
                name: name(NameKind::Node, "head"),
            },
            host: "test-host".to_owned(),
            proc_dir: "/nonexistent".into(),
        }),
        actor: Actor("alice".to_owned()),
    }
}

fn refused<T: std::fmt::Debug>(outcome: Result<T, OperateError>, needle: &str) {
    let error = outcome.unwrap_err();
    assert!(error.is_bad_input(), "{error:?}");
    assert!(error.to_string().contains(needle), "{needle:?} in {error}");
}

async fn story<S: Store>(op: &Local<S>) {
    let store = op.store.as_ref();
    for opkg in [
        import("base", &[], &[]),
        import("slurm", &["base"], &[]),
        import("torque", &[], &["slurm"]),
    ] {
        store.import_opkg(&opkg, 1).await.unwrap();
    }
    let n1 = name(NameKind::Node, "n1");
    let added = op
        .add_node(&NodeAddBody {
            name: n1.clone(),
            groups: Vec::new(),
            image: None,
        })
        .await
        .unwrap();
    assert_eq!(added.groups, [name(NameKind::Group, "oscar_clients")]);
    assert!(added.requests.is_empty());

    let outcome = op
        .install(&InstallBody {
            rollout: opm_model::RolloutPolicy::default(),
            packages: vec![opkg("slurm")],
            group: None,
            dry_run: false,
        })
        .await
        .unwrap();
    assert_eq!(outcome.changes.len(), 1);
    assert_eq!(outcome.changes[0].target, "head");
    assert!(
        outcome.warnings[0].contains("slurm depends on base"),
        "{outcome:?}"
    );
    op.install(&InstallBody {
        rollout: opm_model::RolloutPolicy::default(),
        packages: vec![opkg("base")],
        group: None,
        dry_run: false,
    })
    .await
    .unwrap();

    // Refusals change nothing.
    let before = op.status(&RowFilter::default()).await.unwrap();
    refused(
        op.request(&RequestBody {
            target: None,
            group: None,
            server: true,
            package: opkg("torque"),
            stage: Stage::Finished,
            dry_run: false,
        })
        .await,
        "torque conflicts with slurm",
    );
    refused(
        op.request(&RequestBody {
            target: None,
            group: Some(name(NameKind::Group, "gpu")),
            server: false,
            package: opkg("torque"),
            stage: Stage::Finished,
            dry_run: false,
        })
        .await,
        "group 'gpu' has no nodes",
    );
    refused(
        op.remove(&RemoveBody {
            rollout: opm_model::RolloutPolicy::default(),
            packages: vec![opkg("base")],
            with_dependents: false,
            dry_run: false,
        })
        .await,
        "cannot remove base",
    );
    refused(
        op.retry(&RetryBody {
            target: Target::node(n1.clone()),
            package: opkg("nosuch"),
            reason: String::new(),
            whole_stage: false,
        })
        .await,
        "unknown opkg 'nosuch'",
    );
    refused(
        op.rerun(&RerunBody {
            rollout: opm_model::RolloutPolicy::default(),
            target: Target::node(name(NameKind::Node, "ghost")),
            package: opkg("base"),
            from: Stage::Finished,
        })
        .await,
        "ghost",
    );
    refused(
        op.config_show(&ConfigQuery {
            package: opkg("nosuch"),
            image: None,
        })
        .await,
        "unknown opkg",
    );
    refused(
        op.status(&RowFilter {
            node: Some(name(NameKind::Node, "ghost")),
            ..RowFilter::default()
        })
        .await,
        "unknown node 'ghost'",
    );
    assert_eq!(op.status(&RowFilter::default()).await.unwrap(), before);

    // Once the cluster is complete a late node and a late image get their
    // rows at once.
    let set = op
        .set_phase(&PhaseBody {
            phase: Phase::Complete,
            dry_run: false,
        })
        .await
        .unwrap();
    assert_eq!(set.previous, Phase::SetupWizard);
    assert!(set.warning.unwrap().contains("skips build_image"));
    assert_eq!(op.phase().await.unwrap().phase, Phase::Complete);
    let late = op
        .add_node(&NodeAddBody {
            name: name(NameKind::Node, "n2"),
            groups: vec![name(NameKind::Group, "oscar_clients")],
            image: None,
        })
        .await
        .unwrap();
    let packages: Vec<&str> = late.requests.iter().map(|r| r.package.as_str()).collect();
    assert_eq!(packages, ["base", "slurm"]);
    let root = tempfile::tempdir().unwrap();
    let image = op
        .add_image(&ImageAddBody {
            name: name(NameKind::Image, "img"),
            path: root.path().display().to_string(),
        })
        .await
        .unwrap();
    assert_eq!(image.requests.len(), 2);
    assert_eq!(op.images().await.unwrap().len(), 1);
    assert_eq!(op.nodes().await.unwrap().len(), 3);

    // Filtered views.
    let on_n2 = op
        .status(&RowFilter {
            node: Some(name(NameKind::Node, "n2")),
            ..RowFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(on_n2.len(), 2);
    let slurm = op
        .status(&RowFilter {
            package: Some(opkg("slurm")),
            ..RowFilter::default()
        })
        .await
        .unwrap();
    assert!(slurm.iter().all(|row| row.package == "slurm"));
    assert_eq!(slurm.len(), 3, "{slurm:#?}");
    let errors = op
        .status(&RowFilter {
            errors: true,
            ..RowFilter::default()
        })
        .await
        .unwrap();
    assert!(errors.is_empty());
    let mut lines = Vec::new();
    op.plan_each(
        &RowFilter {
            image: Some(name(NameKind::Image, "img")),
            ..RowFilter::default()
        },
        &mut |line| {
            lines.push(line);
            Ok(())
        },
    )
    .await
    .unwrap();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|line| line.kind == "image"), "{lines:#?}");

    // Removal fans out to every row; a dry run says exactly which rows
    // and changes nothing; the node and image go.
    let body = RemoveBody {
        rollout: opm_model::RolloutPolicy::default(),
        packages: vec![opkg("base")],
        with_dependents: true,
        dry_run: true,
    };
    let before = op.status(&RowFilter::default()).await.unwrap();
    let would = op.remove(&body).await.unwrap();
    assert!(would.dry_run);
    assert_eq!(op.status(&RowFilter::default()).await.unwrap(), before);
    let removed = op
        .remove(&RemoveBody {
            rollout: opm_model::RolloutPolicy::default(),
            dry_run: false,
            ..body
        })
        .await
        .unwrap();
    assert_eq!(removed.changes, would.changes);
    assert!(removed.changes.len() >= 4, "{removed:#?}");
    op.remove_image(&name(NameKind::Image, "img"))
        .await
        .unwrap();
    let n2 = name(NameKind::Node, "n2");
    let would = op.remove_node(&n2, true).await.unwrap();
    assert_eq!(would.rows.len(), 2);
    assert_eq!(op.nodes().await.unwrap().len(), 3);
    op.remove_node(&n1, false).await.unwrap();
    refused(op.remove_node(&n1, false).await, "n1");
    refused(
        op.remove_node(&name(NameKind::Node, "head"), true).await,
        "head",
    );
    // Requests are not attempts: nothing ran, so history has no entry.
    let history = op.history(&HistoryQuery::default()).await.unwrap();
    assert!(history.iter().all(|line| line.event != "attempt"));

    // The audit trail: every action that changed something, with who
    // asked; refusals and dry runs left no entry.
    let trail = store.audit_since(0).await.unwrap();
    assert!(
        trail.iter().all(|entry| entry.actor == "alice"),
        "{trail:?}"
    );
    let trail: Vec<String> = trail
        .iter()
        .map(|entry| format!("{} {}", entry.action.name(), entry.subject))
        .collect();
    assert!(trail[5].starts_with("image-add img at /"), "{trail:?}");
    assert_eq!(
        [&trail[..5], &trail[6..]].concat(),
        [
            "node-add n1",
            "install slurm",
            "install base",
            "phase complete",
            "node-add n2",
            "remove base",
            "image-remove img",
            "node-remove n1",
        ]
    );
}

#[tokio::test]
async fn the_operator_story_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("opm.db"), OpenMode::Create)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .register_head_node(&name(NameKind::Node, "head"))
        .await
        .unwrap();
    story(&operator(store)).await;
}

#[tokio::test]
async fn the_operator_story_on_postgres() {
    let Some(server) = opm_testkit::postgres() else {
        return;
    };
    let url = server.fresh_database().await.unwrap();
    let store = PostgresStore::open(&url, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    store
        .register_head_node(&name(NameKind::Node, "head"))
        .await
        .unwrap();
    story(&operator(store)).await;
}
