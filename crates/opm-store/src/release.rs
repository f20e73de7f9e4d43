//! Releasing an interrupted attempt that is no longer needed: a crashed
//! stage left its row `running`, and meanwhile the request changed so that
//! the stage will not run again (opm-plan's `Decision::Release`). The row
//! goes back to `ok` and history marks the attempt interrupted, in one
//! transaction, under the target's current lease.

use crate::db::{self, Db};
use opm_model::Status;

use crate::error::{Result, StoreError};
use crate::leases;
use crate::rows::{LeasedRow, RowId, StoredRow, leased_row, row_by_id};

/// Sets a `running` row back to `ok` and marks its unfinished attempts
/// interrupted; `current` stays what it was.
pub(crate) async fn release_interrupted(
    conn: &mut impl Db,
    row: RowId,
    token: u64,
    now_ms: i64,
) -> Result<StoredRow> {
    let LeasedRow { stored, lease } = leased_row(conn, row).await?;
    let target = &stored.row.target;
    let lease = leases::check_held(target, lease, token)?;
    if lease.expired(now_ms) {
        return Err(StoreError::StaleToken {
            target: target.clone(),
            token,
        });
    }
    if !matches!(stored.row.status, Status::Running { .. }) {
        return Ok(stored);
    }
    db::query(
        "UPDATE history SET result = 'interrupted', ended_ms = $1 WHERE row_id = $2 AND result = 'running'",
    )
    .bind(now_ms)
    .bind(row.0)
    .execute(&mut *conn)
    .await?;
    db::query(
        "UPDATE rows SET status = 'ok', message = '', lease_owner = NULL, lease_token = NULL, \
         lease_expires_ms = NULL, updated_ms = $1 WHERE id = $2",
    )
    .bind(now_ms)
    .bind(row.0)
    .execute(&mut *conn)
    .await?;
    row_by_id(conn, row).await
}
