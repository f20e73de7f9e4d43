//! Every route of the API, in one place, and the state handlers share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, post};
use opm_engine::{Clock, Engine};
use opm_model::api::MAX_BODY_BYTES;
use opm_store::Store;
use tokio::sync::Notify;

use crate::handlers::{agents, enroll, tools, versions, watch};
use crate::handouts::Handouts;
use crate::metrics::{AgentCall, Metrics};
use crate::wake::Waiters;

/// What every handler reads.
pub struct AppState<S: Store> {
    /// The state store.
    pub store: Arc<S>,
    /// The head node's engine, for plans.
    pub engine: Arc<Engine<S>>,
    /// Time, injected.
    pub clock: Arc<dyn Clock>,
    /// How long an agent's lease lasts unless a heartbeat renews it.
    pub lease_ttl_ms: i64,
    /// Woken when nodes may have new work (a pass moved, a request came):
    /// the watcher of [`crate::wake`] then looks which.
    pub agents_wake: Notify,
    /// The polls waiting for work, woken per node by the watcher.
    pub waiters: Waiters,
    /// What each node's last poll got: the only stages it may start.
    pub handouts: Handouts,
    /// Woken when the head node's rows may move (a node reported).
    pub engine_wake: Notify,
    /// Set when the server stops: waiting polls answer at once.
    pub stopping: AtomicBool,
    /// What `/metrics` tells.
    pub metrics: Arc<Metrics>,
    /// When each node's agent's contact was last recorded.
    pub contacts: crate::contact::Contacts,
    /// Draining nodes through the scheduler before their packages change.
    pub drains: crate::drain::Drains,
}

impl<S: Store> AppState<S> {
    /// Something a tool changed: the head node's pass and the waiting
    /// polls both look again.
    pub fn changed(&self) {
        self.engine_wake.notify_one();
        self.agents_wake.notify_one();
    }

    /// The server stops: polls waiting for work answer now, so the
    /// graceful shutdown does not wait out their 30 s.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.waiters.wake_all();
    }

    /// Whether the server is stopping.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }
}

/// Times an agent's call into the metrics; a poll counts as held while
/// it runs.
async fn timed(
    State((metrics, call)): State<(Arc<Metrics>, AgentCall)>,
    request: Request,
    next: Next,
) -> Response {
    let began = Instant::now();
    let held = (call == AgentCall::Poll).then(|| metrics.poll_held());
    let response = next.run(request).await;
    drop(held);
    metrics.call_answered(call, began.elapsed().as_secs_f64());
    response
}

/// An agent's route, timed as `call`.
fn agent_route<S: Store + 'static>(
    state: &AppState<S>,
    call: AgentCall,
    route: MethodRouter<Arc<AppState<S>>>,
) -> MethodRouter<Arc<AppState<S>>> {
    route.layer(middleware::from_fn_with_state(
        (Arc::clone(&state.metrics), call),
        timed,
    ))
}

/// The `/v1/` API over `state`, and the open `/healthz`, `/readyz` and
/// `/metrics`.
pub fn router<S: Store + 'static>(state: Arc<AppState<S>>) -> Router {
    let agent = |call, route| agent_route(&state, call, route);
    Router::new()
        .route("/healthz", get(watch::healthz))
        .route("/readyz", get(watch::readyz::<S>))
        .route("/metrics", get(watch::metrics::<S>))
        .route(
            "/v1/agent/poll",
            agent(AgentCall::Poll, post(agents::poll::<S>)),
        )
        .route(
            "/v1/agent/start",
            agent(AgentCall::Start, post(agents::start::<S>)),
        )
        .route(
            "/v1/agent/finish",
            agent(AgentCall::Finish, post(agents::finish::<S>)),
        )
        .route(
            "/v1/agent/heartbeat",
            agent(AgentCall::Heartbeat, post(agents::heartbeat::<S>)),
        )
        .route("/v1/agent/enroll", post(enroll::enroll::<S>))
        .route("/v1/agent/verify/ask", post(agents::verify_ask::<S>))
        .route("/v1/agent/verify", post(agents::verify_report::<S>))
        .route("/v1/status", get(tools::status::<S>))
        .route("/v1/plan", get(tools::plan::<S>))
        .route("/v1/history", get(tools::history::<S>))
        .route("/v1/audit", get(tools::audit::<S>))
        .route("/v1/logs", get(tools::logs::<S>))
        .route(
            "/v1/phase",
            get(tools::phase::<S>).put(tools::set_phase::<S>),
        )
        .route("/v1/request", post(tools::request::<S>))
        .route("/v1/install", post(tools::install::<S>))
        .route("/v1/remove", post(tools::remove::<S>))
        .route("/v1/retry", post(tools::retry::<S>))
        .route("/v1/upgrade", post(versions::upgrade_rows::<S>))
        .route("/v1/pin", post(versions::pin::<S>))
        .route("/v1/rerun", post(tools::rerun::<S>))
        .route("/v1/rollouts", get(tools::rollouts::<S>))
        .route("/v1/rollouts/resume", post(tools::rollout_resume::<S>))
        .route("/v1/rollouts/abort", post(tools::rollout_abort::<S>))
        .route(
            "/v1/nodes",
            get(tools::nodes::<S>).post(tools::add_node::<S>),
        )
        .route("/v1/nodes/{name}", delete(tools::remove_node::<S>))
        .route(
            "/v1/images",
            get(tools::images::<S>).post(tools::add_image::<S>),
        )
        .route("/v1/images/{name}", delete(tools::remove_image::<S>))
        .route(
            "/v1/config",
            get(tools::config_show::<S>).put(tools::config_set::<S>),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
