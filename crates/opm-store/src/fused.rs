//! PostgreSQL's one-statement forms of an attempt's begin and finish.
//! Each step of `history.rs` is a round trip to PostgreSQL, and those
//! round trips bounded B3 there; here the row read and the writes go as
//! one statement of data-modifying `WITH` parts, whose read sees the row
//! as it was before the writes. The checks run on that read afterwards,
//! and a refusal's error rolls the writes back with the transaction. The
//! writes are guarded by the lease token as well, so a stale holder's
//! statement writes nothing even before its rollback. SQLite, whose
//! statements cost no round trip, keeps the steps.

use crate::db::{self, Db};
use opm_model::Stage;

use crate::error::{Result, StoreError};
use crate::history::{self, AttemptId, Ending, Written, version_after};
use crate::rows::{
    RowId, StoredRow, attempt_columns, attempt_join, decode_leased, decode_leased_attempt,
    decode_unfinished, last_attempt_columns, select_leased_rows, select_rows, token_value,
};

/// [`history::begin`] in one statement: $1 row, $2 stage, $3 token, $4 now.
const BEGIN: &str = concat!(
    "WITH found AS (",
    select_leased_rows!(last_attempt_columns!(), "", "WHERE r.id = $1"),
    "), held AS (SELECT id, held_owner, held_expires_ms FROM found WHERE held_token = $3), \
     closed AS (UPDATE history SET result = 'interrupted', ended_ms = $4 \
         WHERE row_id = (SELECT id FROM held) AND result = 'running'), \
     marked AS (UPDATE rows SET status = 'running', message = '', \
         lease_owner = (SELECT held_owner FROM held), lease_token = $3, \
         lease_expires_ms = (SELECT held_expires_ms FROM held), updated_ms = $4 \
         WHERE id = (SELECT id FROM held)), \
     attempt AS (INSERT INTO history (row_id, target_kind, target_name, opkg, event, stage, \
         result, lease_token, started_ms) \
         SELECT f.id, CASE WHEN f.node IS NOT NULL THEN 'node' ELSE 'image' END, \
             COALESCE(f.node, f.image), f.opkg, 'attempt', $2, 'running', $3, $4 \
         FROM found f WHERE f.held_token = $3 RETURNING id) \
     SELECT found.*, (SELECT id FROM attempt) AS attempt_id FROM found"
);

/// [`history::finish`] in one statement: $1 attempt, $2 token, $3 result,
/// $4 now, $5 exit code, $6 output, $7 output bytes, $8 current, $9
/// status, $10 message, $11 passed, $12 version.
const FINISH: &str = concat!(
    "WITH found AS (",
    select_leased_rows!(
        attempt_columns!(),
        attempt_join!(),
        "WHERE h.id = $1 AND h.event = 'attempt'"
    ),
    "), held AS (SELECT id FROM found \
         WHERE held_token = $2 AND attempt_token = $2 AND result = 'running'), \
     ended AS (UPDATE history SET result = $3, ended_ms = $4, exit_code = $5, output = $6, \
         output_bytes = $7 WHERE id = $1 AND EXISTS (SELECT 1 FROM held)), \
     moved AS (UPDATE rows SET current = $8, status = $9, message = $10, lease_owner = NULL, \
         lease_token = NULL, lease_expires_ms = NULL, updated_ms = $4, ",
    version_after!("$8", "$11", "$12"),
    " WHERE id = (SELECT id FROM held) \
         RETURNING requested, version, work_version, upgrade_from) \
     SELECT found.*, (SELECT requested FROM moved) AS requested_now, \
         (SELECT version FROM moved) AS version_now, \
         (SELECT work_version FROM moved) AS work_version_now, \
         (SELECT upgrade_from FROM moved) AS upgrade_from_now FROM found"
);

/// Starts an attempt as [`history::begin`] does.
pub(crate) async fn begin(
    conn: &mut impl Db,
    row: RowId,
    stage: Stage,
    token: u64,
    now_ms: i64,
) -> Result<AttemptId> {
    let found = db::query(BEGIN)
        .bind(row.0)
        .bind(i64::from(stage.id()))
        .bind(token_value(token)?)
        .bind(now_ms)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::UnknownRowId { id: row.0 })?;
    let unfinished = decode_unfinished(&found)?;
    history::may_begin(&decode_leased(&found)?, unfinished, stage, token, now_ms)?;
    let id: Option<i64> = found.try_get("attempt_id")?;
    // The checks passed, so the token matched and the guarded insert ran.
    id.map(AttemptId).ok_or(StoreError::Corrupt {
        what: "attempt not recorded for row",
        value: row.0.to_string(),
    })
}

/// Ends an attempt as [`history::finish`] does; the attempt's row as read
/// and what the write left in it.
pub(crate) async fn finish(
    conn: &mut impl Db,
    attempt: AttemptId,
    ending: &Ending<'_>,
    token: u64,
) -> Result<(StoredRow, Written)> {
    let found = db::query(FINISH)
        .bind(attempt.0)
        .bind(ending.token)
        .bind(ending.result)
        .bind(ending.now_ms)
        .bind(ending.exit_code)
        .bind(ending.output.as_str())
        .bind(ending.output_bytes)
        .bind(ending.current)
        .bind(ending.status)
        .bind(ending.message)
        .bind(ending.passed)
        .bind(ending.version)
        .fetch_optional(conn)
        .await?
        // An attempt whose row is gone is as unknown as one never made.
        .ok_or(StoreError::UnknownAttempt { id: attempt.0 })?;
    let stored = history::may_finish(decode_leased_attempt(&found)?, attempt, token)?;
    let requested: Option<i64> = found.try_get("requested_now")?;
    // As in `begin`: passing the checks means the guarded update ran.
    let requested = requested.ok_or(StoreError::Corrupt {
        what: "finished attempt's row not updated",
        value: attempt.0.to_string(),
    })?;
    Ok((
        stored,
        (
            requested,
            found.try_get("version_now")?,
            found.try_get("work_version_now")?,
            found.try_get("upgrade_from_now")?,
        ),
    ))
}
