//! `opm rollout status | resume | abort` and the rollout an operator's
//! command opens (`--max-parallel`, `--max-failures`, `--canary`): the
//! rules are `opm_plan`'s (`resume_rollout`, `abort_rollout`), the
//! bookkeeping [`crate::rollout`]'s; this module picks the rollout meant,
//! checks and shapes.

use opm_model::api::{RolloutBody, RolloutLine};
use opm_model::{Name, RolloutPolicy, TargetKind};
use opm_plan::{MemberState, abort_rollout, resume_rollout};
use opm_store::{AuditAction, Change, Rollout, Store};

use super::audit::{Asked, rollout_subject};
use super::{OperateError, Result};
use crate::clock::utc;
use crate::rollout::{self, Viewed};

/// A rollout as the operator sees it.
fn line(viewed: &Viewed) -> RolloutLine {
    let count = |state| {
        viewed
            .members
            .iter()
            .filter(|(_, member)| *member == state)
            .count()
    };
    let rollout = &viewed.rollout;
    RolloutLine {
        id: rollout.id,
        label: rollout.label.clone(),
        packages: rollout.packages.iter().map(ToString::to_string).collect(),
        policy: rollout.policy,
        state: rollout.state,
        message: rollout.message.clone(),
        replaced: rollout.closed,
        nodes: viewed.members.len(),
        idle: count(MemberState::Idle),
        waiting: count(MemberState::Waiting),
        running: count(MemberState::Running),
        finished: count(MemberState::Finished),
        failed: count(MemberState::Failed),
        created: utc(rollout.created_ms),
        created_ms: rollout.created_ms,
        changed_ms: rollout.changed_ms,
    }
}

/// `opm rollout status` (`GET /v1/rollouts`): every rollout, newest
/// first, with where its nodes stand.
///
/// # Errors
/// The store's failure.
pub async fn rollouts<S: Store>(store: &S) -> Result<Vec<RolloutLine>> {
    let mut lines = Vec::new();
    for stored in store.rollouts().await? {
        lines.push(line(&rollout::view(store, stored).await?));
    }
    Ok(lines)
}

/// The rollout `body` names, or the only one that holds nodes back.
async fn pick<S: Store>(store: &S, body: &RolloutBody) -> Result<Rollout> {
    let rollouts = store.rollouts().await?;
    if let Some(id) = body.id {
        return rollouts
            .into_iter()
            .find(|rollout| rollout.id == id)
            .ok_or_else(|| {
                OperateError::BadInput(format!("no rollout {id}; 'opm rollout status' lists them"))
            });
    }
    let mut holding: Vec<Rollout> = rollouts.into_iter().filter(Rollout::holds).collect();
    match holding.len() {
        0 => Err(OperateError::BadInput(
            "no rollout is in progress; 'opm rollout status' lists the earlier ones".to_owned(),
        )),
        1 => Ok(holding.remove(0)),
        _ => Err(OperateError::BadInput(format!(
            "{} rollouts are in progress ({}); say which: 'opm rollout resume ID'",
            holding.len(),
            holding
                .iter()
                .map(|rollout| format!("{} {}", rollout.id, rollout.label))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `opm rollout resume [ID]` (`POST /v1/rollouts/resume`): a paused
/// rollout goes on, once its failed nodes are cleared (`opm retry`); the
/// nodes it may start now are started.
///
/// # Errors
/// Bad input when there is no such rollout, it is done or aborted, or
/// more nodes than its budget allows are still failed (nothing changed).
pub async fn rollout_resume<S: Store>(
    store: &S,
    body: &RolloutBody,
    asked: &Asked,
) -> Result<RolloutLine> {
    let picked = pick(store, body).await?;
    let viewed = rollout::view(store, picked).await?;
    let state = resume_rollout(&viewed.view()).map_err(OperateError::BadInput)?;
    let id = viewed.rollout.id;
    let change = Change::RolloutState {
        id,
        state,
        message: String::new(),
        canary_pending: viewed.rollout.canary_pending,
    };
    let subject = rollout_subject(id, &viewed.rollout.label, state);
    asked
        .apply(store, [change], AuditAction::RolloutResume, subject)
        .await?;
    rollout::advance(store, asked.now_ms).await?;
    shown(store, id).await
}

/// `opm rollout abort [ID]` (`POST /v1/rollouts/abort`): no new node
/// starts; nodes already started go on, finished ones stay as they are.
///
/// # Errors
/// Bad input when there is no such rollout, or it is aborted or done
/// already (nothing changed).
pub async fn rollout_abort<S: Store>(
    store: &S,
    body: &RolloutBody,
    asked: &Asked,
) -> Result<RolloutLine> {
    let picked = pick(store, body).await?;
    let viewed = rollout::view(store, picked).await?;
    let state = abort_rollout(&viewed.view()).map_err(OperateError::BadInput)?;
    let id = viewed.rollout.id;
    let change = Change::RolloutState {
        id,
        state,
        message: String::new(),
        canary_pending: viewed.rollout.canary_pending,
    };
    let subject = rollout_subject(id, &viewed.rollout.label, state);
    asked
        .apply(store, [change], AuditAction::RolloutAbort, subject)
        .await?;
    shown(store, id).await
}

/// Rollout `id` as it is now.
async fn shown<S: Store>(store: &S, id: i64) -> Result<RolloutLine> {
    let stored = store
        .rollouts()
        .await?
        .into_iter()
        .find(|rollout| rollout.id == id)
        .ok_or_else(|| OperateError::BadInput(format!("no rollout {id}")))?;
    Ok(line(&rollout::view(store, stored).await?))
}

/// Checks a command's rollout policy alone (a dry run's too).
///
/// # Errors
/// Bad input: a policy that would start no node.
pub fn check(policy: &RolloutPolicy) -> Result<()> {
    policy.check().map_err(OperateError::BadInput)
}

/// Checks a command's rollout policy and that no rollout of its opkgs is
/// still running or paused, before the command changes anything.
///
/// # Errors
/// Bad input: a policy that would start no node, or a rollout in the way.
pub async fn check_start<S: Store>(
    store: &S,
    packages: &[Name],
    policy: &RolloutPolicy,
    now_ms: i64,
) -> Result<()> {
    policy.check().map_err(OperateError::BadInput)?;
    let busy = rollout::unfinished(store, packages, now_ms).await?;
    match rollout::busy_refusal(&busy) {
        Some(refusal) => Err(OperateError::BadInput(refusal)),
        None => Ok(()),
    }
}

/// What a rollout of `packages` is called: each with the version its
/// rows go to ("motd 1:3.2-1"), after `what` the command does, if given.
///
/// # Errors
/// The store's failure.
pub async fn label<S: Store>(store: &S, what: &str, packages: &[Name]) -> Result<String> {
    let opkgs = store.opkgs().await?;
    let named: Vec<String> = packages
        .iter()
        .map(|package| {
            opkgs
                .iter()
                .find(|opkg| opkg.import.name == *package)
                .map_or_else(
                    || package.to_string(),
                    |opkg| format!("{package} {}", opkg.wanted_version),
                )
        })
        .collect();
    let named = named.join(", ");
    Ok(if what.is_empty() {
        named
    } else {
        format!("{what} {named}")
    })
}

/// The compute nodes that have rows of `packages`, by name (the head
/// node's rows are never in a rollout).
///
/// # Errors
/// The store's failure.
pub async fn nodes_with_rows<S: Store>(store: &S, packages: &[Name]) -> Result<Vec<Name>> {
    let head = store.head_node().await?;
    let mut nodes: Vec<Name> = store
        .rows_for_opkgs(packages)
        .await?
        .into_iter()
        .filter(|stored| {
            stored.row.target.kind == TargetKind::Node
                && Some(&stored.row.target.name) != head.as_ref()
        })
        .map(|stored| stored.row.target.name)
        .collect();
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

/// Opens the rollout of a command that changed requests (see
/// [`rollout::begin`]).
///
/// # Errors
/// The store's failure.
pub async fn open<S: Store>(
    store: &S,
    label: String,
    packages: Vec<Name>,
    policy: RolloutPolicy,
    members: Vec<Name>,
    now_ms: i64,
) -> Result<Option<i64>> {
    Ok(rollout::begin(store, label, packages, policy, members, now_ms).await?)
}
