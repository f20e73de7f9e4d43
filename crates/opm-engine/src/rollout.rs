//! Rollouts at work (SPEC §1.10): [`advance`] applies
//! `opm_plan::decide_rollout` to each rollout that holds nodes back and
//! records what it decided (members started, a pause, done); [`gate`] is
//! the one check where work is handed to nodes (an agent's poll, a node's
//! own `opm run`): a row of a rollout's opkg on a node the rollout has
//! not started gets no work, and says why. [`begin`] opens a rollout for
//! an operator's command and [`view`] shows one.
//!
//! Where a member stands is derived from its rows each time, never kept:
//! after `opm retry` a failed node is running again, and a restarted
//! server sees what the store holds.

use std::collections::{BTreeMap, BTreeSet};

use opm_model::api::Waiting;
use opm_model::{Name, RolloutPolicy, RolloutState, Target, TargetKind};
use opm_plan::{Held, MemberState, RolloutView, Work, decide_rollout, held_reason};
use opm_store::{NewRollout, Rollout, Store, StoreError};

use crate::retry::store_call;

/// How one node's rows of a rollout's opkgs stand.
#[derive(Debug, Clone, Copy, Default)]
struct NodeRows {
    any: bool,
    pending: bool,
    error: bool,
}

/// Each compute node's rows of `packages`, summed up.
async fn node_rows<S: Store>(
    store: &S,
    packages: &[Name],
    head: Option<&Name>,
) -> Result<BTreeMap<Name, NodeRows>, StoreError> {
    let rows = store_call(|| store.rows_for_opkgs(packages)).await?;
    let mut nodes: BTreeMap<Name, NodeRows> = BTreeMap::new();
    for stored in rows {
        let row = stored.row;
        if row.target.kind != TargetKind::Node || Some(&row.target.name) == head {
            continue;
        }
        let sums = nodes.entry(row.target.name.clone()).or_default();
        sums.any = true;
        sums.pending |= row.is_pending();
        sums.error |= row.status.kind() == opm_model::StatusKind::Error;
    }
    Ok(nodes)
}

/// Where a member stands: started or not, and its rows.
fn member_state(started: bool, rows: NodeRows) -> MemberState {
    match (started, rows) {
        (true, NodeRows { error: true, .. }) => MemberState::Failed,
        (true, NodeRows { pending: true, .. }) => MemberState::Running,
        (true, _) => MemberState::Finished,
        (false, NodeRows { pending: true, .. }) => MemberState::Waiting,
        // Rows at rest before the rollout touched the node: nothing to do.
        (false, NodeRows { any: true, .. }) => MemberState::Finished,
        (false, _) => MemberState::Idle,
    }
}

/// A rollout's members and where each stands, in start order; with
/// `join`, nodes with pending rows of its opkgs that are not members yet
/// join it first (a node added while it runs).
async fn members<S: Store>(
    store: &S,
    rollout: &Rollout,
    head: Option<&Name>,
    join: bool,
) -> Result<Vec<(Name, MemberState)>, StoreError> {
    let rows = node_rows(store, &rollout.packages, head).await?;
    let mut members = store_call(|| store.rollout_members(rollout.id)).await?;
    if join && rollout.holds() {
        let known: BTreeSet<&Name> = members.iter().map(|member| &member.node).collect();
        let newcomers: Vec<Name> = rows
            .iter()
            .filter(|(node, sums)| sums.pending && !known.contains(node))
            .map(|(node, _)| node.clone())
            .collect();
        if !newcomers.is_empty() {
            store_call(|| store.join_rollout(rollout.id, &newcomers)).await?;
            members = store_call(|| store.rollout_members(rollout.id)).await?;
        }
    }
    Ok(members
        .into_iter()
        .map(|member| {
            let sums = rows.get(&member.node).copied().unwrap_or_default();
            let state = member_state(member.started_ms.is_some(), sums);
            (member.node, state)
        })
        .collect())
}

/// One rollout as the operator sees it: stored, and its members' states.
#[derive(Debug, Clone)]
pub struct Viewed {
    /// The stored rollout (its state as last recorded).
    pub rollout: Rollout,
    /// Each member and where it stands, in start order.
    pub members: Vec<(Name, MemberState)>,
}

impl Viewed {
    /// The rule's view of it.
    pub fn view(&self) -> RolloutView<'_> {
        RolloutView {
            label: &self.rollout.label,
            policy: self.rollout.policy,
            state: self.rollout.state,
            members: &self.members,
        }
    }
}

/// Loads `rollout` with its members' states; writes nothing (a node
/// that has not joined yet is not shown until a decider takes it in).
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn view<S: Store>(store: &S, rollout: Rollout) -> Result<Viewed, StoreError> {
    let head = store_call(|| store.head_node()).await?;
    let members = members(store, &rollout, head.as_ref(), false).await?;
    Ok(Viewed { rollout, members })
}

/// Decides every rollout that holds nodes back and records the decisions:
/// members started, pauses, rollouts done. The nodes started.
///
/// A decision made while another decider started members is dropped (the
/// store's generation moved): the next call decides again.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn advance<S: Store>(store: &S, now_ms: i64) -> Result<Vec<Name>, StoreError> {
    let rollouts = store_call(|| store.rollouts()).await?;
    let mut started = Vec::new();
    if !rollouts.iter().any(Rollout::holds) {
        return Ok(started);
    }
    let head = store_call(|| store.head_node()).await?;
    for rollout in rollouts.into_iter().filter(Rollout::holds) {
        let viewed = Viewed {
            members: members(store, &rollout, head.as_ref(), true).await?,
            rollout,
        };
        let view = viewed.view();
        let decision = decide_rollout(&view);
        let rollout = &viewed.rollout;
        if !decision.start.is_empty()
            && store_call(|| {
                store.start_rollout_members(rollout.id, rollout.generation, &decision.start, now_ms)
            })
            .await?
        {
            started.extend(decision.start.iter().cloned());
        }
        let message = match (decision.state, &decision.paused) {
            (_, Some(why)) => why.clone(),
            (RolloutState::Paused, None) => rollout.message.clone(),
            _ => String::new(),
        };
        let canary_pending = view.canary_pending();
        if decision.state != rollout.state
            || message != rollout.message
            || canary_pending != rollout.canary_pending
        {
            if let Some(why) = &decision.paused {
                tracing::warn!("{why}");
            }
            store_call(|| {
                store.set_rollout_state(
                    rollout.id,
                    decision.state,
                    &message,
                    canary_pending,
                    now_ms,
                )
            })
            .await?;
        }
    }
    Ok(started)
}

/// What [`gate`] let through and what it held back.
#[derive(Debug)]
pub struct Gated<I> {
    /// The work the nodes may start.
    pub works: Vec<(I, Target, Work)>,
    /// Rows held back by a rollout, each with why.
    pub held: Vec<Waiting>,
    /// Whether a node joined a rollout (a decider should look again).
    pub joined: bool,
}

/// The single check where work is handed to nodes: the rows of a
/// rollout's opkgs on a node the rollout has not started are held back,
/// with the reason their node is told ("waiting: rollout motd 1:3.2-1,
/// batch 2 of 5"). A node that is no member yet joins the rollout (at
/// the end of its order) and waits. Costs one small read of the
/// rollouts, and one row per node with such work.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn gate<S: Store, I>(
    store: &S,
    works: Vec<(I, Target, Work)>,
) -> Result<Gated<I>, StoreError> {
    let mut gated = Gated {
        works: Vec::with_capacity(works.len()),
        held: Vec::new(),
        joined: false,
    };
    if works.is_empty() {
        return Ok(gated);
    }
    let rollouts: Vec<Rollout> = store_call(|| store.rollouts())
        .await?
        .into_iter()
        .filter(Rollout::holds)
        .collect();
    if rollouts.is_empty() {
        gated.works = works;
        return Ok(gated);
    }
    // Per (rollout, node): the reason it is held, or none when started.
    let mut verdicts: BTreeMap<(i64, Name), Option<String>> = BTreeMap::new();
    for (id, target, work) in works {
        let holder = rollouts
            .iter()
            .find(|rollout| rollout.packages.contains(&work.package));
        let (Some(rollout), TargetKind::Node) = (holder, target.kind) else {
            gated.works.push((id, target, work));
            continue;
        };
        let key = (rollout.id, target.name.clone());
        if !verdicts.contains_key(&key) {
            let verdict = held(store, rollout, &target.name, &mut gated.joined).await?;
            verdicts.insert(key.clone(), verdict);
        }
        match verdicts.get(&key).cloned().flatten() {
            None => gated.works.push((id, target, work)),
            Some(reason) => gated.held.push(Waiting {
                row: format!("{target} / {}", work.package),
                reason,
            }),
        }
    }
    Ok(gated)
}

/// Why `node`'s rows of `rollout` are held back; `None` once it started.
async fn held<S: Store>(
    store: &S,
    rollout: &Rollout,
    node: &Name,
    joined: &mut bool,
) -> Result<Option<String>, StoreError> {
    let mut member = store_call(|| store.rollout_member(rollout.id, node)).await?;
    let mut total = rollout.members;
    if member.is_none() {
        let joining = [node.clone()];
        store_call(|| store.join_rollout(rollout.id, &joining)).await?;
        *joined = true;
        member = store_call(|| store.rollout_member(rollout.id, node)).await?;
        total = total.max(member.as_ref().map_or(0, |member| member.seq + 1));
    }
    let Some(member) = member else {
        // Removed meanwhile: nothing to hold.
        return Ok(None);
    };
    if member.started_ms.is_some() {
        return Ok(None);
    }
    Ok(Some(held_reason(&Held {
        label: &rollout.label,
        policy: rollout.policy,
        state: rollout.state,
        paused: &rollout.message,
        canary_pending: rollout.canary_pending,
        index: member.seq,
        total,
    })))
}

/// The nodes each rollout that holds nodes back has not started, with
/// what they are told: what `opm status` shows in such a node's rows.
#[derive(Debug, Default)]
pub struct HeldRows {
    rollouts: Vec<(Vec<Name>, BTreeMap<Name, String>)>,
}

impl HeldRows {
    /// Reads them: one read of the rollouts and one of each holding
    /// rollout's members.
    ///
    /// # Errors
    /// A store failure that retrying did not cure.
    pub async fn load<S: Store>(store: &S) -> Result<HeldRows, StoreError> {
        let mut held = HeldRows::default();
        let rollouts = store_call(|| store.rollouts()).await?;
        for rollout in rollouts.into_iter().filter(Rollout::holds) {
            let members = store_call(|| store.rollout_members(rollout.id)).await?;
            let waiting = members
                .into_iter()
                .filter(|member| member.started_ms.is_none())
                .map(|member| {
                    let reason = held_reason(&Held {
                        label: &rollout.label,
                        policy: rollout.policy,
                        state: rollout.state,
                        paused: &rollout.message,
                        canary_pending: rollout.canary_pending,
                        index: member.seq,
                        total: rollout.members,
                    });
                    (member.node, reason)
                })
                .collect();
            held.rollouts.push((rollout.packages, waiting));
        }
        Ok(held)
    }

    /// Why `row` gets no work now, when a rollout holds it back (a row
    /// with work, at rest in no error, of a node not started).
    pub fn reason(&self, row: &opm_model::Row) -> Option<&str> {
        if row.target.kind != TargetKind::Node
            || !row.is_pending()
            || row.status != opm_model::Status::Ok
        {
            return None;
        }
        self.rollouts
            .iter()
            .find(|(packages, _)| packages.contains(&row.package))
            .and_then(|(_, waiting)| waiting.get(&row.target.name))
            .map(String::as_str)
    }
}

/// The rollouts that hold back nodes for any of `packages` and have not
/// been aborted: a new command for those opkgs waits for them.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn unfinished<S: Store>(
    store: &S,
    packages: &[Name],
    now_ms: i64,
) -> Result<Vec<Rollout>, StoreError> {
    // Decided first: a rollout whose last node just finished is done.
    advance(store, now_ms).await?;
    Ok(store_call(|| store.rollouts())
        .await?
        .into_iter()
        .filter(|rollout| {
            rollout.holds()
                && rollout.state != RolloutState::Aborted
                && rollout.packages.iter().any(|p| packages.contains(p))
        })
        .collect())
}

/// Why a command for `packages` cannot start while `busy` rollouts run.
pub fn busy_refusal(busy: &[Rollout]) -> Option<String> {
    let first = busy.first()?;
    Some(format!(
        "rollout {} ({}) is {} for these opkgs; let it finish (opm rollout status), or stop \
         it with 'opm rollout abort {}'",
        first.id, first.label, first.state, first.id
    ))
}

/// Opens a rollout for a command's `packages` on `members` (compute
/// nodes, in start order) when `policy` bounds anything and there are
/// members; earlier aborted
/// rollouts of those opkgs stop holding their nodes back either way. The
/// new rollout's id, if one was opened.
///
/// # Errors
/// A store failure that retrying did not cure.
pub async fn begin<S: Store>(
    store: &S,
    label: String,
    packages: Vec<Name>,
    policy: RolloutPolicy,
    members: Vec<Name>,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let replaced: Vec<i64> = store_call(|| store.rollouts())
        .await?
        .into_iter()
        .filter(|rollout| rollout.holds() && rollout.packages.iter().any(|p| packages.contains(p)))
        .map(|rollout| rollout.id)
        .collect();
    if !replaced.is_empty() {
        store_call(|| store.close_rollouts(&replaced, now_ms)).await?;
    }
    // No node to spread out (a head-node-only rerun, an empty group):
    // nothing to keep.
    if !policy.is_set() || members.is_empty() {
        return Ok(None);
    }
    let new = NewRollout {
        label,
        packages,
        policy,
        members,
    };
    let id = store_call(|| store.open_rollout(&new, now_ms)).await?;
    Ok(Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_members_state_comes_from_its_rows() {
        let rows = |any, pending, error| NodeRows {
            any,
            pending,
            error,
        };
        assert_eq!(
            member_state(true, rows(true, true, true)),
            MemberState::Failed
        );
        assert_eq!(
            member_state(true, rows(true, true, false)),
            MemberState::Running
        );
        assert_eq!(
            member_state(true, rows(true, false, false)),
            MemberState::Finished
        );
        assert_eq!(
            member_state(false, rows(true, true, true)),
            MemberState::Waiting
        );
        assert_eq!(
            member_state(false, rows(true, false, false)),
            MemberState::Finished
        );
        assert_eq!(
            member_state(false, rows(false, false, false)),
            MemberState::Idle
        );
    }
}
