//! Nodes drained through the cluster's scheduler (issue 20, migration
//! 0012): what `opm_plan::drain` decided, kept so a restarted server
//! waits on, or resumes the node once its work is over.

use opm_model::{DrainState, Name, NameKind};

use crate::db::{self, Db};
use crate::error::{Result, StoreError};
use crate::nodes::{node_id, stored_name};

/// Reads a stored state back, refusing one opm would never have written.
fn stored_state(state: &str, since_ms: i64) -> Result<DrainState> {
    DrainState::from_stored(state, since_ms).map_err(|_| StoreError::Corrupt {
        what: "drain state",
        value: state.to_owned(),
    })
}

/// The node's drain, if opm drained it (or found it drained).
pub(crate) async fn get(conn: &mut impl Db, node: &Name) -> Result<Option<DrainState>> {
    let found: Option<(String, i64)> = db::query_as(
        "SELECT d.state, d.since_ms FROM node_drains d JOIN nodes n ON n.id = d.node_id \
         WHERE n.name = $1",
    )
    .bind(node.as_str())
    .fetch_optional(conn)
    .await?;
    found
        .map(|(state, since_ms)| stored_state(&state, since_ms))
        .transpose()
}

/// Every node's drain, by node name.
pub(crate) async fn all(conn: &mut impl Db) -> Result<Vec<(Name, DrainState)>> {
    let found: Vec<(String, String, i64)> = db::query_as(
        "SELECT n.name, d.state, d.since_ms FROM node_drains d JOIN nodes n ON n.id = d.node_id \
         ORDER BY n.name",
    )
    .fetch_all(conn)
    .await?;
    found
        .into_iter()
        .map(|(node, state, since_ms)| {
            Ok((
                stored_name(NameKind::Node, &node)?,
                stored_state(&state, since_ms)?,
            ))
        })
        .collect()
}

/// Stores the node's drain. A drain that completes keeps the time opm
/// asked for it; a new `Draining` starts the clock at its `since_ms`, any
/// other first state at `now_ms`.
pub(crate) async fn set(
    conn: &mut impl Db,
    node: &Name,
    state: DrainState,
    now_ms: i64,
) -> Result<()> {
    let node = node_id(conn, node).await?;
    let since_ms = match state {
        DrainState::Draining { since_ms } => since_ms,
        DrainState::Drained { .. } => now_ms,
    };
    db::query(
        "INSERT INTO node_drains (node_id, state, since_ms) VALUES ($1, $2, $3) \
         ON CONFLICT (node_id) DO UPDATE SET state = excluded.state, \
         since_ms = CASE WHEN excluded.state = 'draining' THEN excluded.since_ms \
         ELSE node_drains.since_ms END",
    )
    .bind(node)
    .bind(state.name())
    .bind(since_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets the node's drain (opm resumed the node, or it was somebody
/// else's), adding `note` to the error of each of the node's rows that
/// failed since the drain began; how many rows got it.
pub(crate) async fn end(conn: &mut impl Db, node: &Name, note: &str) -> Result<u64> {
    let node = node_id(conn, node).await?;
    let noted = if note.is_empty() {
        0
    } else {
        db::query(
            "UPDATE rows SET message = message || '; ' || $1 \
             WHERE node_id = $2 AND status = 'error' AND updated_ms >= \
             (SELECT since_ms FROM node_drains WHERE node_id = $3)",
        )
        .bind(note)
        .bind(node)
        .bind(node)
        .execute(&mut *conn)
        .await?
    };
    db::query("DELETE FROM node_drains WHERE node_id = $1")
        .bind(node)
        .execute(conn)
        .await?;
    Ok(noted)
}
