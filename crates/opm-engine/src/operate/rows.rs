//! The rows and the install phase: `status`, `retry`, `rerun` and
//! `cluster phase`.

use std::collections::BTreeSet;

use opm_model::api::{PhaseBody, PhaseSet, RerunBody, RetryBody, RowFilter, StatusRow};
use opm_model::{DrainState, Name, Status, Target, TargetKind};
use opm_plan::drain::waiting_message;
use opm_store::{AuditAction, Change, Store, StoredRow};

use super::audit::{Asked, phase_subject, rerun_subject, retry_subject};
use super::hint::hinted;
use super::rollouts;
use super::{OperateError, Result};
use crate::load::each_row;
use crate::rollout::HeldRows;

/// `opm status` (`GET /v1/status`): the rows `filter` keeps, in id order.
///
/// # Errors
/// A filter naming a node, image, group or opkg the database does not
/// know (a typo is an error, not an empty answer), or the store's failure.
pub async fn status<S: Store>(store: &S, filter: &RowFilter) -> Result<Vec<StatusRow>> {
    hinted(store, status_unhinted(store, filter).await).await
}

/// [`status`] before an unknown name's hint.
async fn status_unhinted<S: Store>(store: &S, filter: &RowFilter) -> Result<Vec<StatusRow>> {
    let held = HeldRows::load(store).await?;
    // Nodes opm waits on to drain: their rows that wait say so.
    let draining: BTreeSet<Name> = store
        .node_drains()
        .await?
        .into_iter()
        .filter(|(_, state)| matches!(state, DrainState::Draining { .. }))
        .map(|(node, _)| node)
        .collect();
    let mut rows = Vec::new();
    each_kept(store, filter, |stored| {
        let row = &stored.row;
        let mut shown = StatusRow::of(row, stored.wanted_version.as_deref());
        // A row a rollout holds back says so (SPEC §1.10).
        if let Some(reason) = held.reason(row) {
            reason.clone_into(&mut shown.message);
        } else if row.target.kind == TargetKind::Node
            && row.status == Status::Ok
            && row.is_pending()
            && draining.contains(&row.target.name)
        {
            shown.message = waiting_message(&row.target.name);
        }
        rows.push(shown);
    })
    .await?;
    Ok(rows)
}

/// Visits each row `filter` keeps, in id order, after refusing the names
/// it gives that are not registered: what `status` lists and whose
/// entries `history` shows.
pub(super) async fn each_kept<S: Store>(
    store: &S,
    filter: &RowFilter,
    mut visit: impl FnMut(StoredRow),
) -> Result<()> {
    let members = check_filter(store, filter).await?;
    each_row(store, |stored| {
        let row = &stored.row;
        if filter.keeps(row, || members.contains(&row.target.name)) {
            visit(stored);
        }
    })
    .await?;
    Ok(())
}

/// Refuses a filter naming what is not registered; the nodes of its
/// group, if it names one.
pub(super) async fn check_filter<S: Store>(
    store: &S,
    filter: &RowFilter,
) -> Result<BTreeSet<Name>> {
    if let Some(node) = &filter.node
        && !store.nodes().await?.iter().any(|n| &n.name == node)
    {
        return Err(OperateError::BadInput(format!(
            "unknown node '{node}'; see 'opm node list'"
        )));
    }
    if let Some(image) = &filter.image
        && !store.images().await?.iter().any(|i| &i.name == image)
    {
        return Err(OperateError::BadInput(format!(
            "unknown image '{image}'; see 'opm image list'"
        )));
    }
    if let Some(package) = &filter.package {
        known_opkg(store, package).await?;
    }
    let Some(group) = &filter.group else {
        return Ok(BTreeSet::new());
    };
    let members: BTreeSet<Name> = store
        .nodes()
        .await?
        .into_iter()
        .filter(|node| node.groups.contains(group))
        .map(|node| node.name)
        .collect();
    if members.is_empty() {
        return Err(OperateError::BadInput(format!(
            "group '{group}' has no nodes; see 'opm node list'"
        )));
    }
    Ok(members)
}

/// Refuses an opkg that was never imported, so the message says so
/// rather than "no row".
pub(super) async fn known_opkg<S: Store>(store: &S, package: &Name) -> Result<()> {
    if store
        .opkgs()
        .await?
        .iter()
        .any(|o| &o.import.name == package)
    {
        Ok(())
    } else {
        Err(OperateError::BadInput(format!(
            "unknown opkg '{package}'; see 'opm opkg list'"
        )))
    }
}

/// `opm cluster phase` (`GET /v1/phase`).
///
/// # Errors
/// The store's failure.
pub async fn phase<S: Store>(store: &S) -> Result<PhaseBody> {
    Ok(PhaseBody {
        phase: store.phase().await?,
        dry_run: false,
    })
}

/// `opm cluster phase PHASE` (`PUT /v1/phase`): gated stages may now run;
/// says so when the phase moves backwards or skips phases
/// ([`opm_model::Phase::change_warning`]).
///
/// # Errors
/// The store's failure.
pub async fn set_phase<S: Store>(store: &S, body: &PhaseBody, asked: &Asked) -> Result<PhaseSet> {
    let previous = store.phase().await?;
    if !body.dry_run {
        let set = Change::SetPhase(body.phase);
        asked
            .apply(store, [set], AuditAction::Phase, phase_subject(body))
            .await?;
    }
    Ok(PhaseSet {
        phase: body.phase,
        previous,
        warning: previous.change_warning(body.phase),
        dry_run: body.dry_run,
    })
}

/// Checks the opkg and the target exist before a row operation.
async fn check_row<S: Store>(store: &S, target: &Target, package: &Name) -> Result<()> {
    known_opkg(store, package).await?;
    store.rows_for_target(target).await?;
    Ok(())
}

/// `opm retry` (`POST /v1/retry`): clears a row's error, the reason going
/// into history; the failed stage resumes at its failed step, or with
/// `whole_stage` runs from its first.
///
/// # Errors
/// Unknown names, a row not in error, or the store's failure.
pub async fn retry<S: Store>(store: &S, body: &RetryBody, asked: &Asked) -> Result<StatusRow> {
    hinted(store, retry_unhinted(store, body, asked).await).await
}

/// [`retry`] before an unknown name's hint.
async fn retry_unhinted<S: Store>(store: &S, body: &RetryBody, asked: &Asked) -> Result<StatusRow> {
    check_row(store, &body.target, &body.package).await?;
    let retry = Change::Retry {
        target: body.target.clone(),
        opkg: body.package.clone(),
        reason: body.reason.clone(),
        whole_stage: body.whole_stage,
    };
    asked
        .apply(store, [retry], AuditAction::Retry, retry_subject(body))
        .await?;
    row_now(store, &body.target, &body.package).await
}

/// The row as it is after an action changed it.
async fn row_now<S: Store>(store: &S, target: &Target, package: &Name) -> Result<StatusRow> {
    let stored = store.row(target, package).await?;
    Ok(StatusRow::of(&stored.row, stored.wanted_version.as_deref()))
}

/// `opm rerun` (`POST /v1/rerun`): the row's stages from `from` up to
/// its request run again.
///
/// # Errors
/// Unknown names, a stage the row has not passed, or the store's failure.
pub async fn rerun<S: Store>(store: &S, body: &RerunBody, asked: &Asked) -> Result<StatusRow> {
    hinted(store, rerun_unhinted(store, body, asked).await).await
}

/// [`rerun`] before an unknown name's hint.
async fn rerun_unhinted<S: Store>(store: &S, body: &RerunBody, asked: &Asked) -> Result<StatusRow> {
    check_row(store, &body.target, &body.package).await?;
    let packages = [body.package.clone()];
    rollouts::check_start(store, &packages, &body.rollout, asked.now_ms).await?;
    let rerun = Change::Rerun {
        target: body.target.clone(),
        opkg: body.package.clone(),
        from: body.from,
    };
    asked
        .apply(store, [rerun], AuditAction::Rerun, rerun_subject(body))
        .await?;
    let head = store.head_node().await?;
    let members = if body.target.kind == opm_model::TargetKind::Node
        && head.as_ref() != Some(&body.target.name)
    {
        vec![body.target.name.clone()]
    } else {
        Vec::new()
    };
    let label = rollouts::label(store, "rerun of", &packages).await?;
    rollouts::open(
        store,
        label,
        packages.to_vec(),
        body.rollout,
        members,
        asked.now_ms,
    )
    .await?;
    row_now(store, &body.target, &body.package).await
}
