//! An in-memory view of the whole cluster (rows, images, nodes and their
//! groups, opkg selections and dependencies) that gathers the [`Context`]
//! of any row the same way everywhere: the engine after loading a pass,
//! `opm plan`, and the test simulator.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use opm_model::{Name, Phase, Row, RowVersion, Stage, Status, Target, TargetKind, Unfinished};

use crate::actions::{ImageRef, RowRole};
use crate::context::{Context, Dependency, ImageRow};
use crate::cycle::{cycle_reachable, cycle_through};
use crate::decision::{Blocked, Decision, decide};
use crate::deps::holds_or_wants;
use crate::error::PlanError;
use crate::orchestrate::{RequestChange, assign_clients};

/// The cluster's rows and the facts that relate them; rows are indexed by
/// opkg and by target so gathering one row's context does not scan them all.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The head node's name: its node rows are server rows.
    pub head: Name,
    /// The cluster's install phase.
    pub phase: Phase,
    /// Each image's root directory.
    pub images: BTreeMap<Name, PathBuf>,
    /// Each compute node's groups.
    pub nodes: BTreeMap<Name, BTreeSet<Name>>,
    /// The groups each opkg is selected for.
    pub selections: BTreeMap<Name, BTreeSet<Name>>,
    /// The opkgs each opkg depends on.
    pub depends_on: BTreeMap<Name, BTreeSet<Name>>,
    /// The opkgs whose uninstall takes their dependents along.
    pub remove_dependents: BTreeSet<Name>,
    /// Each opkg's wanted version (SPEC §1.9): rows created here work
    /// towards it, as the store's do.
    pub wanted: BTreeMap<Name, String>,
    /// The rows (target, opkg) whose last attempt did not complete (see
    /// [`Context::unfinished`]).
    pub unfinished: BTreeMap<(Target, Name), Unfinished>,
    rows: BTreeMap<Name, BTreeMap<Target, Row>>,
    by_target: BTreeMap<Target, BTreeSet<Name>>,
}

impl Cluster {
    /// An empty cluster with head node `head`, in `phase`.
    pub fn new(head: Name, phase: Phase) -> Cluster {
        Cluster {
            head,
            phase,
            images: BTreeMap::new(),
            nodes: BTreeMap::new(),
            selections: BTreeMap::new(),
            depends_on: BTreeMap::new(),
            remove_dependents: BTreeSet::new(),
            wanted: BTreeMap::new(),
            unfinished: BTreeMap::new(),
            rows: BTreeMap::new(),
            by_target: BTreeMap::new(),
        }
    }

    /// Adds a row or replaces the row of the same (target, opkg).
    pub fn upsert(&mut self, row: Row) {
        // Looked up before cloning keys: whole-cluster loads upsert every row.
        match self.by_target.get_mut(&row.target) {
            Some(packages) => {
                packages.insert(row.package.clone());
            }
            None => {
                self.by_target
                    .insert(row.target.clone(), BTreeSet::from([row.package.clone()]));
            }
        }
        let target = row.target.clone();
        match self.rows.get_mut(&row.package) {
            Some(rows) => {
                rows.insert(target, row);
            }
            None => {
                self.rows
                    .insert(row.package.clone(), BTreeMap::from([(target, row)]));
            }
        }
    }

    /// The row of (`target`, `package`), if any.
    pub fn row(&self, target: &Target, package: &Name) -> Option<&Row> {
        self.rows.get(package)?.get(target)
    }

    /// Every row, grouped by opkg.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.values().flat_map(BTreeMap::values)
    }

    /// Every row of `package`.
    pub fn rows_of(&self, package: &Name) -> impl Iterator<Item = &Row> {
        self.rows
            .get(package)
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    /// Every row on `target`.
    pub fn rows_on(&self, target: &Target) -> impl Iterator<Item = &Row> {
        self.by_target
            .get(target)
            .into_iter()
            .flatten()
            .filter_map(move |package| self.row(target, package))
    }

    /// The part rows on `target` play.
    pub fn role_of(&self, target: &Target) -> Result<RowRole, PlanError> {
        match target.kind {
            TargetKind::Node if target.name == self.head => Ok(RowRole::Server),
            TargetKind::Node => Ok(RowRole::Client),
            TargetKind::Image => self.image(&target.name).map(RowRole::Image),
        }
    }

    fn image(&self, name: &Name) -> Result<ImageRef, PlanError> {
        self.images
            .get(name)
            .map(|path| ImageRef {
                name: name.clone(),
                path: path.clone(),
            })
            .ok_or_else(|| PlanError::UnknownImage {
                image: name.clone(),
            })
    }

    /// The facts [`decide`] needs for `row` at `now_ms`.
    pub fn context(&self, row: &Row, now_ms: i64) -> Result<Context, PlanError> {
        let role = self.role_of(&row.target)?;
        let mut context = Context::new(role, self.phase, now_ms);
        if context.role == RowRole::Server {
            for other in self.rows_of(&row.package) {
                match other.target.kind {
                    TargetKind::Image => context.images.push(ImageRow {
                        image: self.image(&other.target.name)?,
                        row: other.clone(),
                    }),
                    TargetKind::Node if other.target != row.target => {
                        context.clients.push(other.clone());
                    }
                    TargetKind::Node => {}
                }
            }
        }
        if let Some(dependencies) = self.depends_on.get(&row.package) {
            context.dependencies = dependencies
                .iter()
                .map(|package| Dependency {
                    package: package.clone(),
                    row: self.row(&row.target, package).cloned(),
                })
                .collect();
        }
        // From the dependency map, not by scanning the target's rows: a
        // target with thousands of opkgs would make every decision O(rows).
        context.dependents = self
            .depends_on
            .iter()
            .filter(|(_, deps)| deps.contains(&row.package))
            .filter_map(|(dependent, _)| self.row(&row.target, dependent).cloned())
            .collect();
        context.remove_dependents = self.remove_dependents.contains(&row.package);
        context.unfinished = self
            .unfinished
            .get(&(row.target.clone(), row.package.clone()))
            .copied();
        Ok(context)
    }

    /// Decides what to do with `row` now. A row that waits on a
    /// dependency cycle is told so: it would wait forever.
    pub fn decide(&self, row: &Row, now_ms: i64) -> Result<Decision, PlanError> {
        let decision = decide(row, &self.context(row, now_ms)?);
        // Looked for only once a row waits on its relations, which is
        // rare, so the common decision costs nothing more.
        let cycle = match &decision {
            Decision::Blocked(Blocked::Dependency { .. }) => {
                cycle_reachable(&self.depends_on, &row.package)
            }
            Decision::Blocked(Blocked::DependentRemoving { .. }) => {
                cycle_through(&self.depends_on, &row.package)
            }
            _ => None,
        };
        Ok(match cycle {
            Some(cycle) => Decision::Blocked(Blocked::Cycle { cycle }),
            None => decision,
        })
    }

    /// The rows to create or re-request when the server completes
    /// `run-script-post-clients` for `package` (see [`assign_clients`]).
    pub fn assign_clients(&self, package: &Name) -> Vec<RequestChange> {
        let selected = self.selections.get(package).cloned().unwrap_or_default();
        let existing: Vec<Row> = self.rows_of(package).cloned().collect();
        assign_clients(package, &selected, &self.nodes, &existing)
    }

    /// What `opm install PACKAGE` requests (SPEC §4): `finished` on the head
    /// node's row and every image's row. Compute nodes get theirs when the
    /// server passes `run-script-post-clients`; when it already has, they
    /// are assigned now, since that stage will not run again.
    pub fn install_requests(&self, package: &Name) -> Vec<RequestChange> {
        let mut targets = vec![Target::node(self.head.clone())];
        targets.extend(self.images.keys().cloned().map(Target::image));
        let mut changes: Vec<RequestChange> = targets
            .into_iter()
            .filter_map(|target| {
                let row = self.row(&target, package);
                let wanted = row.is_none_or(|row| row.requested != Stage::Finished);
                wanted.then(|| RequestChange {
                    create: row.is_none(),
                    target,
                    package: package.clone(),
                    requested: Stage::Finished,
                })
            })
            .collect();
        let assigned = self
            .row(&Target::node(self.head.clone()), package)
            .is_some_and(|row| row.effective_current() >= Stage::RunScriptPostClients);
        if assigned {
            changes.extend(self.assign_clients(package));
        }
        changes
    }

    /// The rows a compute node joining now must get (SPEC §1.4): for every
    /// opkg installed on the head node (requested `finished`) and selected
    /// for one of the node's groups, once the cluster is `complete` or the
    /// head node's row has passed `run-script-post-clients`, the stage
    /// that assigns client work and will not run again for it. The node
    /// must already be in [`nodes`](Self::nodes) with its groups.
    pub fn late_assignments(&self, node: &Name) -> Vec<RequestChange> {
        let head = Target::node(self.head.clone());
        let target = Target::node(node.clone());
        let groups = self.nodes.get(node).cloned().unwrap_or_default();
        self.selections
            .iter()
            .filter(|(_, selected)| !selected.is_disjoint(&groups))
            .filter_map(|(package, _)| {
                let head_row = self.row(&head, package)?;
                let assigned = self.phase == Phase::Complete
                    || head_row.effective_current() >= Stage::RunScriptPostClients;
                (head_row.requested == Stage::Finished && assigned).then_some(package)
            })
            .flat_map(|package| self.assign_clients(package))
            .filter(|change| change.target == target)
            .collect()
    }

    /// The rows an image added now must get: `finished` for every opkg
    /// installed on the head node (requested `finished`), as `opm install`
    /// gave the images present then.
    pub fn image_rows(&self, image: &Name) -> Vec<RequestChange> {
        let head = Target::node(self.head.clone());
        self.rows_on(&head)
            .filter(|row| row.requested == Stage::Finished)
            .map(|row| RequestChange {
                target: Target::image(image.clone()),
                package: row.package.clone(),
                requested: Stage::Finished,
                create: self
                    .row(&Target::image(image.clone()), &row.package)
                    .is_none(),
            })
            .collect()
    }

    /// What `opm remove PACKAGE` requests (SPEC §4): `should_not_be_installed`
    /// on every row of the opkg: the head node's, the images' and the
    /// nodes'. The server's uninstall fans out to the same rows and waits
    /// for them; requesting them here too keeps a node from being left
    /// behind when the server row is already at the bottom (a cut-short
    /// uninstall finished before the opkg was removed again). Refused with the dependents' names when an
    /// opkg that depends on it is installed or requested on the head node;
    /// `with_dependents` requests those dependents (and theirs) down too.
    pub fn remove_requests(
        &self,
        package: &Name,
        with_dependents: bool,
    ) -> Result<Vec<RequestChange>, Vec<Name>> {
        let head = Target::node(self.head.clone());
        let mut leaving = BTreeSet::from([package.clone()]);
        loop {
            let dependents: BTreeSet<Name> = self
                .rows_on(&head)
                .filter(|row| holds_or_wants(row) && !leaving.contains(&row.package))
                .filter(|row| {
                    self.depends_on
                        .get(&row.package)
                        .is_some_and(|deps| !deps.is_disjoint(&leaving))
                })
                .map(|row| row.package.clone())
                .collect();
            if dependents.is_empty() {
                break;
            }
            if !with_dependents {
                return Err(dependents.into_iter().collect());
            }
            leaving.extend(dependents);
        }
        Ok(leaving
            .iter()
            .flat_map(|package| self.rows_of(package))
            .filter(|row| row.requested != Stage::ShouldNotBeInstalled)
            .map(|row| RequestChange {
                target: row.target.clone(),
                package: row.package.clone(),
                requested: Stage::ShouldNotBeInstalled,
                create: false,
            })
            .collect())
    }

    /// Applies a request change: sets `requested`, or creates the row at
    /// `should_not_be_installed` with status ok.
    pub fn apply(&mut self, change: &RequestChange) {
        let row = match self.row(&change.target, &change.package) {
            Some(row) => Row {
                requested: change.requested,
                ..row.clone()
            },
            None => Row {
                target: change.target.clone(),
                package: change.package.clone(),
                requested: change.requested,
                current: Some(Stage::ShouldNotBeInstalled),
                status: Status::Ok,
                version: RowVersion {
                    work: self.wanted.get(&change.package).cloned(),
                    ..RowVersion::default()
                },
            },
        };
        self.upsert(row);
    }
}
