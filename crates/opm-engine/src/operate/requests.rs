//! `install`, `remove` and `request`: the request changes of
//! [`crate::requests`] (the planner's rules, checked in full on a
//! snapshot, written in one transaction), with the targets a request
//! names resolved and the outcome shaped for the operator.

use opm_model::api::{InstallBody, RemoveBody, RequestBody, RequestOutcome};
use opm_model::{Name, NameKind, Target};
use opm_plan::RequestChange;
use opm_store::{AuditAction, Change, DEFAULT_GROUP, Store};

use super::audit::{Asked, install_subject, remove_subject, request_subject};
use super::hint::hinted;
use super::rollouts;
use super::{OperateError, Result, changed};
use crate::requests::{self, Snapshot};

/// The audit entry a request change writes: none for a dry run, which
/// writes nothing.
fn audit(dry_run: bool, entry: impl FnOnce() -> Change) -> Option<Change> {
    (!dry_run).then(entry)
}

fn outcome(changes: &[RequestChange], warnings: Vec<String>, dry_run: bool) -> RequestOutcome {
    RequestOutcome {
        changes: changes.iter().map(changed).collect(),
        warnings,
        dry_run,
    }
}

/// `opm install PKG... [--group G]` (`POST /v1/install`); warns about
/// dependencies that are not requested, whose stages would wait.
///
/// # Errors
/// A refusal (nothing changed), or the store's failure.
pub async fn install<S: Store>(
    store: &S,
    body: &InstallBody,
    asked: &Asked,
) -> Result<RequestOutcome> {
    hinted(store, install_unhinted(store, body, asked).await).await
}

/// [`install`] before an unknown name's hint.
async fn install_unhinted<S: Store>(
    store: &S,
    body: &InstallBody,
    asked: &Asked,
) -> Result<RequestOutcome> {
    let packages = requests::unique(body.packages.clone());
    rollouts::check(&body.rollout)?;
    if !body.dry_run {
        rollouts::check_start(store, &packages, &body.rollout, asked.now_ms).await?;
    }
    let mut snapshot = Snapshot::load(store).await?;
    let changes = requests::install(
        store,
        &mut snapshot,
        &packages,
        body.group.clone(),
        asked.now_ms,
        audit(body.dry_run, || {
            asked.entry(AuditAction::Install, install_subject(body))
        }),
    )
    .await?;
    let warnings = snapshot
        .missing_dependencies(&packages)
        .into_iter()
        .map(|(package, dependency)| {
            format!(
                "{package} depends on {dependency}, which is not requested; its stages wait \
                 until you run 'opm install {dependency}'"
            )
        })
        .collect();
    if !body.dry_run {
        // The nodes that get the opkgs at run-script-post-clients.
        let group = match &body.group {
            Some(group) => group.clone(),
            None => Name::new(NameKind::Group, DEFAULT_GROUP)
                .map_err(|error| OperateError::BadInput(error.to_string()))?,
        };
        let members = store.group_members(&group).await?;
        let label = rollouts::label(store, "", &packages).await?;
        rollouts::open(store, label, packages, body.rollout, members, asked.now_ms).await?;
    }
    Ok(outcome(&changes, warnings, body.dry_run))
}

/// `opm remove PKG... [--with-dependents]` (`POST /v1/remove`).
///
/// # Errors
/// A refusal (nothing changed), or the store's failure.
pub async fn remove<S: Store>(
    store: &S,
    body: &RemoveBody,
    asked: &Asked,
) -> Result<RequestOutcome> {
    hinted(store, remove_unhinted(store, body, asked).await).await
}

/// [`remove`] before an unknown name's hint.
async fn remove_unhinted<S: Store>(
    store: &S,
    body: &RemoveBody,
    asked: &Asked,
) -> Result<RequestOutcome> {
    let packages = requests::unique(body.packages.clone());
    rollouts::check(&body.rollout)?;
    if !body.dry_run {
        rollouts::check_start(store, &packages, &body.rollout, asked.now_ms).await?;
    }
    let mut snapshot = Snapshot::load(store).await?;
    let changes = requests::remove(
        store,
        &mut snapshot,
        &packages,
        body.with_dependents,
        asked.now_ms,
        audit(body.dry_run, || {
            asked.entry(AuditAction::Remove, remove_subject(body))
        }),
    )
    .await?;
    if !body.dry_run {
        // The dependents taken down too are in the changes.
        let mut removed: Vec<Name> = changes.iter().map(|c| c.package.clone()).collect();
        removed.extend(packages);
        removed.sort();
        removed.dedup();
        let members = rollouts::nodes_with_rows(store, &removed).await?;
        let label = rollouts::label(store, "removal of", &removed).await?;
        rollouts::open(store, label, removed, body.rollout, members, asked.now_ms).await?;
    }
    Ok(outcome(&changes, Vec::new(), body.dry_run))
}

/// `opm request PKG --stage STAGE (--node N | --image I | --group G |
/// --server)` (`POST /v1/request`), with the checks of `install` (names,
/// conflicts).
///
/// # Errors
/// A refusal (nothing changed), or the store's failure.
pub async fn request<S: Store>(
    store: &S,
    body: &RequestBody,
    asked: &Asked,
) -> Result<RequestOutcome> {
    hinted(store, request_unhinted(store, body, asked).await).await
}

/// [`request`] before an unknown name's hint.
async fn request_unhinted<S: Store>(
    store: &S,
    body: &RequestBody,
    asked: &Asked,
) -> Result<RequestOutcome> {
    let mut snapshot = Snapshot::load(store).await?;
    let targets = targets(&snapshot, body)?;
    let changes = requests::request(
        store,
        &mut snapshot,
        &targets,
        &body.package,
        body.stage,
        asked.now_ms,
        audit(body.dry_run, || {
            asked.entry(AuditAction::Request, request_subject(body))
        }),
    )
    .await?;
    Ok(outcome(&changes, Vec::new(), body.dry_run))
}

/// The targets a request names: exactly one of a target, a group (its
/// nodes, at least one) or the head node.
fn targets(snapshot: &Snapshot, body: &RequestBody) -> Result<Vec<Target>> {
    match (&body.target, &body.group, body.server) {
        (Some(target), None, false) => Ok(vec![target.clone()]),
        (None, None, true) => Ok(vec![snapshot.head()]),
        (None, Some(group), false) => {
            let members = group_members(snapshot, group);
            if members.is_empty() {
                return Err(OperateError::BadInput(format!(
                    "group '{group}' has no nodes; add some with 'opm node add NAME --group {group}'"
                )));
            }
            Ok(members)
        }
        _ => Err(OperateError::BadInput(
            "say which rows: --node N, --image I, --group G or --server".to_owned(),
        )),
    }
}

fn group_members(snapshot: &Snapshot, group: &Name) -> Vec<Target> {
    snapshot
        .cluster
        .nodes
        .iter()
        .filter(|(_, groups)| groups.contains(group))
        .map(|(node, _)| Target::node(node.clone()))
        .collect()
}
