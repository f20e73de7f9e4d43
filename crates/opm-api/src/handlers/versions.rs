//! The tools' API for versions (SPEC §1.9): `POST /v1/upgrade` starts
//! upgrades as `opm upgrade` does, `POST /v1/pin` pins or unpins an
//! opkg's version as `opm opkg pin`/`unpin` do. The rules are
//! `opm_engine::upgrade`'s.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use opm_engine::upgrade::{UpgradeReport, UpgradeRequest, UpgradeScope, upgrade};
use opm_model::api::{PinBody, Pinned, UpgradeBody};
use opm_store::Store;

use super::body;
use crate::auth::{self, Bearer};
use crate::error::ApiFailure;
use crate::router::AppState;

/// `POST /v1/upgrade`: every covered row's verdict, the upgrades started;
/// a refused downgrade is 409 and starts nothing.
pub async fn upgrade_rows<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    request: Result<Json<UpgradeBody>, JsonRejection>,
) -> Result<Json<UpgradeReport>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let request = body(request)?;
    let scope = match (request.node, request.image, request.group) {
        (None, None, None) => UpgradeScope::All,
        (Some(node), None, None) => UpgradeScope::Node(node),
        (None, Some(image), None) => UpgradeScope::Image(image),
        (None, None, Some(group)) => UpgradeScope::Group(group),
        _ => {
            return Err(ApiFailure::BadRequest(
                "say at most one of node, image and group".to_owned(),
            ));
        }
    };
    let report = upgrade(
        state.store.as_ref(),
        &UpgradeRequest {
            packages: request.packages,
            scope,
            allow_downgrade: request.allow_downgrade,
            rollout: request.rollout,
        },
        state.clock.now_ms(),
    )
    .await?;
    if let Some(refusal) = report.refusal() {
        return Err(ApiFailure::Conflict(refusal));
    }
    if report.started > 0 {
        state.changed();
    }
    Ok(Json(report))
}

/// `POST /v1/pin`: pins an opkg to an imported version, or unpins it.
pub async fn pin<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    request: Result<Json<PinBody>, JsonRejection>,
) -> Result<Json<Pinned>, ApiFailure> {
    auth::admin(state.store.as_ref(), &bearer).await?;
    let request = body(request)?;
    let wanted_version = state
        .store
        .pin_opkg(&request.package, request.version.as_deref())
        .await?;
    Ok(Json(Pinned {
        package: request.package,
        pinned: request.version,
        wanted_version,
    }))
}
