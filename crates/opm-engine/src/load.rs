//! Loading what one pass looks at: the rows that need work in this
//! machine's scope, and only the related rows their decisions read, so a
//! pass over a converged cluster reads no row at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use opm_model::{Name, Role, Row, Stage, Status, Target, TargetKind};
use opm_plan::{Cluster, Unfinished};
use opm_store::{
    AttemptResult, AttemptTally, Image, Opkg, RowId, Scope, Store, StoreError, StoredRow,
};

use crate::owner::{Liveness, Owner};
use crate::retry::store_call;

/// Rows read per page of the pending query.
const PAGE: u32 = 1_000;

/// Rows read per page when the whole cluster is read: larger pages, fewer
/// round trips, and a page is still a few megabytes.
const CLUSTER_PAGE: u32 = 10_000;

/// Opkgs whose rows are read in one statement, so a pass over thousands
/// of opkgs with work makes a few reads, each of a bounded size.
const RELATED_PAGE: usize = 500;

/// Who runs the pass: the machine's role and name (from opm.conf).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// server, client or image.
    pub role: Role,
    /// The node's or image's name.
    pub name: Name,
}

/// What a pass decides over.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The cluster view the planner reads (pending rows and related rows).
    pub cluster: Cluster,
    /// The rows this machine works on, with their ids, in id order.
    pub mine: Vec<StoredRow>,
    /// Per row of `mine`: how many attempts of each stage history holds.
    pub attempts: BTreeMap<RowId, BTreeMap<Stage, u32>>,
    /// The opkgs each opkg depends on.
    pub depends_on: BTreeMap<Name, BTreeSet<Name>>,
}

impl Snapshot {
    /// The number the next attempt of `stage` on row `id` gets (1 for the
    /// first), by the attempts history holds.
    pub fn next_attempt(&self, id: RowId, stage: Stage) -> u32 {
        self.attempts
            .get(&id)
            .and_then(|counts| counts.get(&stage))
            .copied()
            .unwrap_or(0)
            + 1
    }

    /// Whether nothing in scope needs work (no pending row at all).
    pub fn is_empty(&self) -> bool {
        self.mine.is_empty()
    }
}

/// The targets whose rows this machine works on.
async fn scopes<S: Store>(store: &S, me: &Identity) -> Result<Vec<Target>, StoreError> {
    Ok(match me.role {
        Role::Server => {
            let mut targets = vec![Target::node(me.name.clone())];
            let images = store_call(|| store.images()).await?;
            targets.extend(images.into_iter().map(|image| Target::image(image.name)));
            targets
        }
        Role::Client => vec![Target::node(me.name.clone())],
        Role::Image => vec![Target::image(me.name.clone())],
    })
}

/// The pending rows of `target`, every page.
async fn pending_of<S: Store>(store: &S, target: &Target) -> Result<Vec<StoredRow>, StoreError> {
    let scope = Scope::Target(target.clone());
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store_call(|| store.pending_rows(&scope, after, PAGE)).await?;
        rows.extend(page.rows);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(rows),
        }
    }
}

/// A running row whose lease owner is a dead process of this machine is
/// seen with its lease lapsed now, so it is taken over at once.
pub fn lapse_dead_lease(row: &mut Row, host: &str, proc_dir: &Path, now_ms: i64) {
    if let Status::Running { lease } = &mut row.status
        && !lease.expired(now_ms)
        && Owner::parse(&lease.owner)
            .is_some_and(|owner| owner.liveness(host, proc_dir) == Liveness::Dead)
    {
        lease.expires_at_ms = now_ms;
    }
}

/// What a row's attempt tallies say about it: an attempt that did not
/// pass, the newest of any stage, is unfinished work (see
/// [`opm_plan::Unfinished`]).
pub fn unfinished_from_tallies(tallies: &[AttemptTally]) -> Option<Unfinished> {
    let last = tallies.iter().max_by_key(|tally| tally.newest)?;
    // The store judges an attempt's begin by the same rule.
    Unfinished::after(last.stage, last.result? == AttemptResult::Passed)
}

/// Puts the images and selections every decision may read into `cluster`;
/// returns the dependency map for the engine's ordering.
fn apply_facts(
    cluster: &mut Cluster,
    images: Vec<Image>,
    opkgs: Vec<Opkg>,
) -> BTreeMap<Name, BTreeSet<Name>> {
    for image in images {
        cluster.images.insert(image.name, image.root);
    }
    let mut depends_on: BTreeMap<Name, BTreeSet<Name>> = BTreeMap::new();
    for opkg in opkgs {
        let name = opkg.import.name.clone();
        cluster
            .selections
            .insert(name.clone(), opkg.groups.iter().cloned().collect());
        depends_on.insert(name, opkg.import.depends.iter().cloned().collect());
    }
    cluster.depends_on = depends_on.clone();
    depends_on
}

/// Reads the attempt tallies of `scopes` (one query each, not one per
/// row) into the cluster's unfinished rows; returns the attempt counts.
async fn attempts_of<S: Store>(
    store: &S,
    scopes: &[Scope],
    mine: &[StoredRow],
    cluster: &mut Cluster,
) -> Result<BTreeMap<RowId, BTreeMap<Stage, u32>>, StoreError> {
    let mut by_row: BTreeMap<RowId, Vec<AttemptTally>> = BTreeMap::new();
    for scope in scopes {
        for tally in store_call(|| store.attempt_tallies(scope)).await? {
            by_row.entry(tally.row).or_default().push(tally);
        }
    }
    let mut attempts = BTreeMap::new();
    for stored in mine {
        let Some(tallies) = by_row.remove(&stored.id) else {
            continue;
        };
        if let Some(unfinished) = unfinished_from_tallies(&tallies) {
            cluster.unfinished.insert(
                (stored.row.target.clone(), stored.row.package.clone()),
                unfinished,
            );
        }
        attempts.insert(
            stored.id,
            tallies
                .iter()
                .map(|tally| (tally.stage, tally.attempts))
                .collect(),
        );
    }
    Ok(attempts)
}

/// Loads the snapshot of one pass for `me` at `now_ms`.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn load<S: Store>(
    store: &S,
    me: &Identity,
    host: &str,
    proc_dir: &Path,
    now_ms: i64,
) -> Result<Snapshot, StoreError> {
    let mut mine = Vec::new();
    let targets = scopes(store, me).await?;
    for target in &targets {
        mine.extend(pending_of(store, target).await?);
    }
    if mine.is_empty() {
        let phase = store_call(|| store.phase()).await?;
        return Ok(Snapshot {
            cluster: Cluster::new(me.name.clone(), phase),
            mine,
            attempts: BTreeMap::new(),
            depends_on: BTreeMap::new(),
        });
    }
    // One statement while the facts stand still (an agent's poll runs this).
    let facts = store_call(|| store.facts()).await?;
    let head = match me.role {
        Role::Server => me.name.clone(),
        // Which node is the head decides which rows are server rows.
        Role::Client | Role::Image => facts.head.unwrap_or_else(|| me.name.clone()),
    };
    let mut cluster = Cluster::new(head, facts.phase);
    let depends_on = apply_facts(&mut cluster, facts.images, facts.opkgs);
    let server_work = mine
        .iter()
        .any(|stored| stored.row.target == Target::node(cluster.head.clone()));
    if me.role == Role::Server && server_work {
        for node in store_call(|| store.nodes()).await? {
            if !node.head {
                cluster
                    .nodes
                    .insert(node.name, node.groups.into_iter().collect());
            }
        }
    }
    // Related rows: every row of an opkg with server work (images, clients),
    // every row on a target with work (dependencies, dependents).
    let mut related: Vec<StoredRow> = Vec::new();
    let packages: BTreeSet<Name> = mine
        .iter()
        .filter(|stored| {
            stored.row.target.kind == TargetKind::Node && stored.row.target.name == cluster.head
        })
        .map(|stored| stored.row.package.clone())
        .collect();
    let packages: Vec<Name> = packages.into_iter().collect();
    for some in packages.chunks(RELATED_PAGE) {
        related.extend(store_call(|| store.rows_for_opkgs(some)).await?);
    }
    let with_work: BTreeSet<Target> = mine
        .iter()
        .map(|stored| stored.row.target.clone())
        .collect();
    for target in &with_work {
        related.extend(store_call(|| store.rows_for_target(target)).await?);
    }
    for stored in related {
        cluster.upsert(stored.row);
    }
    for stored in &mut mine {
        lapse_dead_lease(&mut stored.row, host, proc_dir, now_ms);
        cluster.upsert(stored.row.clone());
    }
    let scopes: Vec<Scope> = with_work.into_iter().map(Scope::Target).collect();
    let attempts = attempts_of(store, &scopes, &mine, &mut cluster).await?;
    Ok(Snapshot {
        cluster,
        mine,
        attempts,
        depends_on,
    })
}

/// Loads every row of the cluster, each pending one as "mine": what the
/// head node's `opm plan` decides over, nodes' rows included. Reads the
/// rows in pages and history in one query, whatever the cluster's size.
///
/// # Errors
/// A store failure that retrying did not cure; a database without a head
/// node has nothing to plan and gives an empty snapshot.
pub async fn load_cluster<S: Store>(
    store: &S,
    host: &str,
    proc_dir: &Path,
    now_ms: i64,
    fallback_head: &Name,
) -> Result<Snapshot, StoreError> {
    let facts = store_call(|| store.facts()).await?;
    let nodes = store_call(|| store.nodes()).await?;
    let head = nodes
        .iter()
        .find(|node| node.head)
        .map_or_else(|| fallback_head.clone(), |node| node.name.clone());
    let mut cluster = Cluster::new(head, facts.phase);
    for node in nodes.into_iter().filter(|node| !node.head) {
        cluster
            .nodes
            .insert(node.name, node.groups.into_iter().collect());
    }
    let depends_on = apply_facts(&mut cluster, facts.images, facts.opkgs);
    let mut mine = Vec::new();
    each_row(store, |mut stored| {
        if stored.row.is_pending() {
            lapse_dead_lease(&mut stored.row, host, proc_dir, now_ms);
            cluster.upsert(stored.row.clone());
            mine.push(stored);
        } else {
            cluster.upsert(stored.row);
        }
    })
    .await?;
    let attempts = attempts_of(store, &[Scope::All], &mine, &mut cluster).await?;
    Ok(Snapshot {
        cluster,
        mine,
        attempts,
        depends_on,
    })
}

/// Hands every row to `visit`, in id order, a page at a time (each page
/// read with the store's transient-trouble retries), so the whole table is
/// never held twice.
///
/// # Errors
/// The store's failure.
pub async fn each_row<S: Store>(
    store: &S,
    mut visit: impl FnMut(StoredRow),
) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let page = store_call(|| store.all_rows(after, CLUSTER_PAGE)).await?;
        page.rows.into_iter().for_each(&mut visit);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::{Lease, NameKind};
    use opm_store::AttemptId;

    fn tally(newest: i64, stage: Stage, result: Option<AttemptResult>) -> AttemptTally {
        AttemptTally {
            row: RowId(1),
            stage,
            attempts: 1,
            newest: AttemptId(newest),
            result,
        }
    }

    #[test]
    fn the_newest_attempt_decides_what_is_unfinished() {
        use AttemptResult::*;
        let up = tally(3, Stage::RunConfigurator, Some(Failed));
        let down = tally(4, Stage::ShouldNotBeInstalled, Some(Interrupted));
        let passed = tally(5, Stage::InstallBinPkgs, Some(Passed));
        assert_eq!(unfinished_from_tallies(&[]), None);
        assert_eq!(unfinished_from_tallies(&[up]), Some(Unfinished::Up));
        // By attempt id, not by the order the tallies come in.
        assert_eq!(
            unfinished_from_tallies(&[down, up]),
            Some(Unfinished::Uninstall)
        );
        assert_eq!(unfinished_from_tallies(&[passed, down, up]), None);
        let running = tally(6, Stage::InstallBinPkgs, Some(Running));
        assert_eq!(
            unfinished_from_tallies(&[passed, running]),
            Some(Unfinished::Up)
        );
        assert_eq!(
            unfinished_from_tallies(&[tally(7, Stage::Finished, None)]),
            None
        );
    }

    #[test]
    fn only_a_dead_local_owner_loses_its_lease_early() {
        let host = "here";
        let me = Owner::this_process(host).unwrap();
        let row = |owner: String| Row {
            target: Target::node(Name::new(NameKind::Node, "head").unwrap()),
            package: Name::new(NameKind::Opkg, "pp").unwrap(),
            requested: Stage::Finished,
            current: Some(Stage::ShouldBeInstalled),
            status: Status::Running {
                lease: Lease {
                    owner,
                    token: 1,
                    expires_at_ms: 10_000,
                },
            },
            version: opm_model::RowVersion::default(),
        };
        let expiry = |row: &Row| match &row.status {
            Status::Running { lease } => lease.expires_at_ms,
            _ => unreachable!(),
        };
        let proc_dir = Path::new("/proc");
        let mut alive = row(me.to_string());
        lapse_dead_lease(&mut alive, host, proc_dir, 100);
        assert_eq!(expiry(&alive), 10_000);
        let dead_owner = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        let mut dead = row(dead_owner.to_string());
        lapse_dead_lease(&mut dead, host, proc_dir, 100);
        assert_eq!(expiry(&dead), 100);
        let mut remote = row(format!("elsewhere:{}:{}", me.pid, me.start + 1));
        lapse_dead_lease(&mut remote, host, proc_dir, 100);
        assert_eq!(expiry(&remote), 10_000);
        let mut foreign = row("agent n3".to_owned());
        lapse_dead_lease(&mut foreign, host, proc_dir, 100);
        assert_eq!(expiry(&foreign), 10_000);
    }
}
