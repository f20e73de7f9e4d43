//! What `install`, `remove` and `request` decide, for the CLI and the
//! tools' API alike: a snapshot of the whole cluster as an `opm-plan`
//! [`Cluster`], the request changes its rules give, checked in full
//! (unknown names, conflicts, dependents) before anything is written, and
//! the one store batch that writes them, so a refused request changes
//! nothing.

use std::collections::{BTreeMap, BTreeSet};

use opm_model::{Name, NameKind, Row, Stage, Target, TargetKind};
use opm_plan::{
    Cluster, Conflicts, Cycle, RequestChange, conflicts_on_target, cycle_reachable, holds_or_wants,
};
use opm_store::{Batch, Change, DEFAULT_GROUP, Opkg, Store, StoreError};

/// Why a request is refused (nothing was changed), or the store failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No head node registered.
    #[error("the database has no head node; run 'opm init' on the head node")]
    NoHead,
    /// An opkg that was never imported.
    #[error("unknown opkg '{0}'; import it first with 'opm opkg import'")]
    UnknownOpkg(Name),
    /// A node that is not registered.
    #[error("unknown node '{0}'; see 'opm node list'")]
    UnknownNode(Name),
    /// An image that is not registered.
    #[error("unknown image '{0}'; see 'opm image list'")]
    UnknownImage(Name),
    /// A group no node has joined.
    #[error(
        "unknown group '{0}'; a group exists once a node joins it ('opm node add NAME --group {0}')"
    )]
    UnknownGroup(Name),
    /// A request onto a target where a conflicting opkg is.
    #[error(
        "{package} conflicts with {other}, which is installed or requested on {target}; \
         remove {other} there first (nothing was changed)"
    )]
    Conflict {
        /// The opkg requested.
        package: Name,
        /// The opkg it conflicts with.
        other: Name,
        /// Where.
        target: Target,
    },
    /// An install of an opkg that depends on a dependency cycle, whose
    /// rows would wait for each other forever.
    #[error(
        "cannot install {package}: the opkgs' dependencies form a cycle ({cycle}), so none of \
         them could ever go first; drop one of the requires and re-import (nothing was changed)"
    )]
    Cycle {
        /// The opkg to install.
        package: Name,
        /// The cycle it depends on.
        cycle: Cycle,
    },
    /// A removal while installed or requested opkgs depend on it.
    #[error("{}", dependents_refusal(.package, .dependents))]
    Dependents {
        /// The opkg to remove.
        package: Name,
        /// What depends on it.
        dependents: Vec<Name>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn dependents_refusal(package: &Name, dependents: &[Name]) -> String {
    let names: Vec<&str> = dependents.iter().map(Name::as_str).collect();
    let one = names.len() == 1;
    format!(
        "cannot remove {package}: {} depend{} on it and {} installed or requested on the \
         head node; remove {} too, or pass --with-dependents (nothing was changed)",
        names.join(", "),
        if one { "s" } else { "" },
        if one { "is" } else { "are" },
        if one { "it" } else { "them" },
    )
}

/// The cluster as the planner sees it, plus the imported opkgs by name.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Rows, nodes, images, selections and dependencies.
    pub cluster: Cluster,
    /// The imported opkgs.
    pub opkgs: BTreeMap<Name, Opkg>,
}

impl Snapshot {
    /// Reads the whole state. Needs a registered head node.
    ///
    /// # Errors
    /// [`RequestError::NoHead`], or the store's failure.
    pub async fn load<S: Store>(store: &S) -> Result<Snapshot, RequestError> {
        let nodes = store.nodes().await?;
        let head = nodes
            .iter()
            .find(|node| node.head)
            .ok_or(RequestError::NoHead)?;
        let mut cluster = Cluster::new(head.name.clone(), store.phase().await?);
        for node in nodes.iter().filter(|node| !node.head) {
            cluster
                .nodes
                .insert(node.name.clone(), node.groups.iter().cloned().collect());
        }
        for image in store.images().await? {
            cluster.images.insert(image.name, image.root);
        }
        let mut opkgs = BTreeMap::new();
        for opkg in store.opkgs().await? {
            let name = opkg.import.name.clone();
            cluster
                .selections
                .insert(name.clone(), opkg.groups.iter().cloned().collect());
            cluster
                .depends_on
                .insert(name.clone(), opkg.import.depends.iter().cloned().collect());
            opkgs.insert(name, opkg);
        }
        crate::load::each_row(store, |stored| cluster.upsert(stored.row)).await?;
        Ok(Snapshot { cluster, opkgs })
    }

    /// The head node as a target.
    pub fn head(&self) -> Target {
        Target::node(self.cluster.head.clone())
    }

    /// The imported opkg `name`.
    ///
    /// # Errors
    /// [`RequestError::UnknownOpkg`].
    pub fn opkg(&self, name: &Name) -> Result<&Opkg, RequestError> {
        self.opkgs
            .get(name)
            .ok_or_else(|| RequestError::UnknownOpkg(name.clone()))
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
    ///
    /// # Errors
    /// [`RequestError::Conflict`].
    pub fn apply_checked(&mut self, changes: &[RequestChange]) -> Result<(), RequestError> {
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
                    return Err(RequestError::Conflict {
                        package: change.package.clone(),
                        other: other.clone(),
                        target: change.target.clone(),
                    });
                }
            }
            self.cluster.apply(change);
        }
        Ok(())
    }

    /// Refuses a target that is not registered.
    ///
    /// # Errors
    /// [`RequestError::UnknownNode`], [`RequestError::UnknownImage`].
    pub fn check_target(&self, target: &Target) -> Result<(), RequestError> {
        let name = &target.name;
        match target.kind {
            TargetKind::Node
                if *name != self.cluster.head && !self.cluster.nodes.contains_key(name) =>
            {
                Err(RequestError::UnknownNode(name.clone()))
            }
            TargetKind::Image if !self.cluster.images.contains_key(name) => {
                Err(RequestError::UnknownImage(name.clone()))
            }
            TargetKind::Node | TargetKind::Image => Ok(()),
        }
    }

    /// The compute nodes' groups, for membership questions.
    pub fn groups_of(&self, node: &Name) -> BTreeSet<Name> {
        self.cluster.nodes.get(node).cloned().unwrap_or_default()
    }

    /// Whether a group exists: the default one always does, others once a
    /// node has joined them.
    pub fn group_exists(&self, group: &Name) -> bool {
        group.as_str() == DEFAULT_GROUP
            || self
                .cluster
                .nodes
                .values()
                .any(|groups| groups.contains(group))
    }

    /// The opkgs among `packages` depends on that are neither installed nor
    /// requested on the head node: (opkg, dependency) pairs whose stages
    /// would wait.
    pub fn missing_dependencies(&self, packages: &[Name]) -> Vec<(Name, Name)> {
        let head = self.head();
        let mut missing = Vec::new();
        for package in packages {
            for dependency in self.cluster.depends_on.get(package).into_iter().flatten() {
                let wanted = self
                    .cluster
                    .row(&head, dependency)
                    .is_some_and(|row| row.requested > Stage::ShouldNotBeInstalled);
                if !wanted {
                    missing.push((package.clone(), dependency.clone()));
                }
            }
        }
        missing
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

/// The names in order, each once.
pub fn unique(names: Vec<Name>) -> Vec<Name> {
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

/// `opm request PKG --stage STAGE` (and `POST /v1/request`): requests
/// `stage` of `package` on each of `targets`, creating rows as needed, in
/// one transaction after the same checks as `install` (names, conflicts);
/// the changes made, written with the `audit` entry of the action that
/// asked for them (without one, a dry run: the changes it would make,
/// nothing written; likewise below).
///
/// # Errors
/// A [`RequestError`] refusal (nothing changed), or the store's failure.
pub async fn request<S: Store>(
    store: &S,
    snapshot: &mut Snapshot,
    targets: &[Target],
    package: &Name,
    stage: Stage,
    now_ms: i64,
    audit: Option<Change>,
) -> Result<Vec<RequestChange>, RequestError> {
    snapshot.opkg(package)?;
    for target in targets {
        snapshot.check_target(target)?;
    }
    let changes: Vec<RequestChange> = targets
        .iter()
        .map(|target| RequestChange {
            create: snapshot.cluster.row(target, package).is_none(),
            target: target.clone(),
            package: package.clone(),
            requested: stage,
        })
        .collect();
    snapshot.apply_checked(&changes)?;
    if let Some(audit) = audit {
        let batch = Batch {
            changes: requests(&changes).chain([audit]).collect(),
        };
        store.apply(&batch, now_ms).await?;
    }
    Ok(changes)
}

/// `opm install PKG... [--group G]`: selects the opkgs for `group` (the
/// default one when `None`) and requests them `finished` on the head node
/// and its images, in one transaction; the changes made.
///
/// # Errors
/// A [`RequestError`] refusal (nothing changed), or the store's failure.
pub async fn install<S: Store>(
    store: &S,
    snapshot: &mut Snapshot,
    packages: &[Name],
    group: Option<Name>,
    now_ms: i64,
    audit: Option<Change>,
) -> Result<Vec<RequestChange>, RequestError> {
    let group = match group {
        Some(group) => group,
        None => default_group(),
    };
    for package in packages {
        snapshot.opkg(package)?;
        if let Some(cycle) = cycle_reachable(&snapshot.cluster.depends_on, package) {
            return Err(RequestError::Cycle {
                package: package.clone(),
                cycle,
            });
        }
    }
    if !snapshot.group_exists(&group) {
        return Err(RequestError::UnknownGroup(group));
    }
    let mut changes = Vec::new();
    for package in packages {
        snapshot
            .cluster
            .selections
            .entry(package.clone())
            .or_default()
            .insert(group.clone());
        let more = snapshot.cluster.install_requests(package);
        snapshot.apply_checked(&more)?;
        changes.extend(more);
    }
    let selections = packages.iter().map(|package| Change::Select {
        opkg: package.clone(),
        group: group.clone(),
    });
    if let Some(audit) = audit {
        let batch = Batch {
            changes: selections
                .chain(requests(&changes))
                .chain([audit])
                .collect(),
        };
        store.apply(&batch, now_ms).await?;
    }
    Ok(changes)
}

/// The group `install` and `node add` use when none is named.
pub fn default_group() -> Name {
    // DEFAULT_GROUP is a valid group name by construction.
    Name::new(NameKind::Group, DEFAULT_GROUP).unwrap_or_else(|_| unreachable!())
}

/// `opm remove PKG... [--with-dependents]`: requests the opkgs
/// `should_not_be_installed` everywhere they are, in one transaction; the
/// changes made.
///
/// # Errors
/// A [`RequestError`] refusal (nothing changed), or the store's failure.
pub async fn remove<S: Store>(
    store: &S,
    snapshot: &mut Snapshot,
    packages: &[Name],
    with_dependents: bool,
    now_ms: i64,
    audit: Option<Change>,
) -> Result<Vec<RequestChange>, RequestError> {
    for package in packages {
        snapshot.opkg(package)?;
    }
    let changes = removal(snapshot, packages, with_dependents)?;
    if let Some(audit) = audit {
        let batch = Batch {
            changes: requests(&changes).chain([audit]).collect(),
        };
        store.apply(&batch, now_ms).await?;
    }
    Ok(changes)
}

/// The requests that remove `packages`. Opkgs named together may depend
/// on each other; only a dependent outside the list refuses the removal
/// (unless `with_dependents`, which takes such dependents down too).
fn removal(
    snapshot: &mut Snapshot,
    packages: &[Name],
    with_dependents: bool,
) -> Result<Vec<RequestChange>, RequestError> {
    let refused = |package: &Name, dependents: Vec<Name>| RequestError::Dependents {
        package: package.clone(),
        dependents,
    };
    if !with_dependents {
        // Ask the planner's rule with the listed opkgs already gone from
        // the head node, so only outside dependents can refuse.
        let mut probe = snapshot.cluster.clone();
        let head = snapshot.head();
        for package in packages {
            if let Some(row) = probe.row(&head, package).cloned() {
                probe.upsert(Row {
                    requested: Stage::ShouldNotBeInstalled,
                    current: Some(Stage::ShouldNotBeInstalled),
                    ..row
                });
            }
        }
        for package in packages {
            if let Err(dependents) = probe.remove_requests(package, false) {
                return Err(refused(package, dependents));
            }
        }
    }
    let mut changes = Vec::new();
    for package in packages {
        let more = snapshot
            .cluster
            .remove_requests(package, true)
            .map_err(|dependents| refused(package, dependents))?;
        snapshot.apply_checked(&more)?;
        changes.extend(more);
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_removal_names_every_dependent() {
        let name = |n: &str| Name::new(NameKind::Opkg, n).unwrap();
        let one = RequestError::Dependents {
            package: name("base"),
            dependents: vec![name("slurm")],
        };
        assert!(
            one.to_string()
                .starts_with("cannot remove base: slurm depends on it and is installed"),
            "{one}"
        );
        let two = RequestError::Dependents {
            package: name("base"),
            dependents: vec![name("slurm"), name("torque")],
        };
        assert!(
            two.to_string()
                .contains("slurm, torque depend on it and are"),
            "{two}"
        );
        assert_eq!(
            unique(vec![name("aa"), name("bb"), name("aa")]),
            [name("aa"), name("bb")]
        );
    }
}
