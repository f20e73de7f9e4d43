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
use crate::error::{Result, StoreError};
use crate::nodes::{TargetIds, target_ids};
use crate::rows::RowId;
use opm_model::{Target, TargetKind};

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

/// Finds the target's (node_id, image_id) and, on PostgreSQL, takes its
/// lock alone until the transaction ends, in the same statement. Target
/// keys are the node's id * 2 + 2 and the image's id * 2 + 3, clear of the
/// database's key 0; the lock functions of the migrations use the same.
pub(crate) async fn lock_target(conn: &mut impl Db, target: &Target) -> Result<TargetIds> {
    if !is_postgres(conn) {
        return target_ids(conn, target).await;
    }
    let (sql, unknown) = match target.kind {
        TargetKind::Node => (
            "SELECT id, pg_advisory_xact_lock(id * 2 + 2) AS locked FROM nodes WHERE name = $1",
            StoreError::UnknownNode {
                name: target.name.to_string(),
            },
        ),
        TargetKind::Image => (
            "SELECT id, pg_advisory_xact_lock(id * 2 + 3) AS locked FROM images WHERE name = $1",
            StoreError::UnknownImage {
                name: target.name.to_string(),
            },
        ),
    };
    let found = db::query(sql)
        .bind(target.name.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or(unknown)?;
    let id: i64 = found.try_get("id")?;
    Ok(match target.kind {
        TargetKind::Node => (Some(id), None),
        TargetKind::Image => (None, Some(id)),
    })
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

/// What opens a lease or attempt write (PostgreSQL): [`BEGIN_SHARED`],
/// then the locks `lock` names, in the same round trip. The row locks are
/// functions of the migrations (`0005_lock_functions.sql`), whose plans
/// PostgreSQL keeps; the write's first read, the next statement, takes its
/// snapshot once they are held. A row's target never changes, so finding
/// it before the lock is no race; a row or attempt that does not exist
/// locks nothing, and the write's read then finds nothing either.
pub(crate) fn begin_shared(lock: TargetLock) -> Cow<'static, str> {
    // Only integers are formatted in: the statement carries no text from
    // outside the program.
    match lock {
        TargetLock::Later => Cow::Borrowed(BEGIN_SHARED),
        TargetLock::Row(row) => {
            Cow::Owned(format!("{BEGIN_SHARED}; SELECT opm_lock_row({})", row.0))
        }
        TargetLock::Attempt(attempt) => Cow::Owned(format!(
            "{BEGIN_SHARED}; SELECT opm_lock_attempt({attempt})"
        )),
    }
}
