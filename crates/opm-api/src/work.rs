//! What a node's agent gets when it polls: the next stage of each of its
//! rows that can move, decided by the same planner as `opm run`, under one
//! lease of the node with a fresh fencing token, less what a rollout holds
//! back (`opm_engine::rollout::gate`).
//!
//! A node runs one agent. An agent that polls is between batches, so a
//! lease its node's agent still holds (its own earlier one, or that of an
//! earlier process that died mid-stage) is taken over at once: the stage
//! that process had under way runs again and history records the first
//! attempt as interrupted.

use std::collections::BTreeMap;
use std::path::Path;

use opm_engine::Identity;
use opm_engine::load::load;
use opm_engine::order::order_on_target;
use opm_engine::rollout;
use opm_engine::triage::triage;
use opm_model::api::{MAX_AGENT_ID_LEN, WorkBatch, WorkItem};
use opm_model::{Lease, Name, Role, Status, Target};
use opm_plan::Work;
use opm_plan::drain::{NodeWork, changes_packages};
use opm_store::{Outcome, RowAfter, RowId, Store, StoreError};

use crate::drain::{Drains, Gate};
use crate::error::ApiFailure;

/// The lease owner an agent process of `node` works under.
pub fn agent_owner(node: &Name, agent: &str) -> String {
    format!("agent:{node}:{agent}")
}

/// Checks an agent's self-chosen id: short, letters, digits and dashes.
///
/// # Errors
/// [`ApiFailure::BadRequest`] naming the rule.
pub fn check_agent_id(agent: &str) -> Result<(), ApiFailure> {
    let fine = !agent.is_empty()
        && agent.len() <= MAX_AGENT_ID_LEN
        && agent.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if fine {
        Ok(())
    } else {
        Err(ApiFailure::BadRequest(format!(
            "agent id must be 1 to {MAX_AGENT_ID_LEN} letters, digits or dashes"
        )))
    }
}

/// Whether a lease belongs to an agent process of `node`.
fn held_by_agent_of(owner: &str, node: &Name) -> bool {
    owner.starts_with(&format!("agent:{node}:"))
}

/// What a poll hands out.
#[derive(Debug)]
pub struct Handed {
    /// The work, and why the rest waits.
    pub batch: WorkBatch,
    /// Whether the node joined a rollout just now: the head node's pass
    /// decides when it starts.
    pub joined: bool,
}

/// The node's work now, leased to `agent` for `ttl_ms` when there is any.
///
/// # Errors
/// A store failure, or a row the planner cannot place (a 500).
pub async fn work_for<S: Store>(
    store: &S,
    drains: &Drains,
    node: &Name,
    agent: &str,
    ttl_ms: i64,
    now_ms: i64,
) -> Result<Handed, ApiFailure> {
    let me = Identity {
        role: Role::Client,
        name: node.clone(),
    };
    // Agents' leases are not processes of this machine: nothing to lapse
    // by the process table, so it is never read.
    let mut snapshot = load(store, &me, "", Path::new("/nonexistent"), now_ms).await?;
    for stored in &mut snapshot.mine {
        if let Status::Running { lease } = &mut stored.row.status
            && held_by_agent_of(&lease.owner, node)
        {
            lease.expires_at_ms = now_ms;
            snapshot.cluster.upsert(stored.row.clone());
        }
    }
    let sorted = triage(
        &snapshot.cluster,
        snapshot.mine.iter().map(|stored| (stored.id, &stored.row)),
        now_ms,
    )
    // The server's own rows cannot be placed: not the agent's mistake.
    .map_err(|error| ApiFailure::Engine(error.to_string()))?;
    // Orchestration (request changes) is the head node's; a client row
    // never asks for it.
    let releases: Vec<RowId> = sorted.releases.into_iter().map(|(id, _)| id).collect();
    // A rollout that has not started this node holds its rows back.
    let gated = rollout::gate(store, sorted.works).await?;
    let mut ids: BTreeMap<Name, RowId> = BTreeMap::new();
    let mut works: Vec<Work> = gated
        .works
        .into_iter()
        .map(|(id, _, work)| {
            ids.insert(work.package.clone(), id);
            work
        })
        .collect();
    // A stage still running under another holder's unexpired lease (the
    // agent's own were ended above).
    let running = snapshot.mine.iter().any(|stored| {
        matches!(&stored.row.status, Status::Running { lease } if lease.expires_at_ms > now_ms)
    });
    // The node's drain through the scheduler, when the settings ask for
    // one: it may hold all work back, or fail the stages that change
    // packages.
    let mut refused = Vec::new();
    match drains
        .gate(store, node, NodeWork::of(&works, running), now_ms)
        .await?
    {
        Gate::Open => {}
        Gate::Closed => works.clear(),
        Gate::Fail(message) => {
            let (failing, rest): (Vec<Work>, Vec<Work>) =
                works.into_iter().partition(changes_packages);
            works = rest;
            refused = failing
                .into_iter()
                .filter_map(|work| Some((ids.get(&work.package).copied()?, work.stage)))
                .map(|(id, stage)| (id, stage, message.clone()))
                .collect();
        }
    }
    let (errors, mut blocked) = (sorted.errors, sorted.blocked);
    blocked.extend(gated.held);
    let mut batch = WorkBatch {
        token: 0,
        lease_ttl_ms: ttl_ms,
        items: Vec::new(),
        errors,
        blocked,
    };
    if works.is_empty() && releases.is_empty() && refused.is_empty() {
        return Ok(Handed {
            batch,
            joined: gated.joined,
        });
    }
    let target = Target::node(node.clone());
    let lease = lease_for_agent(
        store,
        &target,
        node,
        &agent_owner(node, agent),
        ttl_ms,
        now_ms,
    )
    .await?;
    batch.token = lease.token;
    for id in releases {
        store.release_interrupted(id, lease.token, now_ms).await?;
    }
    for (id, stage, message) in refused {
        refuse(store, id, stage, &message, lease.token, now_ms).await?;
    }
    for work in order_on_target(works, &snapshot.depends_on) {
        let Some(id) = ids.get(&work.package).copied() else {
            continue;
        };
        let attempt = snapshot.next_attempt(id, work.stage);
        let config = store
            .config_values(&work.package, None)
            .await?
            .into_iter()
            .collect();
        // What the row's newest attempt passed, for the agent to resume it;
        // the agent needs no output for that.
        let earlier = store.last_attempt(id).await?.map(|mut earlier| {
            for step in &mut earlier.steps {
                step.output.clear();
            }
            earlier
        });
        batch.items.push(WorkItem {
            row: id.0,
            package: work.package,
            stage: work.stage,
            interrupted: work.interrupted,
            attempt,
            config,
            earlier,
            version: work.version,
            upgrade_from: work.upgrade_from,
        });
    }
    Ok(Handed {
        batch,
        joined: gated.joined,
    })
}

/// Records `stage` of row `id` as an attempt that failed with `message`
/// before it began (its node could not be drained): the row waits in
/// error at its stage, and history says why.
async fn refuse<S: Store>(
    store: &S,
    id: RowId,
    stage: opm_model::Stage,
    message: &str,
    token: u64,
    now_ms: i64,
) -> Result<(), ApiFailure> {
    let attempt = store.begin_attempt(id, stage, token, now_ms).await?;
    let current = store.row_by_id(id).await?.row.current;
    store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: false,
                exit_code: None,
                output: format!("{message}\n"),
                output_bytes: u64::try_from(message.len() + 1).unwrap_or(u64::MAX),
            },
            &RowAfter {
                current,
                error: Some(message.to_owned()),
                version: None,
            },
            token,
            now_ms,
        )
        .await?;
    Ok(())
}

/// Leases the node for `owner`, taking over at once a lease another
/// process of the node's agent left behind.
async fn lease_for_agent<S: Store>(
    store: &S,
    target: &Target,
    node: &Name,
    owner: &str,
    ttl_ms: i64,
    now_ms: i64,
) -> Result<Lease, ApiFailure> {
    match store.acquire_lease(target, owner, ttl_ms, now_ms).await {
        Ok(lease) => Ok(lease),
        Err(StoreError::LeaseHeld {
            owner: holder,
            expires_at_ms,
            ..
        }) if held_by_agent_of(&holder, node) => {
            // Acquire as of the old lease's end, then renew as of now: the
            // token grows, so the old process's late reports are refused.
            let remaining = (now_ms + ttl_ms - expires_at_ms).max(1);
            let lease = store
                .acquire_lease(target, owner, remaining, expires_at_ms)
                .await?;
            Ok(store
                .renew_lease(target, lease.token, ttl_ms, now_ms)
                .await?)
        }
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::NameKind;

    #[test]
    fn agent_ids_are_short_and_plain() {
        assert!(check_agent_id("a1-b2").is_ok());
        for bad in ["", "a b", "a/b", "a:b", &"x".repeat(MAX_AGENT_ID_LEN + 1)] {
            assert!(check_agent_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_the_nodes_own_agents_hold_its_leases() {
        let n1 = Name::new(NameKind::Node, "n1").unwrap();
        assert!(held_by_agent_of(&agent_owner(&n1, "x"), &n1));
        assert!(!held_by_agent_of("agent:n10:x", &n1));
        assert!(!held_by_agent_of("head:12:34", &n1));
    }
}
