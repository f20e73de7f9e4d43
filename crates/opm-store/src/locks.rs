//! Who waits for whom among writers. SQLite has one writer at a time
//! (`BEGIN IMMEDIATE`), so the functions here change nothing there.
//!
//! PostgreSQL writers take advisory locks instead: a change to the cluster
//! (nodes, opkgs, requests, retries) holds the database's lock alone; a
//! lease or attempt write holds it shared, plus its target's own lock. So
//! agents of different nodes commit side by side, while a lease check and
//! the write it guards still never interleave with another grant or write
//! on that target, nor with a cluster change. Locks are taken in one order
//! (database, then one target), so writers cannot deadlock on them.

use crate::db::{self, Conn, Db};
use crate::error::Result;
use crate::nodes::TargetIds;
use crate::rows::RowId;

/// Opens a cluster change (PostgreSQL): BEGIN, then the database's lock
/// (key 0; targets' keys are >= 1) alone, in one round trip, as a simple
/// query may hold several statements.
pub(crate) const BEGIN_ALONE: &str = "BEGIN; SELECT pg_advisory_xact_lock(0)";

/// Opens a lease or attempt write (PostgreSQL): BEGIN, then the database's
/// lock shared, in one round trip.
pub(crate) const BEGIN_SHARED: &str = "BEGIN; SELECT pg_advisory_xact_lock_shared(0)";

/// Whether `conn` is a PostgreSQL connection.
pub(crate) fn is_postgres(conn: &mut impl Db) -> bool {
    matches!(conn.conn(), Conn::Postgres(_))
}

/// A target's advisory lock key: even for nodes, odd for images.
fn target_key((node, image): TargetIds) -> i64 {
    match (node, image) {
        (Some(node), _) => node.saturating_mul(2).saturating_add(2),
        (None, Some(image)) => image.saturating_mul(2).saturating_add(3),
        (None, None) => 1,
    }
}

/// Takes the target's lock until the transaction ends (PostgreSQL).
pub(crate) async fn lock_target(conn: &mut impl Db, ids: TargetIds) -> Result<()> {
    lock_by(conn, "SELECT pg_advisory_xact_lock($1)", target_key(ids)).await
}

/// The key of the target of the row a query's `FROM` names as `r`, in SQL
/// (the same numbering as [`target_key`]).
macro_rules! row_target_key {
    ($from:literal) => {
        concat!(
            "SELECT pg_advisory_xact_lock(CASE WHEN r.node_id IS NOT NULL THEN r.node_id * 2 + 2 \
             ELSE r.image_id * 2 + 3 END) FROM ",
            $from
        )
    };
}

/// Runs a lock statement with one id argument (PostgreSQL).
async fn lock_by(conn: &mut impl Db, sql: &'static str, id: i64) -> Result<()> {
    if is_postgres(conn) {
        db::query(sql).bind(id).execute(conn).await?;
    }
    Ok(())
}

/// Takes the lock of row `row`'s target (PostgreSQL); a row's target never
/// changes, so it is read before the lock without a race.
pub(crate) async fn lock_row_target(conn: &mut impl Db, row: RowId) -> Result<()> {
    lock_by(conn, row_target_key!("rows r WHERE r.id = $1"), row.0).await
}

/// Takes the lock of the target of the row whose attempt is `attempt`
/// (PostgreSQL).
pub(crate) async fn lock_attempt_target(conn: &mut impl Db, attempt: i64) -> Result<()> {
    lock_by(
        conn,
        row_target_key!("history h JOIN rows r ON r.id = h.row_id WHERE h.id = $1"),
        attempt,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_images_never_share_a_key_nor_the_databases() {
        let keys = [
            target_key((Some(1), None)),
            target_key((Some(2), None)),
            target_key((None, Some(1))),
            target_key((None, Some(2))),
        ];
        assert_eq!(keys, [4, 6, 5, 7]);
        assert!(keys.iter().all(|key| *key != 0));
        assert!(BEGIN_ALONE.ends_with("(0)") && BEGIN_SHARED.ends_with("(0)"));
    }
}
