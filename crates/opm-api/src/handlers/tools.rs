//! The tools' API ("the other tool" of OPM): the rows, the install phase,
//! requests, retries and history, with the admin token.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use opm_engine::PlanLine;
use opm_engine::requests::{self, Snapshot};
use opm_model::Status;
use opm_model::api::{
    InstallBody, PhaseBody, RemoveBody, RequestBody, RequestChanged, RetryBody, StatusRow,
};
use opm_plan::RequestChange;
use opm_store::{HistoryFilter, Store, StoredRow};
use serde::Deserialize;

use super::body;
use crate::auth::{self, Bearer};
use crate::error::ApiFailure;
use crate::router::AppState;

/// Rows read per page for `GET /v1/status`.
const PAGE: u32 = 1_000;

/// Most history entries one `GET /v1/history` answers with.
const MAX_HISTORY: u32 = 10_000;

/// A stored row as the tools see it.
pub fn status_row(stored: &StoredRow) -> StatusRow {
    let row = &stored.row;
    StatusRow {
        target: row.target.name.to_string(),
        kind: row.target.kind.name().to_owned(),
        package: row.package.to_string(),
        requested: row.requested,
        current: row.current,
        status: row.status.kind().name().to_owned(),
        message: match &row.status {
            Status::Error { message } | Status::Drifted { message } => message.clone(),
            Status::Ok | Status::Running { .. } => String::new(),
        },
        version: row.version.reached.clone(),
        wanted_version: stored.wanted_version.clone(),
    }
}

/// `GET /v1/status`: every row.
pub async fn status<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
) -> Result<Json<Vec<StatusRow>>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.all_rows(after, PAGE).await?;
        rows.extend(page.rows.iter().map(status_row));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(Json(rows)),
        }
    }
}

/// `GET /v1/phase`.
pub async fn phase<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
) -> Result<Json<PhaseBody>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    Ok(Json(PhaseBody {
        phase: state.store.phase().await?,
    }))
}

/// `PUT /v1/phase`: sets the install phase; gated stages may now run.
pub async fn set_phase<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    phase: Result<Json<PhaseBody>, JsonRejection>,
) -> Result<Json<PhaseBody>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let phase = body(phase)?;
    state
        .store
        .set_phase(phase.phase, state.clock.now_ms())
        .await?;
    state.changed();
    Ok(Json(phase))
}

/// `POST /v1/request`: sets a row's requested stage, creating the row,
/// with the checks of `opm request` (names, conflicts); refusals change
/// nothing.
pub async fn request<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    request: Result<Json<RequestBody>, JsonRejection>,
) -> Result<Json<StatusRow>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let request = body(request)?;
    let mut snapshot = Snapshot::load(state.store.as_ref()).await?;
    requests::request(
        state.store.as_ref(),
        &mut snapshot,
        std::slice::from_ref(&request.target),
        &request.package,
        request.stage,
        state.clock.now_ms(),
    )
    .await?;
    let row = state.store.row(&request.target, &request.package).await?;
    state.changed();
    Ok(Json(status_row(&row)))
}

/// `POST /v1/retry`: clears a row's error; the reason goes into history.
/// The failed stage resumes at its failed step, or with `whole_stage` runs
/// from its first.
pub async fn retry<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    retry: Result<Json<RetryBody>, JsonRejection>,
) -> Result<Json<StatusRow>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let retry = body(retry)?;
    let now = state.clock.now_ms();
    let row = if retry.whole_stage {
        state
            .store
            .restart_stage(&retry.target, &retry.package, &retry.reason, now)
            .await?
    } else {
        state
            .store
            .retry(&retry.target, &retry.package, &retry.reason, now)
            .await?
    };
    state.changed();
    Ok(Json(status_row(&row)))
}

fn changed(changes: Vec<RequestChange>) -> Vec<RequestChanged> {
    changes
        .into_iter()
        .map(|change| RequestChanged {
            target: change.target,
            package: change.package,
            requested: change.requested,
            created: change.create,
        })
        .collect()
}

/// `POST /v1/install`: as `opm install`; refusals change nothing.
pub async fn install<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    install: Result<Json<InstallBody>, JsonRejection>,
) -> Result<Json<Vec<RequestChanged>>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let install = body(install)?;
    let packages = requests::unique(install.packages);
    let mut snapshot = Snapshot::load(state.store.as_ref()).await?;
    let changes = requests::install(
        state.store.as_ref(),
        &mut snapshot,
        &packages,
        install.group,
        state.clock.now_ms(),
    )
    .await?;
    state.changed();
    Ok(Json(changed(changes)))
}

/// `POST /v1/remove`: as `opm remove`; refusals change nothing.
pub async fn remove<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    remove: Result<Json<RemoveBody>, JsonRejection>,
) -> Result<Json<Vec<RequestChanged>>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let remove = body(remove)?;
    let packages = requests::unique(remove.packages);
    let mut snapshot = Snapshot::load(state.store.as_ref()).await?;
    let changes = requests::remove(
        state.store.as_ref(),
        &mut snapshot,
        &packages,
        remove.with_dependents,
        state.clock.now_ms(),
    )
    .await?;
    state.changed();
    Ok(Json(changed(changes)))
}

/// `GET /v1/plan`: as `opm plan` on the head node: each pending row of the
/// cluster (nodes' rows too) with its next action or what it waits for.
pub async fn plan<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
) -> Result<Json<Vec<PlanLine>>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    Ok(Json(state.engine.plan().await?))
}

/// The query of `GET /v1/history`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// At most this many entries, newest last.
    limit: Option<u32>,
}

/// One history entry as the tools see it (without the captured output).
#[derive(Debug, serde::Serialize)]
pub struct HistoryLine {
    id: i64,
    target: String,
    kind: &'static str,
    package: String,
    event: &'static str,
    stage: Option<opm_model::Stage>,
    result: Option<&'static str>,
    started_ms: i64,
    ended_ms: Option<i64>,
    exit_code: Option<i32>,
    note: String,
}

/// `GET /v1/history?limit=N`.
pub async fn history<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<HistoryLine>>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let Query(query) = query.map_err(|rejection| ApiFailure::BadRequest(rejection.body_text()))?;
    let filter = HistoryFilter {
        target: None,
        opkg: None,
        limit: query.limit.unwrap_or(100).min(MAX_HISTORY),
    };
    let entries = state.store.history(&filter).await?;
    Ok(Json(
        entries
            .iter()
            .map(|entry| HistoryLine {
                id: entry.id.0,
                target: entry.target.name.to_string(),
                kind: entry.target.kind.name(),
                package: entry.opkg.to_string(),
                event: entry.event.name(),
                stage: entry.stage,
                result: entry.result.map(opm_store::AttemptResult::name),
                started_ms: entry.started_ms,
                ended_ms: entry.ended_ms,
                exit_code: entry.exit_code,
                note: entry.note.clone(),
            })
            .collect(),
    ))
}
