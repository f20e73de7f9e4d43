//! Rollouts and their member nodes (SPEC §1.10): kept durably so a server
//! that restarts goes on where it stopped. The store keeps what cannot be
//! derived (the policy, the state, which members were started and when);
//! where each member stands is derived from its rows by the engine, and
//! which members start is `opm_plan::decide_rollout`'s.

use opm_model::{Limit, Name, NameKind, RolloutPolicy, RolloutState};

use crate::db::{self, Db};
use crate::error::{Result, StoreError};
use crate::nodes::{node_id, stored_name};

/// A new rollout: what it rolls out and its first members, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRollout {
    /// As shown: "motd 1:3.2-1".
    pub label: String,
    /// The opkgs whose node rows it holds back.
    pub packages: Vec<Name>,
    /// The operator's limits.
    pub policy: RolloutPolicy,
    /// The nodes, in the order they start.
    pub members: Vec<Name>,
}

/// A stored rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// Its id, as `opm rollout` names it.
    pub id: i64,
    /// As shown: "motd 1:3.2-1".
    pub label: String,
    /// The opkgs whose node rows it holds back.
    pub packages: Vec<Name>,
    /// The operator's limits.
    pub policy: RolloutPolicy,
    /// Where it stands.
    pub state: RolloutState,
    /// Why it paused; empty otherwise.
    pub message: String,
    /// Whether some canary node has not finished yet (as last decided).
    pub canary_pending: bool,
    /// How many member nodes it has.
    pub members: usize,
    /// Grows with every start of members: a decision made on an older
    /// generation starts nobody.
    pub generation: i64,
    /// Replaced by a later command for its opkgs: holds nothing back.
    pub closed: bool,
    /// When it was created.
    pub created_ms: i64,
    /// When its state last changed.
    pub changed_ms: i64,
}

impl Rollout {
    /// Whether it holds back the rows of its opkgs on nodes it has not
    /// started: neither done nor replaced.
    pub fn holds(&self) -> bool {
        !self.closed && self.state.holds()
    }
}

/// One member node of a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutMember {
    /// The node.
    pub node: Name,
    /// Its place in the start order, from 0.
    pub seq: usize,
    /// When the rollout started it; `None` while it waits.
    pub started_ms: Option<i64>,
}

fn limit_text(limit: Option<Limit>) -> Option<String> {
    limit.map(|limit| limit.to_string())
}

fn stored_limit(value: Option<String>) -> Result<Option<Limit>> {
    value
        .map(|text| {
            text.parse().map_err(|_| StoreError::Corrupt {
                what: "rollout limit",
                value: text,
            })
        })
        .transpose()
}

fn index(value: i64, what: &'static str) -> Result<usize> {
    usize::try_from(value).map_err(|_| StoreError::Corrupt {
        what,
        value: value.to_string(),
    })
}

/// Creates a rollout, running, with its members in order; its id.
pub(crate) async fn open(conn: &mut impl Db, new: &NewRollout, now_ms: i64) -> Result<i64> {
    let packages: Vec<&str> = new.packages.iter().map(Name::as_str).collect();
    let id: i64 = db::query_scalar(
        "INSERT INTO rollouts (label, packages, max_parallel, max_failures, canary, state, \
         created_ms, changed_ms) VALUES ($1, $2, $3, $4, $5, 'running', $6, $6) RETURNING id",
    )
    .bind(&new.label)
    .bind(packages.join(" "))
    .bind(limit_text(new.policy.max_parallel))
    .bind(limit_text(new.policy.max_failures))
    .bind(new.policy.canary.map(i64::from))
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    join(conn, id, &new.members).await?;
    Ok(id)
}

/// A rollout row as read: its columns in `SELECT` order.
type StoredRollout = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

/// Every rollout, newest first.
pub(crate) async fn list(conn: &mut impl Db) -> Result<Vec<Rollout>> {
    let rows: Vec<StoredRollout> = db::query_as(
        "SELECT id, label, packages, max_parallel, max_failures, canary, state, message, \
         canary_pending, members, generation, closed, created_ms, changed_ms \
         FROM rollouts ORDER BY id DESC",
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(rollout).collect()
}

fn rollout(stored: StoredRollout) -> Result<Rollout> {
    let (id, label, packages, parallel, failures, canary, state, message, pending, members) = (
        stored.0, stored.1, stored.2, stored.3, stored.4, stored.5, stored.6, stored.7, stored.8,
        stored.9,
    );
    let packages = packages
        .split(' ')
        .filter(|name| !name.is_empty())
        .map(|name| stored_name(NameKind::Opkg, name))
        .collect::<Result<_>>()?;
    let canary = canary
        .map(|canary| {
            u32::try_from(canary).map_err(|_| StoreError::Corrupt {
                what: "rollout canary",
                value: canary.to_string(),
            })
        })
        .transpose()?;
    Ok(Rollout {
        id,
        label,
        packages,
        policy: RolloutPolicy {
            max_parallel: stored_limit(parallel)?,
            max_failures: stored_limit(failures)?,
            canary,
        },
        state: state.parse().map_err(|_| StoreError::Corrupt {
            what: "rollout state",
            value: state.clone(),
        })?,
        message,
        canary_pending: pending != 0,
        members: index(members, "rollout member count")?,
        generation: stored.10,
        closed: stored.11 != 0,
        created_ms: stored.12,
        changed_ms: stored.13,
    })
}

/// The members of rollout `id`, in start order.
pub(crate) async fn members(conn: &mut impl Db, id: i64) -> Result<Vec<RolloutMember>> {
    let rows: Vec<(String, i64, Option<i64>)> = db::query_as(
        "SELECT n.name, m.seq, m.started_ms FROM rollout_members m \
         JOIN nodes n ON n.id = m.node_id WHERE m.rollout_id = $1 ORDER BY m.seq",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(node, seq, started_ms)| {
            Ok(RolloutMember {
                node: stored_name(NameKind::Node, &node)?,
                seq: index(seq, "rollout member order")?,
                started_ms,
            })
        })
        .collect()
}

/// `node`'s place in rollout `id`, if it is a member.
pub(crate) async fn member(
    conn: &mut impl Db,
    id: i64,
    node: &Name,
) -> Result<Option<RolloutMember>> {
    let row: Option<(i64, Option<i64>)> = db::query_as(
        "SELECT m.seq, m.started_ms FROM rollout_members m JOIN nodes n ON n.id = m.node_id \
         WHERE m.rollout_id = $1 AND n.name = $2",
    )
    .bind(id)
    .bind(node.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(|(seq, started_ms)| {
        Ok(RolloutMember {
            node: node.clone(),
            seq: index(seq, "rollout member order")?,
            started_ms,
        })
    })
    .transpose()
}

/// Adds `nodes` that are not members yet at the end of rollout `id`'s
/// order; a node that is one already keeps its place.
pub(crate) async fn join(conn: &mut impl Db, id: i64, nodes: &[Name]) -> Result<()> {
    for node in nodes {
        let node_id = node_id(conn, node).await?;
        let added = db::query(
            "INSERT INTO rollout_members (rollout_id, node_id, seq) \
             SELECT $1, $2, members FROM rollouts WHERE id = $1 \
             ON CONFLICT (rollout_id, node_id) DO NOTHING",
        )
        .bind(id)
        .bind(node_id)
        .execute(&mut *conn)
        .await?;
        // The count is the next member's place.
        if added > 0 {
            db::query("UPDATE rollouts SET members = members + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Starts `nodes` of rollout `id` if its generation is still
/// `generation` (nobody started members since the caller looked); whether
/// it was.
pub(crate) async fn start(
    conn: &mut impl Db,
    id: i64,
    generation: i64,
    nodes: &[Name],
    now_ms: i64,
) -> Result<bool> {
    let moved = db::query(
        "UPDATE rollouts SET generation = generation + 1 WHERE id = $1 AND generation = $2",
    )
    .bind(id)
    .bind(generation)
    .execute(&mut *conn)
    .await?;
    if moved == 0 {
        return Ok(false);
    }
    for node in nodes {
        let node_id = node_id(conn, node).await?;
        db::query(
            "UPDATE rollout_members SET started_ms = $1 \
             WHERE rollout_id = $2 AND node_id = $3 AND started_ms IS NULL",
        )
        .bind(now_ms)
        .bind(id)
        .bind(node_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// Records rollout `id`'s state, why it paused (empty otherwise) and
/// whether canary nodes are still pending.
pub(crate) async fn set_state(
    conn: &mut impl Db,
    id: i64,
    state: RolloutState,
    message: &str,
    canary_pending: bool,
    now_ms: i64,
) -> Result<()> {
    db::query(
        "UPDATE rollouts SET state = $1, message = $2, canary_pending = $3, changed_ms = \
         CASE WHEN state = $1 THEN changed_ms ELSE $4 END WHERE id = $5",
    )
    .bind(state.name())
    .bind(message)
    .bind(i64::from(canary_pending))
    .bind(now_ms)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks rollouts replaced by a later command: they hold nothing back.
pub(crate) async fn close(conn: &mut impl Db, ids: &[i64], now_ms: i64) -> Result<()> {
    for id in ids {
        db::query("UPDATE rollouts SET closed = 1, changed_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(*id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
