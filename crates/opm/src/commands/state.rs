//! What the state-changing commands share: the clock, a runtime for the
//! async store, and a snapshot of the whole cluster as an `opm-plan`
//! [`Cluster`], so `install`, `remove`, `request` and `node add` decide
//! their request changes with the same rules the engine runs by, check
//! them completely, and only then write.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use opm_model::{Name, Stage, Target};
use opm_plan::{Cluster, Conflicts, RequestChange, conflicts_on_target, holds_or_wants};
use opm_store::{Batch, Change, Opkg, SqliteStore, Store, StoredRow};

use crate::exit::bad_input;
use crate::settings::store_error;

/// Rows read per page when loading every row.
const PAGE: u32 = 1000;

/// Milliseconds since the epoch, read once per command at the edge.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs one command's async body on a single-threaded runtime: a CLI
/// call does one thing at a time against the store.
pub fn block_on<T>(body: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(body)
}

/// Every row, in id order.
pub async fn all_rows(store: &SqliteStore) -> anyhow::Result<Vec<StoredRow>> {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store.all_rows(after, PAGE).await.map_err(store_error)?;
        rows.extend(page.rows);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(rows),
        }
    }
}

/// The cluster as the planner sees it, plus the imported opkgs by name.
pub struct Snapshot {
    /// Rows, nodes, images, selections and dependencies.
    pub cluster: Cluster,
    /// The imported opkgs.
    pub opkgs: BTreeMap<Name, Opkg>,
}

impl Snapshot {
    /// Reads the whole state. Needs a registered head node.
    pub async fn load(store: &SqliteStore) -> anyhow::Result<Snapshot> {
        let nodes = store.nodes().await.map_err(store_error)?;
        let head = nodes.iter().find(|node| node.head).ok_or_else(|| {
            bad_input("the database has no head node; run 'opm init' on the head node")
        })?;
        let phase = store.phase().await.map_err(store_error)?;
        let mut cluster = Cluster::new(head.name.clone(), phase);
        for node in nodes.iter().filter(|node| !node.head) {
            cluster
                .nodes
                .insert(node.name.clone(), node.groups.iter().cloned().collect());
        }
        for image in store.images().await.map_err(store_error)? {
            cluster.images.insert(image.name, image.root);
        }
        let mut opkgs = BTreeMap::new();
        for opkg in store.opkgs().await.map_err(store_error)? {
            let name = opkg.import.name.clone();
            cluster
                .selections
                .insert(name.clone(), opkg.groups.iter().cloned().collect());
            cluster
                .depends_on
                .insert(name.clone(), opkg.import.depends.iter().cloned().collect());
            opkgs.insert(name, opkg);
        }
        for stored in all_rows(store).await? {
            cluster.upsert(stored.row);
        }
        Ok(Snapshot { cluster, opkgs })
    }

    /// The head node as a target.
    pub fn head(&self) -> Target {
        Target::node(self.cluster.head.clone())
    }

    /// The imported opkg `name`, or a bad-input error that says how to get it.
    pub fn opkg(&self, name: &Name) -> anyhow::Result<&Opkg> {
        self.opkgs.get(name).ok_or_else(|| {
            bad_input(format!(
                "unknown opkg '{name}'; import it first with 'opm opkg import'"
            ))
        })
    }

    fn conflicts_of(&self, name: &Name) -> Conflicts {
        Conflicts {
            package: name.clone(),
            with: self
                .opkgs
                .get(name)
                .map(|opkg| opkg.import.conflicts.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// Applies `changes` to the snapshot one by one, refusing the first that
    /// would request an opkg onto a target where a conflicting opkg is
    /// installed or requested (SPEC §1.4): the later request is the error.
    pub fn apply_checked(&mut self, changes: &[RequestChange]) -> anyhow::Result<()> {
        for change in changes {
            if change.requested > Stage::ShouldNotBeInstalled {
                let present: Vec<Conflicts> = self
                    .cluster
                    .rows_on(&change.target)
                    .filter(|row| holds_or_wants(row))
                    .map(|row| self.conflicts_of(&row.package))
                    .collect();
                let clash = conflicts_on_target(&self.conflicts_of(&change.package), &present);
                if let Some(other) = clash.first() {
                    return Err(bad_input(format!(
                        "{} conflicts with {other}, which is installed or requested on {}; \
                         remove {other} there first (nothing was changed)",
                        change.package, change.target
                    )));
                }
            }
            self.cluster.apply(change);
        }
        Ok(())
    }

    /// The compute nodes' groups, for membership questions.
    pub fn groups_of(&self, node: &Name) -> BTreeSet<Name> {
        self.cluster.nodes.get(node).cloned().unwrap_or_default()
    }
}

/// The store changes that carry out planner request changes.
pub fn requests(changes: &[RequestChange]) -> impl Iterator<Item = Change> + '_ {
    changes.iter().map(|change| Change::Request {
        target: change.target.clone(),
        opkg: change.package.clone(),
        stage: change.requested,
    })
}

/// Writes `changes` in one transaction: all of them or none.
pub async fn apply(store: &SqliteStore, changes: Vec<Change>) -> anyhow::Result<()> {
    store
        .apply(&Batch { changes }, now_ms())
        .await
        .map_err(store_error)
}
