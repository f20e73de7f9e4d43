//! One history entry by id, for `opm logs --attempt ID`: reads that entry
//! alone instead of the whole history.

use crate::error::{Result, StoreError};
use crate::history::{AttemptId, HistoryEntry, decode};
use crate::sqlite::SqliteStore;

impl SqliteStore {
    /// The history entry `id`, with its captured output.
    pub async fn attempt(&self, id: AttemptId) -> Result<HistoryEntry> {
        let mut conn = self.pool.acquire().await?;
        let row = crate::db::query(
            "SELECT id, target_kind, target_name, opkg, event, stage, result, started_ms, \
                    ended_ms, exit_code, output, output_bytes, note FROM history WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::UnknownAttempt { id: id.0 })?;
        decode(&row)
    }
}
