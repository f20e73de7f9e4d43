//! Node enrolments: one-use tokens, kept as hashes with their expiry, that
//! an agent trades at first contact for a token of its own. Whether a
//! token may be redeemed is `opm_model::judge`'s (pure) decision; this
//! module reads what it needs and carries the verdict out in the same
//! transaction, so two agents racing with one file cannot both win.

use opm_model::{EnrolmentRecord, Name, NameKind, Redemption, judge};

use crate::db::{self, Db};
use crate::error::Result;
use crate::nodes::{node_id, stored_name};
use crate::tokens::{self, TokenSubject};

/// Records a new enrolment of `node`, hashed as `hash`, working until
/// `expires_ms`; older enrolments of the node stop working.
pub(crate) async fn add(
    conn: &mut impl Db,
    node: &Name,
    hash: &str,
    now_ms: i64,
    expires_ms: i64,
) -> Result<()> {
    let node = node_id(conn, node).await?;
    db::query(
        "INSERT INTO enrolments (hash, node_id, created_ms, expires_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(hash)
    .bind(node)
    .bind(now_ms)
    .bind(expires_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// The enrolment hashed as `hash`, if any: what [`judge`] needs, and its id.
async fn record(conn: &mut impl Db, hash: &str) -> Result<Option<(i64, EnrolmentRecord)>> {
    type Found = (i64, String, i64, Option<i64>, Option<String>, i64);
    let found: Option<Found> = db::query_as(
        "SELECT e.id, n.name, e.expires_ms, e.used_ms, e.agent_hash, \
         (SELECT COUNT(*) FROM enrolments l WHERE l.node_id = e.node_id AND l.id > e.id) \
         FROM enrolments e JOIN nodes n ON n.id = e.node_id WHERE e.hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id, node, expires_ms, used_ms, agent_hash, newer)) = found else {
        return Ok(None);
    };
    Ok(Some((
        id,
        EnrolmentRecord {
            node: stored_name(NameKind::Node, &node)?,
            expires_ms,
            used_ms,
            agent_hash,
            replaced: newer > 0,
        },
    )))
}

/// Redeems the enrolment hashed as `hash` for the agent of `node` that
/// keeps the token hashed as `agent_hash`, when [`judge`] says so: the
/// enrolment is marked used and the node's token becomes the agent's.
pub(crate) async fn redeem(
    conn: &mut impl Db,
    hash: &str,
    node: &Name,
    agent_hash: &str,
    now_ms: i64,
) -> Result<Redemption> {
    let found = record(conn, hash).await?;
    let verdict = judge(found.as_ref().map(|(_, r)| r), node, agent_hash, now_ms);
    if let (Redemption::Redeem, Some((id, _))) = (&verdict, &found) {
        db::query("UPDATE enrolments SET used_ms = $1, agent_hash = $2 WHERE id = $3")
            .bind(now_ms)
            .bind(agent_hash)
            .bind(*id)
            .execute(&mut *conn)
            .await?;
        tokens::set(conn, &TokenSubject::Node(node.clone()), agent_hash, now_ms).await?;
    }
    Ok(verdict)
}
