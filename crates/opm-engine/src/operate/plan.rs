//! `opm plan` (`GET /v1/plan`): what `opm run` would do now, per row that
//! needs work: its next action or exactly what it waits for (a rollout
//! that has not started its node among them). Writes nothing.

use std::path::PathBuf;

use opm_model::api::{PlanLine, RowFilter};
use opm_model::{Role, Row};
use opm_plan::{Blocked, Decision};
use opm_store::Store;

use super::hint::hinted;
use super::{OperateError, Result};
use crate::load::{Identity, load, load_cluster};
use crate::rollout::HeldRows;

/// Whose rows a plan decides: on the head node every row of the cluster
/// (nodes' rows too), elsewhere this machine's; and how to tell a dead
/// local lease owner (the process table).
#[derive(Debug, Clone)]
pub struct PlanScope {
    /// This machine.
    pub identity: Identity,
    /// This machine's host name (the host part of lease owners).
    pub host: String,
    /// The process table (`/proc`).
    pub proc_dir: PathBuf,
}

/// A row's plan line.
pub fn plan_line(row: &Row, decision: &Decision) -> PlanLine {
    PlanLine {
        target: row.target.name.to_string(),
        kind: row.target.kind.name().to_owned(),
        package: row.package.to_string(),
        next: decision.to_string(),
        // A decision is plain data; it always serialises.
        decision: serde_json::to_value(decision).unwrap_or_default(),
    }
}

/// Hands each pending row in scope that `filter` keeps, with its
/// decision, to `sink`, in row order, without holding the lines.
///
/// # Errors
/// A filter naming nothing, a store failure, a row the planner cannot
/// place, or the sink's.
pub async fn plan_each<S: Store>(
    store: &S,
    scope: &PlanScope,
    filter: &RowFilter,
    now_ms: i64,
    sink: &mut (dyn FnMut(PlanLine) -> Result<()> + Send),
) -> Result<()> {
    let members = super::rows::check_filter(store, filter).await?;
    let snapshot = match scope.identity.role {
        Role::Server => {
            load_cluster(
                store,
                &scope.host,
                &scope.proc_dir,
                now_ms,
                &scope.identity.name,
            )
            .await?
        }
        Role::Client | Role::Image => {
            load(store, &scope.identity, &scope.host, &scope.proc_dir, now_ms).await?
        }
    };
    let held = HeldRows::load(store).await?;
    for stored in &snapshot.mine {
        let row = &stored.row;
        if !filter.keeps(row, || members.contains(&row.target.name)) {
            continue;
        }
        let mut decision = snapshot
            .cluster
            .decide(row, now_ms)
            .map_err(OperateError::from)?;
        // The stage waits for the rollout to start its node (the gate).
        if let (Decision::Perform(_), Some(reason)) = (&decision, held.reason(row)) {
            decision = Decision::Blocked(Blocked::Rollout {
                reason: reason.to_owned(),
            });
        }
        sink(plan_line(row, &decision))?;
    }
    Ok(())
}

/// Every line of [`plan_each`], gathered.
///
/// # Errors
/// As [`plan_each`].
pub async fn plan<S: Store>(
    store: &S,
    scope: &PlanScope,
    filter: &RowFilter,
    now_ms: i64,
) -> Result<Vec<PlanLine>> {
    hinted(store, plan_unhinted(store, scope, filter, now_ms).await).await
}

/// [`plan`] before an unknown name's hint.
async fn plan_unhinted<S: Store>(
    store: &S,
    scope: &PlanScope,
    filter: &RowFilter,
    now_ms: i64,
) -> Result<Vec<PlanLine>> {
    let mut lines = Vec::new();
    plan_each(store, scope, filter, now_ms, &mut |line| {
        lines.push(line);
        Ok(())
    })
    .await?;
    Ok(lines)
}
