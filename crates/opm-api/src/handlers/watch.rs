//! What watches the server: `GET /healthz` (the process answers),
//! `GET /readyz` (its database answers and is fully migrated) and
//! `GET /metrics` (Prometheus' text, [`crate::metrics`]). None needs a
//! token and none tells anything secret: the probes answer one line, and
//! the metrics hold counts, stage names and node names.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opm_store::{Store, StoreError};

use crate::metrics::Metrics;
use crate::router::AppState;

/// The longest `/readyz` and `/metrics` wait for the database: a probe
/// answers within its own timeout (Kubernetes' default is 1 s, Prometheus'
/// scrape timeout 10 s), so a database that hangs is "not ready", not a
/// probe that hangs.
const STORE_WAIT: Duration = Duration::from_secs(3);

/// `GET /healthz`: the process is up and serving.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 when the database answers and has every migration
/// of this opm, 503 with the reason otherwise (the details go to the log,
/// not to whoever asks).
pub async fn readyz<S: Store + 'static>(State(state): State<Arc<AppState<S>>>) -> Response {
    let checked = tokio::time::timeout(STORE_WAIT, state.store.check_ready()).await;
    let reason = match checked {
        Ok(Ok(())) => return (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(error @ (StoreError::SchemaTooOld { .. } | StoreError::NotInitialised { .. }))) => {
            tracing::warn!("not ready: {error}");
            "not ready: the database lacks migrations of this opm; run 'opm init'\n"
        }
        Ok(Err(error @ StoreError::SchemaTooNew { .. })) => {
            tracing::warn!("not ready: {error}");
            "not ready: a newer opm migrated the database; upgrade this server\n"
        }
        Ok(Err(error)) => {
            tracing::warn!("not ready: {error}");
            "not ready: the database does not answer\n"
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer within {STORE_WAIT:?}");
            "not ready: the database does not answer\n"
        }
    };
    (StatusCode::SERVICE_UNAVAILABLE, reason).into_response()
}

/// `GET /metrics`: every metric, the row counts read now (or at most 2 s
/// ago, [`Metrics::row_counts`]). Without the
/// database the scrape fails (503), so Prometheus' `up` says so.
pub async fn metrics<S: Store + 'static>(State(state): State<Arc<AppState<S>>>) -> Response {
    let now = state.clock.now_ms();
    let read = state.metrics.row_counts(state.store.row_counts(now));
    let counts = match tokio::time::timeout(STORE_WAIT, read).await {
        Ok(Ok(counts)) => counts,
        Ok(Err(error)) => {
            tracing::warn!("cannot count rows for /metrics: {error}");
            return unavailable();
        }
        Err(_) => {
            tracing::warn!("cannot count rows for /metrics: no answer within {STORE_WAIT:?}");
            return unavailable();
        }
    };
    (
        [(header::CONTENT_TYPE, Metrics::content_type())],
        state.metrics.scrape(&counts, now),
    )
        .into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the database does not answer\n",
    )
        .into_response()
}
