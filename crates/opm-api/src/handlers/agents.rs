//! The agents' API: a long poll for the node's work, start and finish
//! reports of each stage, and heartbeats that keep the lease. A node's
//! token reaches only that node's rows.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use opm_model::api::{
    FinishReport, Finished, Heartbeat, MAX_POLL_WAIT_MS, PollRequest, StartReport, Started,
    VerifyAsk, VerifyQuestion, VerifyReport, VerifySummary, WorkBatch,
};
use opm_model::{Name, NameKind, Target};
use opm_plan::gate_blocker;
use opm_store::{AttemptId, AttemptResult, Outcome, RowAfter, RowId, Store, StoreError, StoredRow};

use super::body;
use crate::auth::{self, Bearer};
use crate::contact::{self, Caller};
use crate::drain::PROBE_EVERY;
use crate::error::ApiFailure;
use crate::metrics::{Runner, StageOutcome};
use crate::router::AppState;
use crate::work::{check_agent_id, work_for};

/// `POST /v1/agent/poll`: the node's work, waiting up to `wait_ms` for some.
/// A waiting poll looks at the store again only when the watcher of
/// [`crate::wake`] wakes its node, and at its deadline.
pub async fn poll<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    caller: Caller,
    request: Result<Json<PollRequest>, JsonRejection>,
) -> Result<Json<WorkBatch>, ApiFailure> {
    // Each store call on the heap while it runs, and only the token taken
    // from the request head (`Bearer`, not the headers, which point into
    // the connection's read buffer): what this future holds it holds for
    // the whole wait, for every waiting agent (B4: a second 8 KiB read
    // buffer and 9 KiB of future per waiting poll).
    let node = Box::pin(auth::node(state.store.as_ref(), &bearer)).await?;
    let request = body(request)?;
    check_agent_id(&request.agent)?;
    check_node(&node, &request.node)?;
    contact::record(&state, &node, caller).await;
    let wait = Duration::from_millis(request.wait_ms.min(MAX_POLL_WAIT_MS));
    let deadline = tokio::time::Instant::now() + wait;
    let waiting = state.waiters.enter(&node);
    loop {
        let woken = waiting.woken();
        let handed = Box::pin(work_for(
            state.store.as_ref(),
            &state.drains,
            &node,
            &request.agent,
            state.lease_ttl_ms,
            state.clock.now_ms(),
        ))
        .await?;
        if handed.joined {
            // The head node's pass decides when a node new to a rollout starts.
            state.engine_wake.notify_one();
        }
        let batch = handed.batch;
        let now = tokio::time::Instant::now();
        if !batch.items.is_empty() || now >= deadline || state.is_stopping() {
            if !batch.items.is_empty() {
                let stages = batch.items.iter().map(|item| (item.row, item.stage));
                state.handouts.hand_out(&node, batch.token, stages);
            }
            return Ok(Json(batch));
        }
        // A node waiting for its drain is looked at again soon: the
        // scheduler, not the store, says when it may go on.
        let next = if state.drains.is_waiting(&node) {
            deadline.min(now + PROBE_EVERY)
        } else {
            deadline
        };
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep_until(next) => {}
        }
    }
}

/// Refuses a poll whose agent's opm.conf names another node than the
/// token's (403): its work would go into the wrong machine's root.
fn check_node(node: &Name, said: &str) -> Result<(), ApiFailure> {
    let said = Name::new(NameKind::Node, said)
        .map_err(|error| ApiFailure::BadRequest(format!("bad request body: node: {error}")))?;
    if said == *node {
        return Ok(());
    }
    Err(ApiFailure::Forbidden(format!(
        "this token belongs to {node}, but this agent's opm.conf says {said}; \
         give the agent node {said}'s token ('opm node token {said}' on the head node)"
    )))
}

/// The row `id` if it is one of `node`'s; 403 otherwise.
async fn own_row<S: Store>(store: &S, node: &Name, id: i64) -> Result<StoredRow, ApiFailure> {
    let not_ours = || ApiFailure::Forbidden(format!("row {id} is not one of node {node}'s rows"));
    match store.row_by_id(RowId(id)).await {
        Ok(stored) if stored.row.target == Target::node(node.clone()) => Ok(stored),
        // An unknown id is answered as another node's would be: a token
        // learns nothing about rows that are not its node's.
        Ok(_) | Err(StoreError::UnknownRowId { .. }) => Err(not_ours()),
        Err(error) => Err(error.into()),
    }
}

/// Refuses (409) a stage the node's last poll did not hand out under the
/// report's lease token, and a stage whose gate (SPEC §1.2) the phase does
/// not open now (it may have been set back since the poll): the store
/// checks the lease and the next step, not what the planner decided.
async fn check_handed_out<S: Store>(
    state: &AppState<S>,
    node: &Name,
    report: &StartReport,
) -> Result<(), ApiFailure> {
    let StartReport { row, stage, token } = *report;
    if !state.handouts.was_handed_out(node, token, row, stage) {
        return Err(ApiFailure::Conflict(format!(
            "{stage} of row {row} was not handed out to node {node} under lease token {token}; \
             poll for work and start only what the poll hands out"
        )));
    }
    if let Some(blocked) = gate_blocker(stage, state.store.phase().await?) {
        return Err(ApiFailure::Conflict(format!(
            "{stage} of row {row} cannot start: {blocked}"
        )));
    }
    Ok(())
}

/// `POST /v1/agent/start`: begins a stage's attempt under the lease, if
/// the node's last poll handed it out and its gate is open.
pub async fn start<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    caller: Caller,
    report: Result<Json<StartReport>, JsonRejection>,
) -> Result<Json<Started>, ApiFailure> {
    let node = auth::node(state.store.as_ref(), &bearer).await?;
    contact::record(&state, &node, caller).await;
    let report = body(report)?;
    own_row(state.store.as_ref(), &node, report.row).await?;
    check_handed_out(&state, &node, &report).await?;
    let attempt = state
        .store
        .begin_attempt(
            RowId(report.row),
            report.stage,
            report.token,
            state.clock.now_ms(),
        )
        .await?;
    Ok(Json(Started { attempt: attempt.0 }))
}

/// `POST /v1/agent/finish`: records the attempt's steps, ends it and moves
/// its row; a report sent again (the agent re-sends what it is not sure
/// arrived) is recognised and changes nothing.
pub async fn finish<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    caller: Caller,
    report: Result<Json<FinishReport>, JsonRejection>,
) -> Result<Json<Finished>, ApiFailure> {
    let node = auth::node(state.store.as_ref(), &bearer).await?;
    contact::record(&state, &node, caller).await;
    let report = body(report)?;
    let entry = state.store.attempt(AttemptId(report.attempt)).await?;
    if entry.target != Target::node(node.clone()) {
        return Err(ApiFailure::Forbidden(format!(
            "attempt {} is not one of node {node}'s",
            report.attempt
        )));
    }
    if matches!(
        entry.result,
        Some(AttemptResult::Passed | AttemptResult::Failed)
    ) {
        return Ok(Json(Finished { duplicate: true }));
    }
    let Some(stage) = entry.stage else {
        return Err(ApiFailure::BadRequest(format!(
            "history entry {} is not a stage attempt",
            report.attempt
        )));
    };
    let after = if report.passed {
        RowAfter {
            current: Some(stage),
            error: None,
            version: report.version.clone(),
        }
    } else {
        // A failed stage leaves the row where it was: only then is its
        // current stage read.
        let row = state.store.row(&entry.target, &entry.opkg).await?;
        RowAfter {
            current: row.row.current,
            // Transient trouble is never a row error (SPEC §1.3 rule 7).
            error: (!report.transient).then(|| {
                report
                    .message
                    .clone()
                    .unwrap_or_else(|| format!("{stage} failed on node {node}"))
            }),
            version: None,
        }
    };
    if !report.steps.is_empty() {
        // Its steps first: a report sent again after this write finds
        // them recorded and changes none of them.
        state
            .store
            .record_steps(AttemptId(report.attempt), &report.steps, report.token)
            .await?;
    }
    let ended = if report.passed {
        StageOutcome::Passed
    } else if report.transient {
        StageOutcome::Transient
    } else {
        StageOutcome::Failed
    };
    let outcome = Outcome {
        passed: report.passed,
        exit_code: report.exit_code,
        // An agent older than the count sends all it kept, which is all
        // there is to count.
        output_bytes: report
            .output_bytes
            .unwrap_or_else(|| u64::try_from(report.output.len()).unwrap_or(u64::MAX)),
        output: report.output,
    };
    let now = state.clock.now_ms();
    state
        .store
        .finish_attempt(
            AttemptId(report.attempt),
            &outcome,
            &after,
            report.token,
            now,
        )
        .await?;
    #[allow(clippy::cast_precision_loss)] // durations are far below 2^52 ms
    let seconds = (now - entry.started_ms) as f64 / 1000.0;
    state
        .metrics
        .stage_ended(Runner::Agent, stage, ended, seconds);
    // The head node's rows may wait for this one (an uninstall).
    state.engine_wake.notify_one();
    Ok(Json(Finished { duplicate: false }))
}

/// `POST /v1/agent/heartbeat`: the agent still works under its lease.
pub async fn heartbeat<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    caller: Caller,
    beat: Result<Json<Heartbeat>, JsonRejection>,
) -> Result<Json<Heartbeat>, ApiFailure> {
    let node = auth::node(state.store.as_ref(), &bearer).await?;
    contact::record(&state, &node, caller).await;
    let beat = body(beat)?;
    let lease = state
        .store
        .renew_lease(
            &Target::node(node),
            beat.token,
            state.lease_ttl_ms,
            state.clock.now_ms(),
        )
        .await?;
    Ok(Json(Heartbeat { token: lease.token }))
}

/// `POST /v1/agent/verify/ask`: the native packages of the node's rows a
/// verify reads (SPEC §1.9), for one question to its package database.
pub async fn verify_ask<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    ask: Result<Json<VerifyAsk>, JsonRejection>,
) -> Result<Json<VerifyQuestion>, ApiFailure> {
    let node = auth::node(state.store.as_ref(), &bearer).await?;
    let ask = body(ask)?;
    check_node(&node, &ask.node)?;
    let packages = opm_engine::verify::node_question(state.store.as_ref(), &node).await?;
    Ok(Json(VerifyQuestion { packages }))
}

/// `POST /v1/agent/verify`: what the node's package database said. The
/// server judges the token's node's rows from it, and only those: a node
/// reports facts about its own root, never rows (another node's name in
/// the body is a 403, as for a poll).
pub async fn verify_report<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    report: Result<Json<VerifyReport>, JsonRejection>,
) -> Result<Json<VerifySummary>, ApiFailure> {
    let node = auth::node(state.store.as_ref(), &bearer).await?;
    let report = body(report)?;
    check_node(&node, &report.node)?;
    let summary = opm_engine::verify::judge_node(
        state.store.as_ref(),
        &node,
        &report.inventory,
        state.clock.now_ms(),
    )
    .await?;
    for drifted in &summary.drifted {
        tracing::warn!(row = %drifted.row, "drifted: {}", drifted.reason);
    }
    Ok(Json(summary))
}
