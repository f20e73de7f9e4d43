//! The tools' API ("the other tool" of OPM) with the admin token: thin
//! adapters over `opm_engine::operate`, one per route, so the tools' API
//! and the CLI (local or `--server`) answer the same views, refuse the same
//! requests and cannot drift. A handler checks the token, reads its body
//! or query, calls the operation, wakes the passes when something changed,
//! and answers JSON.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use opm_engine::operate::{self, Actor, Local, Operator as _};
use opm_model::Name;
use opm_model::api::{
    AuditLine, AuditQuery, ConfigQuery, ConfigSet, ConfigSetBody, ConfigView, HistoryLine,
    HistoryQuery, ImageAddBody, ImageAdded, ImageView, InstallBody, LogsQuery, NodeAddBody,
    NodeAdded, NodeView, PhaseBody, PhaseSet, PlanLine, RemoveBody, RemoveQuery, Removed,
    RequestBody, RequestOutcome, RerunBody, RetryBody, RolloutBody, RolloutLine, RowFilter,
    StatusRow,
};
use opm_store::Store;

use super::body;
use crate::auth::{self, Bearer};
use crate::error::ApiFailure;
use crate::router::AppState;

type Shared<S> = State<Arc<AppState<S>>>;

/// Who the audit trail says asked for an action through the tools' API:
/// the admin token's name (the server cannot see the Unix user behind a
/// call, so an `opm --remote` action is recorded under it too).
pub const ADMIN_ACTOR: &str = "admin";

/// The operator of a call that changes something, once its token is
/// checked: the operations over the server's store, recorded in the audit
/// trail as the admin token's.
async fn operator<S: Store>(state: &AppState<S>, bearer: &Bearer) -> Result<Local<S>, ApiFailure> {
    auth::admin(state.store.as_ref(), bearer).await?;
    Ok(Local {
        store: Arc::clone(&state.store),
        clock: Arc::clone(&state.clock),
        scope: None,
        actor: Actor(ADMIN_ACTOR.to_owned()),
    })
}
type Answer<T> = Result<Json<T>, ApiFailure>;

/// A query string, or 400 saying what is wrong with it.
fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiFailure> {
    query
        .map(|Query(value)| value)
        .map_err(|rejection| ApiFailure::BadRequest(rejection.body_text()))
}

/// `GET /v1/status?node=&image=&group=&package=&stage=&errors=`.
pub async fn status<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    filter: Result<Query<RowFilter>, QueryRejection>,
) -> Answer<Vec<StatusRow>> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let filter = query(filter)?;
    Ok(Json(operate::status(state.store.as_ref(), &filter).await?))
}

/// `GET /v1/plan?...`, filtered as status: as `opm plan` on the head
/// node, each pending row of the cluster with its next action or what it
/// waits for.
pub async fn plan<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    filter: Result<Query<RowFilter>, QueryRejection>,
) -> Answer<Vec<PlanLine>> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let filter = query(filter)?;
    let scope = state.engine.plan_scope();
    let now = state.clock.now_ms();
    Ok(Json(
        operate::plan(state.store.as_ref(), &scope, &filter, now).await?,
    ))
}

/// `GET /v1/audit?since_ms=`: who asked for which action, when.
pub async fn audit<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    audit: Result<Query<AuditQuery>, QueryRejection>,
) -> Answer<Vec<AuditLine>> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let audit = query(audit)?;
    Ok(Json(operate::audit(state.store.as_ref(), &audit).await?))
}

/// `GET /v1/history?node=&image=&package=&limit=&since_ms=&failed=`.
pub async fn history<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    history: Result<Query<HistoryQuery>, QueryRejection>,
) -> Answer<Vec<HistoryLine>> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let history = query(history)?;
    Ok(Json(
        operate::history(state.store.as_ref(), &history).await?,
    ))
}

/// `GET /v1/logs?attempt=` or `?package=&node=|image=`.
pub async fn logs<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    logs: Result<Query<LogsQuery>, QueryRejection>,
) -> Answer<HistoryLine> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let logs = query(logs)?;
    Ok(Json(operate::logs(state.store.as_ref(), &logs).await?))
}

/// `GET /v1/phase`.
pub async fn phase<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
) -> Answer<PhaseBody> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    Ok(Json(operate::phase(state.store.as_ref()).await?))
}

/// `PUT /v1/phase`: sets the install phase; gated stages may now run.
pub async fn set_phase<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    phase: Result<Json<PhaseBody>, JsonRejection>,
) -> Answer<PhaseSet> {
    let op = operator(&state, &bearer).await?;
    let phase = body(phase)?;
    let set = op.set_phase(&phase).await?;
    state.changed();
    Ok(Json(set))
}

/// `POST /v1/request`: as `opm request`, with its checks (names,
/// conflicts); refusals change nothing.
pub async fn request<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    request: Result<Json<RequestBody>, JsonRejection>,
) -> Answer<RequestOutcome> {
    let op = operator(&state, &bearer).await?;
    let request = body(request)?;
    let outcome = op.request(&request).await?;
    state.changed();
    Ok(Json(outcome))
}

/// `POST /v1/install`: as `opm install`; refusals change nothing.
pub async fn install<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    install: Result<Json<InstallBody>, JsonRejection>,
) -> Answer<RequestOutcome> {
    let op = operator(&state, &bearer).await?;
    let install = body(install)?;
    let outcome = op.install(&install).await?;
    state.changed();
    Ok(Json(outcome))
}

/// `POST /v1/remove`: as `opm remove`; refusals change nothing.
pub async fn remove<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    remove: Result<Json<RemoveBody>, JsonRejection>,
) -> Answer<RequestOutcome> {
    let op = operator(&state, &bearer).await?;
    let remove = body(remove)?;
    let outcome = op.remove(&remove).await?;
    state.changed();
    Ok(Json(outcome))
}

/// `POST /v1/retry`: clears a row's error; the reason goes into history.
pub async fn retry<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    retry: Result<Json<RetryBody>, JsonRejection>,
) -> Answer<StatusRow> {
    let op = operator(&state, &bearer).await?;
    let retry = body(retry)?;
    let row = op.retry(&retry).await?;
    state.changed();
    Ok(Json(row))
}

/// `POST /v1/rerun`: a row's stages from one stage on run again.
pub async fn rerun<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    rerun: Result<Json<RerunBody>, JsonRejection>,
) -> Answer<StatusRow> {
    let op = operator(&state, &bearer).await?;
    let rerun = body(rerun)?;
    let row = op.rerun(&rerun).await?;
    state.changed();
    Ok(Json(row))
}

/// `GET /v1/nodes`.
pub async fn nodes<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
) -> Answer<Vec<NodeView>> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    Ok(Json(operate::nodes(state.store.as_ref()).await?))
}

/// `POST /v1/nodes`: as `opm node add`.
pub async fn add_node<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    node: Result<Json<NodeAddBody>, JsonRejection>,
) -> Answer<NodeAdded> {
    let op = operator(&state, &bearer).await?;
    let node = body(node)?;
    let added = op.add_node(&node).await?;
    state.changed();
    Ok(Json(added))
}

/// `DELETE /v1/nodes/{name}[?dry_run=true]`: as `opm node remove`.
pub async fn remove_node<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    Path(name): Path<Name>,
    remove: Result<Query<RemoveQuery>, QueryRejection>,
) -> Answer<Removed> {
    let op = operator(&state, &bearer).await?;
    let remove = query(remove)?;
    let removed = op.remove_node(&name, remove.dry_run).await?;
    state.changed();
    Ok(Json(removed))
}

/// `GET /v1/images`.
pub async fn images<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
) -> Answer<Vec<ImageView>> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    Ok(Json(operate::images(state.store.as_ref()).await?))
}

/// `POST /v1/images`: as `opm image add`, the root a directory of the
/// head node.
pub async fn add_image<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    image: Result<Json<ImageAddBody>, JsonRejection>,
) -> Answer<ImageAdded> {
    let op = operator(&state, &bearer).await?;
    let image = body(image)?;
    let added = op.add_image(&image).await?;
    state.changed();
    Ok(Json(added))
}

/// `DELETE /v1/images/{name}`: as `opm image remove`.
pub async fn remove_image<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    Path(name): Path<Name>,
) -> Answer<Removed> {
    let op = operator(&state, &bearer).await?;
    let removed = op.remove_image(&name).await?;
    state.changed();
    Ok(Json(removed))
}

/// `GET /v1/config?package=&image=`: as `opm config show`.
pub async fn config_show<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    config: Result<Query<ConfigQuery>, QueryRejection>,
) -> Answer<ConfigView> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let config = query(config)?;
    Ok(Json(
        operate::config_show(state.store.as_ref(), &config).await?,
    ))
}

/// `PUT /v1/config`: as `opm config set`.
pub async fn config_set<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    config: Result<Json<ConfigSetBody>, JsonRejection>,
) -> Answer<ConfigSet> {
    let op = operator(&state, &bearer).await?;
    let config = body(config)?;
    let set = op.config_set(&config).await?;
    state.changed();
    Ok(Json(set))
}

/// `GET /v1/rollouts`: as `opm rollout status`.
pub async fn rollouts<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
) -> Answer<Vec<RolloutLine>> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    Ok(Json(operate::rollouts(state.store.as_ref()).await?))
}

/// `POST /v1/rollouts/resume`: as `opm rollout resume`.
pub async fn rollout_resume<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    request: Result<Json<RolloutBody>, JsonRejection>,
) -> Answer<RolloutLine> {
    let op = operator(&state, &bearer).await?;
    let request = body(request)?;
    let line = op.rollout_resume(&request).await?;
    // The nodes it started have work now.
    state.changed();
    Ok(Json(line))
}

/// `POST /v1/rollouts/abort`: as `opm rollout abort`.
pub async fn rollout_abort<S: Store + 'static>(
    State(state): Shared<S>,
    bearer: Bearer,
    request: Result<Json<RolloutBody>, JsonRejection>,
) -> Answer<RolloutLine> {
    let op = operator(&state, &bearer).await?;
    let request = body(request)?;
    let line = op.rollout_abort(&request).await?;
    Ok(Json(line))
}
