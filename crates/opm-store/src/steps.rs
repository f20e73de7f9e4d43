//! The steps of stage attempts (SPEC §1.1): each one written when it
//! starts and again when it ends, under the lease its attempt runs under,
//! and the row's newest attempt with its steps, which the next attempt may
//! resume. A step still `running` in an attempt that has ended was cut
//! short by a crash: it reads back as interrupted.

use opm_model::{PastAttempt, StepRecord, StepResult};

use crate::db::{self, Db, DbRow};
use crate::error::{Result, StoreError};
use crate::history::{self, AttemptId, MAX_OUTPUT_BYTES, cap_output};
use crate::rows::{RowId, leased_row_of_attempt, stored_stage};

/// Writes `steps` of `attempt`, each keyed by its position: a new step is
/// added, a step still running is overwritten (its end), and a step that
/// has ended is left as it is, so a record sent again changes nothing.
/// Refused unless the attempt is running under `token`, the target's lease.
pub(crate) async fn record(
    conn: &mut impl Db,
    attempt: AttemptId,
    steps: &[StepRecord],
    token: u64,
) -> Result<()> {
    let found = leased_row_of_attempt(conn, attempt.0)
        .await?
        .ok_or(StoreError::UnknownAttempt { id: attempt.0 })?;
    history::may_finish(found, attempt, token)?;
    for step in steps {
        let result = match step.result {
            StepResult::Running | StepResult::Passed | StepResult::Failed | StepResult::Carried => {
                step.result.name()
            }
            StepResult::Interrupted => {
                return Err(StoreError::InvalidStep {
                    attempt: attempt.0,
                    position: step.position,
                    reason: "a step is interrupted only by its attempt ending without it",
                });
            }
        };
        if (step.result == StepResult::Carried) != step.passed_in.is_some() {
            return Err(StoreError::InvalidStep {
                attempt: attempt.0,
                position: step.position,
                reason: "a carried step, and only a carried step, names the attempt it passed in",
            });
        }
        db::query(
            "INSERT INTO steps (attempt_id, position, action, result, passed_in, started_ms, \
                 ended_ms, exit_code, output, output_bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (attempt_id, position) DO UPDATE SET action = excluded.action, \
                 result = excluded.result, passed_in = excluded.passed_in, \
                 started_ms = excluded.started_ms, ended_ms = excluded.ended_ms, \
                 exit_code = excluded.exit_code, output = excluded.output, \
                 output_bytes = excluded.output_bytes \
             WHERE steps.result = 'running'",
        )
        .bind(attempt.0)
        .bind(i64::from(step.position))
        .bind(step.action.as_str())
        .bind(result)
        .bind(step.passed_in)
        .bind(step.started_ms)
        .bind(step.ended_ms)
        .bind(step.exit_code)
        .bind(cap_output(&step.output, MAX_OUTPUT_BYTES))
        // A step reported by an agent older than the count: its output
        // is all it printed.
        .bind(
            step.output_bytes
                .map_or(i64::try_from(step.output.len()), i64::try_from)
                .unwrap_or(i64::MAX),
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The steps of `attempt`, by position.
pub(crate) async fn of_attempt(conn: &mut impl Db, attempt: AttemptId) -> Result<Vec<StepRecord>> {
    let rows = db::query(
        "SELECT s.position, s.action, s.result, s.passed_in, s.started_ms, s.ended_ms, \
                s.exit_code, s.output, s.output_bytes, h.result AS attempt_result \
         FROM steps s JOIN history h ON h.id = s.attempt_id \
         WHERE s.attempt_id = $1 ORDER BY s.position",
    )
    .bind(attempt.0)
    .fetch_all(conn)
    .await?;
    rows.iter().map(decode).collect()
}

fn decode(row: &DbRow) -> Result<StepRecord> {
    let position: i64 = row.try_get("position")?;
    let result: String = row.try_get("result")?;
    let attempt: Option<String> = row.try_get("attempt_result")?;
    let output_bytes: i64 = row.try_get("output_bytes")?;
    let mut result = StepResult::parse(&result).ok_or(StoreError::Corrupt {
        what: "step result",
        value: result.clone(),
    })?;
    if result == StepResult::Running && attempt.as_deref() != Some("running") {
        // Its attempt ended without it: the process died mid-step.
        result = StepResult::Interrupted;
    }
    Ok(StepRecord {
        position: u32::try_from(position).map_err(|_| StoreError::Corrupt {
            what: "step position",
            value: position.to_string(),
        })?,
        action: row.try_get("action")?,
        result,
        passed_in: row.try_get("passed_in")?,
        started_ms: row.try_get("started_ms")?,
        ended_ms: row.try_get("ended_ms")?,
        exit_code: row.try_get("exit_code")?,
        output: row.try_get("output")?,
        output_bytes: Some(
            u64::try_from(output_bytes).map_err(|_| StoreError::Corrupt {
                what: "step output bytes",
                value: output_bytes.to_string(),
            })?,
        ),
    })
}

/// The newest attempt of `row` with its steps, and whether an operator
/// asked since for its stage to run from the start (a rerun, or a retry
/// of the whole stage); `None` before the row's first attempt.
pub(crate) async fn last_attempt(conn: &mut impl Db, row: RowId) -> Result<Option<PastAttempt>> {
    let found = db::query(
        "SELECT h.id, h.stage, h.result, EXISTS (SELECT 1 FROM history e \
             WHERE e.row_id = h.row_id AND e.id > h.id \
               AND (e.event = 'rerun' OR (e.event = 'retry' AND e.whole_stage = 1))) AS restarted \
         FROM history h WHERE h.row_id = $1 AND h.event = 'attempt' AND h.stage IS NOT NULL \
         ORDER BY h.id DESC LIMIT 1",
    )
    .bind(row.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let id: i64 = found.try_get("id")?;
    let result: Option<String> = found.try_get("result")?;
    let steps = of_attempt(conn, AttemptId(id)).await?;
    Ok(Some(PastAttempt {
        id,
        stage: stored_stage(found.try_get("stage")?)?,
        passed: result.as_deref() == Some("passed"),
        restarted: found.try_get("restarted")?,
        steps,
    }))
}
