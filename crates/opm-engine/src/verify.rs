//! Verify and repair (SPEC §1.9): whether the rows' native packages are
//! installed at the versions opm recorded, and the stages that bring a
//! drifted row back.
//!
//! A verify of a target reads its rows, asks its package database once
//! for all their packages ([`opm_plan::packages_to_ask`]), judges each row
//! with [`opm_plan::verify`], and writes what changed through
//! [`Store::record_drift`], which drops a finding about a row that moved
//! meanwhile. It never runs a script and never takes a lease. The head node
//! verifies its own rows and its images' (it holds their roots); a node's
//! agent reads its own root and the server judges the node's rows from the
//! answer ([`node_question`], [`judge_node`]), so a node only ever speaks
//! about itself. A repair sets a drifted row's `current` back to the stage
//! before [`opm_plan::repair_from`] (as `opm rerun` does, recorded as a
//! rerun), and the usual passes and agents do the rest.

use std::collections::BTreeMap;

use opm_model::api::{VerifySummary, Waiting};
use opm_model::{Inventory, Name, Part, Row, Stage, Status, Target, TargetKind};
use opm_plan::{ImageRef, RootRef, RowRole, Verdict, packages_to_ask, repair_from, verify};
use opm_store::{DriftMark, Store, StoreError, StoredRow};

use crate::act::Actor;
use crate::retry::store_call;

/// One row to judge: the stored row, the part it plays, and the version
/// its current stage was reached with.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The row as read.
    pub stored: StoredRow,
    /// Its role (server, client, image with its root).
    pub role: RowRole,
    /// The recorded version; `None` for rows recorded before versions were.
    pub version: Option<String>,
}

/// What a verify of the head node's roots found, with the parts that
/// drifted per row, which a repair run right after it needs.
#[derive(Debug, Clone, Default)]
pub struct LocalVerify {
    /// What to say.
    pub summary: VerifySummary,
    /// The drifted parts of each drifted row.
    pub parts: BTreeMap<(Target, Name), Vec<Part>>,
}

/// Judges `candidates` against one package-database answer: what to write
/// (only what changes) and what to say, with the drifted parts per row.
pub fn judge(candidates: &[Candidate], inventory: &Inventory) -> (Vec<DriftMark>, LocalVerify) {
    let mut marks = Vec::new();
    let mut found = LocalVerify::default();
    let summary = &mut found.summary;
    for candidate in candidates {
        let row = &candidate.stored.row;
        let verdict = verify(
            row,
            &candidate.role,
            candidate.version.as_deref(),
            inventory,
        );
        let was_drifted = matches!(row.status, Status::Drifted { .. });
        let drift = match verdict {
            Verdict::Unjudged { .. } => continue,
            Verdict::Whole => None,
            Verdict::Drifted(drift) => {
                found
                    .parts
                    .insert((row.target.clone(), row.package.clone()), drift.parts());
                Some(drift.message())
            }
        };
        summary.checked += 1;
        let Some(current) = row.current else {
            continue;
        };
        match &drift {
            Some(message) => summary.drifted.push(Waiting {
                row: row.to_string(),
                reason: message.clone(),
            }),
            None if was_drifted => summary.whole_again.push(row.to_string()),
            None => {}
        }
        let unchanged = match (&row.status, &drift) {
            (Status::Drifted { message }, Some(found)) => message == found,
            (Status::Ok, None) => true,
            _ => false,
        };
        if !unchanged {
            marks.push(DriftMark {
                id: candidate.stored.id,
                requested: row.requested,
                current,
                was: row.status.kind(),
                drift,
            });
        }
    }
    (marks, found)
}

/// The role each of a target's rows plays.
fn role_of(target: &Target, head: &Name, images: &[opm_store::Image]) -> Option<RowRole> {
    match target.kind {
        TargetKind::Node if target.name == *head => Some(RowRole::Server),
        TargetKind::Node => Some(RowRole::Client),
        TargetKind::Image => images
            .iter()
            .find(|image| image.name == target.name)
            .map(|image| {
                RowRole::Image(ImageRef {
                    name: image.name.clone(),
                    path: image.root.clone(),
                })
            }),
    }
}

/// The target's rows as candidates.
async fn candidates<S: Store>(
    store: &S,
    target: &Target,
    role: &RowRole,
) -> Result<Vec<Candidate>, StoreError> {
    Ok(store_call(|| store.rows_for_target(target))
        .await?
        .into_iter()
        .map(|stored| Candidate {
            version: stored.row.version.reached.clone(),
            stored,
            role: role.clone(),
        })
        .collect())
}

/// The head node's targets a verify covers: the head node and every image,
/// or the one `only` names.
pub async fn local_targets<S: Store>(
    store: &S,
    head: &Name,
    only: Option<&Target>,
) -> Result<Vec<(Target, RowRole)>, StoreError> {
    let images = store_call(|| store.images()).await?;
    if let Some(only) = only
        && only.kind == TargetKind::Image
        && !images.iter().any(|image| image.name == only.name)
    {
        return Err(StoreError::UnknownImage {
            name: only.name.to_string(),
        });
    }
    let mut targets = vec![Target::node(head.clone())];
    targets.extend(images.iter().map(|image| Target::image(image.name.clone())));
    Ok(targets
        .into_iter()
        .filter(|target| only.is_none_or(|only| only == target))
        .filter_map(|target| role_of(&target, head, &images).map(|role| (target, role)))
        .collect())
}

/// Verifies the head node's rows and its images' from their roots, one
/// package-database read per root. A root that cannot be read is reported
/// in [`VerifySummary::unreadable`] and its rows keep their status.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn verify_local<S: Store>(
    store: &S,
    actor: &Actor,
    head: &Name,
    only: Option<&Target>,
    now_ms: i64,
) -> Result<LocalVerify, StoreError> {
    let mut local = LocalVerify::default();
    for (target, role) in local_targets(store, head, only).await? {
        let found = candidates(store, &target, &role).await?;
        let names = packages_to_ask(found.iter().map(|c| (&c.stored.row, &c.role)));
        if names.is_empty() {
            continue;
        }
        let root = match &role {
            RowRole::Image(image) => RootRef::Image(image.clone()),
            RowRole::Server | RowRole::Client => RootRef::Own,
        };
        let inventory = match actor.inventory(&root, names).await {
            Ok(inventory) => inventory,
            Err(error) => {
                local.summary.unreadable.push(Waiting {
                    row: target.to_string(),
                    reason: error.to_string(),
                });
                continue;
            }
        };
        let (marks, found) = judge(&found, &inventory);
        if !marks.is_empty() {
            store_call(|| store.record_drift(&marks, now_ms)).await?;
        }
        local.summary.merge(found.summary);
        local.parts.extend(found.parts);
    }
    Ok(local)
}

/// The packages a node's agent reads for a verify of the node's rows.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn node_question<S: Store>(store: &S, node: &Name) -> Result<Vec<String>, StoreError> {
    let target = Target::node(node.clone());
    let found = candidates(store, &target, &RowRole::Client).await?;
    Ok(packages_to_ask(
        found.iter().map(|c| (&c.stored.row, &c.role)),
    ))
}

/// Judges a node's rows from its agent's answer and writes what changed.
/// Only `node`'s rows are read, so an answer can speak for no other node;
/// only packages the answer names are judged.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn judge_node<S: Store>(
    store: &S,
    node: &Name,
    inventory: &Inventory,
    now_ms: i64,
) -> Result<VerifySummary, StoreError> {
    let target = Target::node(node.clone());
    let found = candidates(store, &target, &RowRole::Client).await?;
    let (marks, found) = judge(&found, inventory);
    if !marks.is_empty() {
        store_call(|| store.record_drift(&marks, now_ms)).await?;
    }
    Ok(found.summary)
}

/// What the store says of `target`'s rows now: how many a verify would
/// judge and which are drifted. For a node's rows on the head node, which
/// cannot read the node's root: its agent's latest findings.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn stored_findings<S: Store>(
    store: &S,
    target: &Target,
) -> Result<VerifySummary, StoreError> {
    let mut summary = VerifySummary::default();
    for stored in store_call(|| store.rows_for_target(target)).await? {
        let row = &stored.row;
        if row.effective_current() < Stage::InstallBinPkgs {
            continue;
        }
        summary.checked += 1;
        if let Status::Drifted { message } = &row.status {
            summary.drifted.push(Waiting {
                row: row.to_string(),
                reason: message.clone(),
            });
        }
    }
    Ok(summary)
}

/// One repaired row: which, and the stage it runs again from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Repaired {
    /// The row, as `node n1 / motd`.
    pub row: String,
    /// The stage that runs again first.
    pub from: Stage,
    /// What had drifted.
    pub drift: String,
}

/// Requests the repair of every drifted row of `targets` (every target
/// when empty): `current` goes back to the stage before the first stage
/// that installs a drifted part, so that stage and the later ones run
/// again on the next pass (the head node's, or the node's agent). `parts`
/// says which parts drifted where the caller knows (a verify it just ran
/// of the head node's roots); for other rows every part the row installs
/// counts, which for nodes and images is the same stage.
///
/// # Errors
/// A store failure that retrying did not cure (a row that started a stage
/// meanwhile is refused by the store and left out).
pub async fn repair<S: Store>(
    store: &S,
    head: &Name,
    targets: &[Target],
    parts: &dyn Fn(&Row) -> Option<Vec<Part>>,
    now_ms: i64,
) -> Result<Vec<Repaired>, StoreError> {
    let images = store_call(|| store.images()).await?;
    let all_targets;
    let targets = if targets.is_empty() {
        let nodes = store_call(|| store.nodes()).await?;
        all_targets = nodes
            .into_iter()
            .map(|node| Target::node(node.name))
            .chain(images.iter().map(|image| Target::image(image.name.clone())))
            .collect::<Vec<_>>();
        &all_targets
    } else {
        targets
    };
    let mut repaired = Vec::new();
    for target in targets {
        let Some(role) = role_of(target, head, &images) else {
            return Err(StoreError::UnknownImage {
                name: target.name.to_string(),
            });
        };
        for stored in store_call(|| store.rows_for_target(target)).await? {
            let row = &stored.row;
            let Status::Drifted { message } = &row.status else {
                continue;
            };
            let known = parts(row);
            let Some(from) = repair_from(row, &role, known.as_deref()) else {
                continue;
            };
            match store_call(|| store.rerun(target, &row.package, from, now_ms)).await {
                Ok(_) => repaired.push(Repaired {
                    row: row.to_string(),
                    from,
                    drift: message.clone(),
                }),
                // A stage began meanwhile: its own result will say.
                Err(StoreError::RowBusy { .. }) => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok(repaired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::{NameKind, Presence, StatusKind};
    use opm_store::RowId;

    fn candidate(status: Status, version: Option<&str>) -> Candidate {
        Candidate {
            stored: StoredRow {
                id: RowId(7),
                row: Row {
                    target: Target::node(Name::new(NameKind::Node, "n1").unwrap()),
                    package: Name::new(NameKind::Opkg, "motd").unwrap(),
                    requested: Stage::Finished,
                    current: Some(Stage::Finished),
                    status,
                    version: opm_model::RowVersion {
                        reached: version.map(str::to_owned),
                        ..opm_model::RowVersion::default()
                    },
                },
                wanted_version: None,
            },
            role: RowRole::Client,
            version: version.map(str::to_owned),
        }
    }

    fn answer(presence: Presence) -> Inventory {
        Inventory::new(
            &["opkg-motd-client".to_owned()],
            [("opkg-motd-client".to_owned(), presence)],
        )
    }

    #[test]
    fn only_changes_are_written_and_each_says_what_it_was() {
        let missing = answer(Presence::Missing);
        let whole = answer(Presence::Installed {
            version: "1.0-1".into(),
        });
        let message = "opkg-motd-client is not installed (expected 1.0-1)";
        let drifted = Status::Drifted {
            message: message.into(),
        };

        let (marks, LocalVerify { summary, .. }) =
            judge(&[candidate(Status::Ok, Some("1.0-1"))], &missing);
        assert_eq!(marks.len(), 1);
        assert_eq!(marks[0].drift.as_deref(), Some(message));
        assert_eq!(marks[0].was, StatusKind::Ok);
        assert_eq!(summary.checked, 1);
        assert_eq!(summary.drifted[0].row, "node n1 / motd");

        // Found drifted again with the same message: nothing to write.
        let (marks, LocalVerify { summary, .. }) =
            judge(&[candidate(drifted.clone(), Some("1.0-1"))], &missing);
        assert!(marks.is_empty());
        assert_eq!(summary.drifted.len(), 1);

        // Whole again: back to ok, and said so.
        let row = candidate(drifted, Some("1.0-1"));
        assert_eq!(row.stored.row.status.kind(), StatusKind::Drifted);
        let (marks, LocalVerify { summary, .. }) = judge(&[row], &whole);
        assert_eq!(marks[0].drift, None);
        assert_eq!(marks[0].was, StatusKind::Drifted);
        assert_eq!(summary.whole_again, ["node n1 / motd"]);

        // Whole and ok: nothing to write.
        let (marks, _) = judge(&[candidate(Status::Ok, Some("1.0-1"))], &whole);
        assert!(marks.is_empty());
    }

    #[test]
    fn a_row_under_way_is_neither_written_nor_counted() {
        let lease = opm_model::Lease {
            owner: "x".into(),
            token: 1,
            expires_at_ms: 0,
        };
        let (marks, LocalVerify { summary, .. }) = judge(
            &[candidate(Status::Running { lease }, None)],
            &answer(Presence::Missing),
        );
        assert!(marks.is_empty());
        assert_eq!(summary, VerifySummary::default());
    }
}
