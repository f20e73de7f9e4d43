//! Who waits for whom among writers. SQLite has one writer at a time
//! (`BEGIN IMMEDIATE`), so the functions here change nothing there.
//!
//! PostgreSQL writers take advisory locks instead: a change to the cluster
//! (nodes, opkgs, requests, retries) holds the database's lock alone; a
//! lease or attempt write holds it shared, plus its target's own lock:
//! alone for a lease's grant, renewal or release, shared for an attempt's
//! begin or finish, which also locks its row. So agents of different nodes
//! commit side by side, and so do the stages a server runs side by side on
//! one target; a lease check and the write it guards still never
//! interleave with a change of that lease, nor with a cluster change, and
//! the writes of one row queue. Locks are taken in one order (database,
//! then one target, then one row), so writers cannot deadlock on them.

use std::borrow::Cow;

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
    if is_postgres(conn) {
        db::query("SELECT pg_advisory_xact_lock($1)")
            .bind(target_key(ids))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Which target lock a lease or attempt write takes as it begins.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TargetLock {
    /// None yet: the write finds its target by name first, then calls
    /// [`lock_target`], which takes the target's lock alone.
    Later,
    /// Row `id`, and its target's lock shared.
    Row(RowId),
    /// The row of stage attempt `id`, and its target's lock shared.
    Attempt(i64),
}

/// The statements that lock the target of the row a query's `FROM` names
/// as `r`, shared (the same numbering as [`target_key`]), then that row.
macro_rules! lock_row {
    ($from:literal) => {
        concat!(
            "SELECT pg_advisory_xact_lock_shared(CASE WHEN r.node_id IS NOT NULL \
             THEN r.node_id * 2 + 2 ELSE r.image_id * 2 + 3 END) FROM ",
            $from,
            "; SELECT 1 FROM ",
            $from,
            " FOR UPDATE OF r"
        )
    };
}

/// What opens a lease or attempt write (PostgreSQL): [`BEGIN_SHARED`],
/// then the locks `lock` names, in the same round trip. Each lock is its
/// own statement, so the write's first read, the next statement, takes
/// its snapshot once they are held. A row's target never changes, so
/// finding it before the lock is no race; a row or attempt that does not
/// exist locks nothing, and the write's read then finds nothing either.
pub(crate) fn begin_shared(lock: TargetLock) -> Cow<'static, str> {
    // Only integers are formatted in: the statement carries no text from
    // outside the program.
    match lock {
        TargetLock::Later => Cow::Borrowed(BEGIN_SHARED),
        TargetLock::Row(row) => Cow::Owned(format!(
            concat!("{begin}; ", lock_row!("rows r WHERE r.id = {id}")),
            begin = BEGIN_SHARED,
            id = row.0
        )),
        TargetLock::Attempt(attempt) => Cow::Owned(format!(
            concat!(
                "{begin}; ",
                lock_row!("history h JOIN rows r ON r.id = h.row_id WHERE h.id = {id}")
            ),
            begin = BEGIN_SHARED,
            id = attempt
        )),
    }
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
