//! History: every stage attempt (start, end, result, exit code, captured
//! output capped with head and tail kept) and the operator's retry/rerun
//! events; an attempt begins and finishes together with its row change.

use crate::db::{self, Db, DbRow};
use opm_model::{Lease, Name, NameKind, Stage, Status, Target, TargetKind, Unfinished, legal_step};

use crate::error::{Result, StoreError};
use crate::fused;
use crate::leases;
use crate::locks;
use crate::nodes::stored_name;
use crate::rows::{
    LeasedAttempt, LeasedRow, RowId, Scope, StoredRow, leased_row_of_attempt, row_to_begin,
    stored_stage, token_value,
};

/// The most output kept per attempt, in bytes; half from the head, half
/// from the tail, where the error usually is.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// The id of one history entry (an attempt or an event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttemptId(pub i64);

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A stage attempt.
    Attempt,
    /// An operator cleared an error.
    Retry,
    /// An operator set `current` back.
    Rerun,
}

impl Event {
    /// The event's name, as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Event::Attempt => "attempt",
            Event::Retry => "retry",
            Event::Rerun => "rerun",
        }
    }

    fn parse(value: &str) -> Result<Event> {
        match value {
            "attempt" => Ok(Event::Attempt),
            "retry" => Ok(Event::Retry),
            "rerun" => Ok(Event::Rerun),
            _ => Err(StoreError::Corrupt {
                what: "history event",
                value: value.to_owned(),
            }),
        }
    }
}

/// How an attempt ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptResult {
    /// Still under way.
    Running,
    /// The stage passed.
    Passed,
    /// The stage failed.
    Failed,
    /// Its lease ran out (a crash) and the stage was begun again.
    Interrupted,
}

impl AttemptResult {
    /// The result's name, as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            AttemptResult::Running => "running",
            AttemptResult::Passed => "passed",
            AttemptResult::Failed => "failed",
            AttemptResult::Interrupted => "interrupted",
        }
    }

    fn parse(value: &str) -> Result<AttemptResult> {
        match value {
            "running" => Ok(AttemptResult::Running),
            "passed" => Ok(AttemptResult::Passed),
            "failed" => Ok(AttemptResult::Failed),
            "interrupted" => Ok(AttemptResult::Interrupted),
            _ => Err(StoreError::Corrupt {
                what: "attempt result",
                value: value.to_owned(),
            }),
        }
    }
}

/// What the engine observed when a stage ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the stage passed.
    pub passed: bool,
    /// The exit code of the failing or last command, if one ran.
    pub exit_code: Option<i32>,
    /// What was captured; capped by [`cap_output`] when stored.
    pub output: String,
    /// Every byte the stage printed, `output` holding all or part of
    /// them (a script's flood of output keeps only its head and tail).
    pub output_bytes: u64,
}

/// The row's state after an attempt, decided by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowAfter {
    /// The new `current`.
    pub current: Option<Stage>,
    /// `Some(message)` puts the row in error; `None` leaves it ok.
    pub error: Option<String>,
    /// The opkg version the stage worked with, recorded as the one the
    /// row's new `current` was reached with when it passed; `None`: the
    /// row's own work version.
    pub version: Option<String>,
}

/// The version columns an attempt's end writes (SPEC §1.9), given the
/// placeholders of the new `current`, whether the attempt passed, and the
/// version it worked with. A passed stage records its version as the one
/// `current` was reached with and fixes the row's work version to it; the
/// uninstall path clears both; the upgrade is over once the row is back at
/// its request (or uninstalled). A failed attempt changes none of them.
macro_rules! version_after {
    ($current:literal, $passed:literal, $version:literal) => {
        concat!(
            "version = CASE WHEN NOT ", $passed, " THEN version WHEN ", $current,
            " = 1 THEN NULL ELSE COALESCE(", $version, ", work_version, \
             (SELECT NULLIF(o.wanted_version, '') FROM opkgs o WHERE o.id = rows.opkg_id)) END, \
             work_version = CASE WHEN NOT ", $passed, " THEN work_version WHEN ", $current,
            " = 1 THEN NULL ELSE COALESCE(", $version, ", work_version, \
             (SELECT NULLIF(o.wanted_version, '') FROM opkgs o WHERE o.id = rows.opkg_id)) END, \
             upgrade_from = CASE WHEN NOT ", $passed, " THEN upgrade_from WHEN ", $current,
            " = 1 OR ", $current, " >= requested THEN NULL ELSE upgrade_from END"
        )
    };
}
pub(crate) use version_after;

/// One history entry read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Its id.
    pub id: AttemptId,
    /// The row's target.
    pub target: Target,
    /// The row's opkg.
    pub opkg: Name,
    /// What happened.
    pub event: Event,
    /// The stage attempted (or rerun from).
    pub stage: Option<Stage>,
    /// For attempts, how it ended.
    pub result: Option<AttemptResult>,
    /// When it began.
    pub started_ms: i64,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// The exit code, if a command ran.
    pub exit_code: Option<i32>,
    /// The captured output, capped.
    pub output: String,
    /// Every byte the stage printed, of which `output` holds all or part.
    pub output_bytes: u64,
    /// The reason of a retry, the stage of a rerun.
    pub note: String,
    /// A retry that runs the failed stage from its first step.
    pub whole_stage: bool,
}

/// Which history entries to read; the newest `limit` matching ones come back, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryFilter {
    /// Only this target.
    pub target: Option<Target>,
    /// Only this opkg.
    pub opkg: Option<Name>,
    /// At most this many entries.
    pub limit: u32,
}

/// Caps output at `max` bytes, keeping the head and the tail on character
/// boundaries with a marker saying how much was left out in between.
pub fn cap_output(output: &str, max: usize) -> String {
    if output.len() <= max {
        return output.to_owned();
    }
    let half = max / 2;
    let mut head_end = half;
    while !output.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = output.len() - half;
    while !output.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let omitted = tail_start - head_end;
    format!(
        "{}\n[... {omitted} bytes of output omitted ...]\n{}",
        &output[..head_end],
        &output[tail_start..]
    )
}

/// Records a retry or rerun event for a row; `whole_stage` marks a retry
/// that runs the failed stage from its first step.
pub(crate) async fn record_event(
    conn: &mut impl Db,
    stored: &StoredRow,
    event: Event,
    stage: Option<Stage>,
    note: &str,
    whole_stage: bool,
    now_ms: i64,
) -> Result<()> {
    db::query(
        "INSERT INTO history (row_id, target_kind, target_name, opkg, event, stage, started_ms, ended_ms, note, whole_stage) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(stored.id.0)
    .bind(stored.row.target.kind.name())
    .bind(stored.row.target.name.as_str())
    .bind(stored.row.package.as_str())
    .bind(event.name())
    .bind(stage.map(|s| i64::from(s.id())))
    .bind(now_ms)
    .bind(now_ms)
    .bind(note)
    .bind(i64::from(whole_stage))
    .execute(conn)
    .await?;
    Ok(())
}

/// Starts an attempt: checks the lease, marks an earlier unfinished attempt
/// interrupted, sets the row running, and records the attempt.
pub(crate) async fn begin(
    conn: &mut impl Db,
    row: RowId,
    stage: Stage,
    token: u64,
    now_ms: i64,
) -> Result<AttemptId> {
    if locks::is_postgres(conn) {
        return fused::begin(conn, row, stage, token, now_ms).await;
    }
    let (leased, unfinished) = row_to_begin(conn, row).await?;
    let lease = may_begin(&leased, unfinished, stage, token, now_ms)?;
    let LeasedRow { stored, .. } = &leased;
    let target = &stored.row.target;
    db::query(
        "UPDATE history SET result = 'interrupted', ended_ms = $1 WHERE row_id = $2 AND result = 'running'",
    )
    .bind(now_ms)
    .bind(row.0)
    .execute(&mut *conn)
    .await?;
    let stored_token = token_value(token)?;
    db::query(
        "UPDATE rows SET status = 'running', message = '', lease_owner = $1, lease_token = $2, \
         lease_expires_ms = $3, updated_ms = $4 WHERE id = $5",
    )
    .bind(&lease.owner)
    .bind(stored_token)
    .bind(lease.expires_at_ms)
    .bind(now_ms)
    .bind(row.0)
    .execute(&mut *conn)
    .await?;
    let id = db::query_scalar(
        "INSERT INTO history (row_id, target_kind, target_name, opkg, event, stage, result, lease_token, started_ms) \
         VALUES ($1, $2, $3, $4, 'attempt', $5, 'running', $6, $7) RETURNING id",
    )
    .bind(row.0)
    .bind(target.kind.name())
    .bind(target.name.as_str())
    .bind(stored.row.package.as_str())
    .bind(i64::from(stage.id()))
    .bind(stored_token)
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(AttemptId(id))
}

/// The lease an attempt of `stage` begins under, or why it may not begin:
/// `token` is not the target's unexpired lease, the row is in error, or
/// `stage` is not the row's next step (given what its newest attempt left
/// `unfinished`).
pub(crate) fn may_begin(
    leased: &LeasedRow,
    unfinished: Option<Unfinished>,
    stage: Stage,
    token: u64,
    now_ms: i64,
) -> Result<Lease> {
    let LeasedRow { stored, lease } = leased;
    let target = &stored.row.target;
    let lease = leases::check_held(target, lease.clone(), token)?;
    if lease.expired(now_ms) {
        return Err(StoreError::StaleToken {
            target: target.clone(),
            token,
        });
    }
    if matches!(stored.row.status, Status::Error { .. }) {
        return Err(StoreError::RowInError {
            target: target.clone(),
            opkg: stored.row.package.to_string(),
        });
    }
    if !legal_step(stored.row.current, stored.row.requested, unfinished).begins(stage) {
        // Decided on a snapshot that another worker (a second server, an
        // earlier holder of this lease) has overtaken: doing it again would
        // do a stage twice.
        return Err(StoreError::RowMoved {
            target: target.clone(),
            opkg: stored.row.package.to_string(),
            stage,
        });
    }
    Ok(lease)
}

/// Ends an attempt and writes the row's new state, refused when `token` is
/// no longer the lease the attempt runs under.
pub(crate) async fn finish(
    conn: &mut impl Db,
    attempt: AttemptId,
    outcome: &Outcome,
    after: &RowAfter,
    token: u64,
    now_ms: i64,
) -> Result<StoredRow> {
    let ending = Ending::new(outcome, after, token, now_ms)?;
    let (stored, written) = if locks::is_postgres(conn) {
        fused::finish(conn, attempt, &ending, token).await?
    } else {
        // An attempt whose row is gone is as unknown as one never made.
        let found = leased_row_of_attempt(conn, attempt.0)
            .await?
            .ok_or(StoreError::UnknownAttempt { id: attempt.0 })?;
        let stored = may_finish(found, attempt, token)?;
        db::query(
            "UPDATE history SET result = $1, ended_ms = $2, exit_code = $3, output = $4, output_bytes = $5 WHERE id = $6",
        )
        .bind(ending.result)
        .bind(now_ms)
        .bind(ending.exit_code)
        .bind(&ending.output)
        .bind(ending.output_bytes)
        .bind(attempt.0)
        .execute(&mut *conn)
        .await?;
        // RETURNING the one column another writer may have changed since
        // the row was read (an operator's request), instead of reading it
        // back.
        let written: Written = db::query_as(concat!(
            "UPDATE rows SET current = $1, status = $2, message = $3, lease_owner = NULL, lease_token = NULL, \
             lease_expires_ms = NULL, updated_ms = $4, ",
            version_after!("$1", "$6", "$7"),
            " WHERE id = $5 RETURNING requested, version, work_version, upgrade_from"
        ))
        .bind(ending.current)
        .bind(ending.status)
        .bind(ending.message)
        .bind(now_ms)
        .bind(stored.id.0)
        .bind(ending.passed)
        .bind(ending.version)
        .fetch_one(conn)
        .await?;
        (stored, written)
    };
    let mut stored = stored;
    let (requested, reached, work, upgrade_from) = written;
    stored.row.requested = stored_stage(requested)?;
    stored.row.version.reached = reached;
    stored.row.version.upgrade_from = upgrade_from;
    if work.is_some() {
        stored.row.version.work = work;
    }
    stored.row.current = current_after(outcome, after);
    stored.row.status = match &after.error {
        Some(message) => Status::Error {
            message: message.clone(),
        },
        None => Status::Ok,
    };
    Ok(stored)
}

/// The row's `current` after an attempt: the engine's word, except that
/// an attempt from the bottom stage that failed (the row goes in error)
/// leaves it unknown. What such an attempt changed is not known (a failed
/// first install leaves `opkg-<p>` in place), and an unknown current keeps
/// the row among the pending rows until an attempt passes, so after
/// `opm remove` and `opm retry` the uninstall path still runs (issue 16,
/// MEDIUM 3). Transient trouble (a busy package manager) changed nothing
/// and leaves `current` as it was; higher up `current` stays too: a row
/// that is not at the bottom needs no help to be pending when requested
/// down.
fn current_after(outcome: &Outcome, after: &RowAfter) -> Option<Stage> {
    match after.current {
        None | Some(Stage::ShouldNotBeInstalled) if !outcome.passed && after.error.is_some() => {
            None
        }
        current => current,
    }
}

/// What finishing an attempt leaves in the row: `requested` (which another
/// writer may have changed meanwhile) and the version columns.
pub(crate) type Written = (i64, Option<String>, Option<String>, Option<String>);

/// What finishing an attempt writes, in stored form.
pub(crate) struct Ending<'a> {
    /// The attempt's result.
    pub(crate) result: &'static str,
    /// The script's exit code, if it exited.
    pub(crate) exit_code: Option<i32>,
    /// The captured output, capped.
    pub(crate) output: String,
    /// Every byte the stage printed.
    pub(crate) output_bytes: i64,
    /// The row's new `current`.
    pub(crate) current: Option<i64>,
    /// The row's new status.
    pub(crate) status: &'static str,
    /// The row's new message.
    pub(crate) message: &'a str,
    /// Whether the attempt passed (its stage is done).
    pub(crate) passed: bool,
    /// The version the stage worked with, if the engine said.
    pub(crate) version: Option<&'a str>,
    /// The lease token, as stored.
    pub(crate) token: i64,
    /// When it ended.
    pub(crate) now_ms: i64,
}

impl<'a> Ending<'a> {
    fn new(outcome: &Outcome, after: &'a RowAfter, token: u64, now_ms: i64) -> Result<Self> {
        let (status, message) = match &after.error {
            Some(message) => ("error", message.as_str()),
            None => ("ok", ""),
        };
        Ok(Ending {
            result: if outcome.passed { "passed" } else { "failed" },
            exit_code: outcome.exit_code,
            output: cap_output(&outcome.output, MAX_OUTPUT_BYTES),
            output_bytes: i64::try_from(outcome.output_bytes).unwrap_or(i64::MAX),
            current: current_after(outcome, after).map(|s| i64::from(s.id())),
            status,
            message,
            passed: outcome.passed && after.error.is_none(),
            version: after.version.as_deref(),
            token: token_value(token)?,
            now_ms,
        })
    }
}

/// The attempt's row, or why `attempt` may not finish under `token`: that
/// is not the target's lease (stale), or the attempt is no longer the
/// row's running one under it (superseded: ended already, or begun under
/// an earlier lease).
pub(crate) fn may_finish(
    found: LeasedAttempt,
    attempt: AttemptId,
    token: u64,
) -> Result<StoredRow> {
    let (LeasedRow { stored, lease }, result, attempt_token) = found;
    let target = &stored.row.target;
    leases::check_held(target, lease, token)?;
    let why = match (result.as_deref(), attempt_token) {
        (Some("running"), Some(began)) if began == token_value(token)? => return Ok(stored),
        (Some("running"), Some(began)) => format!(
            "was begun under an earlier lease (token {began}), not under the current lease token {token}"
        ),
        (Some("interrupted"), _) => {
            "was superseded by a later attempt, which recorded it as interrupted".to_owned()
        }
        (Some(ended), _) => format!("has already ended ({ended})"),
        (None, _) => "is not a stage attempt".to_owned(),
    };
    Err(StoreError::AttemptSuperseded {
        target: target.clone(),
        opkg: stored.row.package.to_string(),
        attempt: attempt.0,
        why,
    })
}

/// The history entry `id`, with its captured output.
pub(crate) async fn one(conn: &mut impl Db, id: AttemptId) -> Result<HistoryEntry> {
    let row = db::query(
        "SELECT id, target_kind, target_name, opkg, event, stage, result, started_ms, \
                ended_ms, exit_code, output, output_bytes, note, whole_stage FROM history WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::UnknownAttempt { id: id.0 })?;
    decode(&row)
}

/// A history entry from a `SELECT` of every history column.
pub(crate) fn decode(row: &DbRow) -> Result<HistoryEntry> {
    let kind: String = row.try_get("target_kind")?;
    let name: String = row.try_get("target_name")?;
    let target = match kind.as_str() {
        "node" => Target::node(stored_name(NameKind::Node, &name)?),
        "image" => Target::image(stored_name(NameKind::Image, &name)?),
        other => {
            return Err(StoreError::Corrupt {
                what: "target kind",
                value: other.to_owned(),
            });
        }
    };
    let stage: Option<i64> = row.try_get("stage")?;
    let result: Option<String> = row.try_get("result")?;
    let output_bytes: i64 = row.try_get("output_bytes")?;
    Ok(HistoryEntry {
        id: AttemptId(row.try_get("id")?),
        target,
        opkg: stored_name(NameKind::Opkg, &row.try_get::<String, _>("opkg")?)?,
        event: Event::parse(&row.try_get::<String, _>("event")?)?,
        stage: stage.map(stored_stage).transpose()?,
        result: result.as_deref().map(AttemptResult::parse).transpose()?,
        started_ms: row.try_get("started_ms")?,
        ended_ms: row.try_get("ended_ms")?,
        exit_code: row.try_get("exit_code")?,
        output: row.try_get("output")?,
        output_bytes: u64::try_from(output_bytes).unwrap_or(0),
        note: row.try_get("note")?,
        whole_stage: row.try_get::<i64, _>("whole_stage")? == 1,
    })
}

/// History entries matching a filter; the newest `limit`, oldest first.
pub(crate) async fn list(conn: &mut impl Db, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
    let (kind, name) = match &filter.target {
        Some(target) => (
            Some(match target.kind {
                TargetKind::Node => "node",
                TargetKind::Image => "image",
            }),
            Some(target.name.as_str()),
        ),
        None => (None, None),
    };
    let rows = db::query(
        "SELECT id, target_kind, target_name, opkg, event, stage, result, started_ms, ended_ms, \
                exit_code, output, output_bytes, note, whole_stage FROM history \
         WHERE ($1 IS NULL OR (target_kind = $1 AND target_name = $2)) AND ($3 IS NULL OR opkg = $3) \
         ORDER BY id DESC LIMIT CAST($4 AS BIGINT)",
    )
    .bind(kind)
    .bind(name)
    .bind(filter.opkg.as_ref().map(Name::as_str))
    .bind(i64::from(filter.limit))
    .fetch_all(conn)
    .await?;
    let mut entries = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
    entries.reverse();
    Ok(entries)
}

/// One row's attempts of one stage, as the loader needs them: how many
/// there were and how the newest ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptTally {
    /// The row.
    pub row: RowId,
    /// The stage attempted.
    pub stage: Stage,
    /// How many attempts of it history holds.
    pub attempts: u32,
    /// The newest of them.
    pub newest: AttemptId,
    /// How the newest ended; `None` when history holds no result for it.
    pub result: Option<AttemptResult>,
}

/// The attempt tallies of every pending row in `scope`, in one query, so a
/// pass reads history once and not once per row.
pub(crate) async fn tallies(conn: &mut impl Db, scope: &Scope) -> Result<Vec<AttemptTally>> {
    // The pending predicate repeats the partial index's, as rows.rs does.
    macro_rules! tally_sql {
        ($within:literal) => {
            concat!(
                "SELECT t.row_id, t.stage, t.attempts, t.newest, h.result FROM ( \
                   SELECT row_id, stage, count(*) AS attempts, max(id) AS newest FROM history \
                   WHERE event = 'attempt' AND stage IS NOT NULL AND row_id IN ( \
                     SELECT r.id FROM rows r \
                     WHERE (r.status <> 'ok' OR r.current IS NULL OR r.requested <> r.current)",
                $within,
                ") GROUP BY row_id, stage) t JOIN history h ON h.id = t.newest \
                 ORDER BY t.row_id, t.stage"
            )
        };
    }
    let rows = match scope {
        Scope::All => db::query(tally_sql!("")).fetch_all(conn).await?,
        // A target by name within the query: one that does not exist has
        // no pending rows, so no tallies.
        Scope::Target(target) => {
            match target.kind {
                TargetKind::Node => db::query(tally_sql!(
                    " AND r.node_id = (SELECT id FROM nodes WHERE name = $1)"
                )),
                TargetKind::Image => db::query(tally_sql!(
                    " AND r.image_id = (SELECT id FROM images WHERE name = $1)"
                )),
            }
            .bind(target.name.as_str())
            .fetch_all(conn)
            .await?
        }
    };
    rows.iter()
        .map(|row| {
            let attempts: i64 = row.try_get("attempts")?;
            let result: Option<String> = row.try_get("result")?;
            Ok(AttemptTally {
                row: RowId(row.try_get("row_id")?),
                stage: stored_stage(row.try_get("stage")?)?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                newest: AttemptId(row.try_get("newest")?),
                result: result.as_deref().map(AttemptResult::parse).transpose()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::cap_output;
    use opm_model::Stage::{self, *};
    use opm_model::{Unfinished, legal_step};

    /// The store's acceptance rule, as `may_begin` applies it.
    fn is_next_step(
        requested: Stage,
        current: Option<Stage>,
        stage: Stage,
        unfinished: Option<Unfinished>,
    ) -> bool {
        legal_step(current, requested, unfinished).begins(stage)
    }

    #[test]
    fn only_the_next_stage_of_a_row_may_begin() {
        let cases: [(Stage, Option<Stage>, Stage, bool); 9] = [
            (Finished, None, ShouldBeInstalled, true),
            (
                Finished,
                Some(ShouldNotBeInstalled),
                ShouldBeInstalled,
                true,
            ),
            (Finished, Some(RunScriptPostInstall), Finished, true),
            // Done already by someone else: not again.
            (Finished, Some(Finished), Finished, false),
            (Finished, Some(InstallBinPkgs), InstallBinPkgs, false),
            // Skipping a stage, or going past the request.
            (Finished, Some(ShouldBeInstalled), InstallBinPkgs, false),
            (
                RunConfigurator,
                Some(RunConfigurator),
                InstallBinPkgs,
                false,
            ),
            // The uninstall path, only while requested down.
            (
                ShouldNotBeInstalled,
                Some(Finished),
                ShouldNotBeInstalled,
                true,
            ),
            (
                ShouldNotBeInstalled,
                Some(ShouldNotBeInstalled),
                ShouldNotBeInstalled,
                false,
            ),
        ];
        for (requested, current, stage, expected) in cases {
            assert_eq!(
                is_next_step(requested, current, stage, None),
                expected,
                "{requested} {current:?} {stage}"
            );
        }
        assert!(!is_next_step(
            Finished,
            Some(Finished),
            ShouldNotBeInstalled,
            None
        ));
    }

    /// Issue 16, HIGH 2: what the planner decides after an unfinished
    /// attempt, the store admits.
    #[test]
    fn an_unfinished_attempt_admits_the_uninstall_the_planner_decides() {
        use Unfinished::{Uninstall, Up};
        // A first install cut short, then removed: opkg-<p> may be in place.
        for current in [None, Some(ShouldNotBeInstalled)] {
            let requested = ShouldNotBeInstalled;
            assert!(is_next_step(requested, current, requested, Some(Up)));
            assert!(is_next_step(requested, current, requested, Some(Uninstall)));
            assert!(!is_next_step(requested, current, requested, None));
        }
        // An uninstall cut short, then requested up again: finished first.
        assert!(is_next_step(
            Finished,
            Some(InstallBinPkgs),
            ShouldNotBeInstalled,
            Some(Uninstall)
        ));
        assert!(!is_next_step(
            Finished,
            Some(InstallBinPkgs),
            RunScriptPostImage,
            Some(Uninstall)
        ));
        // An unfinished step up changes nothing above the bottom.
        assert!(is_next_step(
            Finished,
            Some(InstallBinPkgs),
            RunScriptPostImage,
            Some(Up)
        ));
    }

    #[test]
    fn short_output_is_kept_whole() {
        assert_eq!(cap_output("all fine\n", 64), "all fine\n");
        assert_eq!(cap_output("", 0), "");
        let exact = "x".repeat(64);
        assert_eq!(cap_output(&exact, 64), exact);
    }

    #[test]
    fn long_output_keeps_head_and_tail() {
        let output = format!("{}{}{}", "H".repeat(100), "z".repeat(1000), "T".repeat(100));
        let capped = cap_output(&output, 200);
        assert!(capped.starts_with(&"H".repeat(100)), "{capped}");
        assert!(capped.ends_with(&"T".repeat(100)), "{capped}");
        assert!(!capped.contains('z'), "{capped}");
        assert!(
            capped.contains("[... 1000 bytes of output omitted ...]"),
            "{capped}"
        );
    }

    #[test]
    fn the_cut_never_splits_a_character() {
        // 'é' is two bytes: any odd cut point falls inside one.
        let output = "é".repeat(500);
        for max in [3, 7, 101, 999] {
            let capped = cap_output(&output, max);
            assert!(capped.len() <= max + 64, "{max}: {}", capped.len());
            let kept = capped.chars().filter(|c| *c == 'é').count();
            assert!(kept * 2 <= max, "{max}: kept {kept}");
        }
    }
}
