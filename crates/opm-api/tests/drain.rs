//! The server's drain runtime on a real SQLite store with real commands:
//! a command that cannot run (a missing program) is a clear error for the
//! rows and stores nothing; a drain opm asked for is given back when the
//! scheduler cannot be asked; a resume that fails keeps the drain, to be
//! tried again, and loses nothing.

// Test code: temp dirs, fixed fixtures.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use opm_api::drain::{DrainConfig, Drains, Gate};
use opm_model::{DrainState, Name, NameKind};
use opm_plan::drain::NodeWork;
use opm_store::{NewNode, OpenMode, SqliteStore, Store};

const PACKAGES: NodeWork = NodeWork {
    changes_packages: true,
    any: true,
    running: false,
};
const NOTHING: NodeWork = NodeWork {
    changes_packages: false,
    any: false,
    running: false,
};

async fn store_with_n1(dir: &Path) -> (SqliteStore, Name) {
    let store = SqliteStore::open(&dir.join("opm.db"), OpenMode::Create)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let n1 = Name::new(NameKind::Node, "n1").unwrap();
    store
        .add_node(&NewNode {
            name: n1.clone(),
            groups: Vec::new(),
            image: None,
        })
        .await
        .unwrap();
    (store, n1)
}

fn config(drain: &str, drained: &str, resume: &str) -> DrainConfig {
    DrainConfig {
        drain: drain.parse().unwrap(),
        drained: drained.parse().unwrap(),
        resume: resume.parse().unwrap(),
        timeout: Duration::from_secs(3600),
    }
}

#[tokio::test]
async fn a_missing_program_is_a_clear_row_error_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, n1) = store_with_n1(dir.path()).await;
    // drained_command missing: opm cannot tell, and says so.
    let drains = Drains::new(Some(config("true", "/nonexistent/sinfo %n", "true")));
    let Gate::Fail(message) = drains.gate(&store, &n1, PACKAGES, 10).await.unwrap() else {
        panic!("a missing drained_command must fail the rows");
    };
    assert!(
        message
            .starts_with("cannot ask whether n1 is drained: '/nonexistent/sinfo n1' cannot run: "),
        "{message}"
    );
    assert!(message.ends_with("fix the drain settings in opm.toml if needed, then 'opm retry'"));
    assert_eq!(store.node_drain(&n1).await.unwrap(), None);
    // drain_command missing: the same, naming it.
    let drains = Drains::new(Some(config("/nonexistent/scontrol %n", "false", "true")));
    let Gate::Fail(message) = drains.gate(&store, &n1, PACKAGES, 20).await.unwrap() else {
        panic!("a missing drain_command must fail the rows");
    };
    assert!(
        message
            .starts_with("cannot drain n1: drain_command '/nonexistent/scontrol n1' cannot run: "),
        "{message}"
    );
    assert_eq!(store.node_drain(&n1).await.unwrap(), None);
    assert!(!drains.is_waiting(&n1));
}

#[tokio::test]
async fn a_drain_opm_asked_for_is_given_back_when_the_scheduler_cannot_be_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (store, n1) = store_with_n1(dir.path()).await;
    let resumed = dir.path().join("resumed");
    let resume = format!("touch {}", resumed.display());
    store
        .set_node_drain(&n1, DrainState::Draining { since_ms: 5 }, 5)
        .await
        .unwrap();
    let drains = Drains::new(Some(config("true", "/nonexistent/sinfo", &resume)));
    let Gate::Fail(message) = drains.gate(&store, &n1, PACKAGES, 10).await.unwrap() else {
        panic!("a missing drained_command must fail the rows");
    };
    assert!(
        message.starts_with("cannot ask whether n1 is drained"),
        "{message}"
    );
    assert!(resumed.exists());
    assert_eq!(store.node_drain(&n1).await.unwrap(), None);
}

#[tokio::test]
async fn a_failed_resume_keeps_the_drain_and_is_tried_again() {
    let dir = tempfile::tempdir().unwrap();
    let (store, n1) = store_with_n1(dir.path()).await;
    // The scheduler: drained once `drained` exists; resuming fails while
    // `broken` exists.
    let file = |name: &str| dir.path().join(name).display().to_string();
    let drains = Drains::new(Some(config(
        &format!("touch {}", file("drained")),
        &format!("test -e {}", file("drained")),
        &format!(
            "sh -c 'test ! -e {} && rm {}'",
            file("broken"),
            file("drained")
        ),
    )));
    assert_eq!(
        drains.gate(&store, &n1, PACKAGES, 10).await.unwrap(),
        Gate::Closed
    );
    assert!(drains.is_waiting(&n1));
    assert_eq!(
        drains.gate(&store, &n1, PACKAGES, 20).await.unwrap(),
        Gate::Open
    );
    assert!(!drains.is_waiting(&n1));
    assert_eq!(
        store.node_drain(&n1).await.unwrap(),
        Some(DrainState::Drained { ours: true })
    );
    // The work is over, but the scheduler refuses the resume: the node's
    // drain is kept (nothing to hand out anyway), and the next look
    // resumes it.
    std::fs::write(file("broken"), "").unwrap();
    assert_eq!(
        drains.gate(&store, &n1, NOTHING, 30).await.unwrap(),
        Gate::Open
    );
    assert_eq!(
        store.node_drain(&n1).await.unwrap(),
        Some(DrainState::Drained { ours: true })
    );
    std::fs::remove_file(file("broken")).unwrap();
    assert_eq!(
        drains.gate(&store, &n1, NOTHING, 40).await.unwrap(),
        Gate::Open
    );
    assert_eq!(store.node_drain(&n1).await.unwrap(), None);
    assert!(!Path::new(&file("drained")).exists());
}
