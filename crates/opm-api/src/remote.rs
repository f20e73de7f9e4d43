//! The operator seam's remote side: every action and view of
//! [`Operator`] as a call of the tools' API of an `opm server`, with the
//! admin token. The server runs the same `opm_engine::operate` functions
//! the local operator does, so answers, refusals and their messages are
//! the same either way; a refusal (4xx) is bad input here as it is there.

use std::time::Duration;

use opm_engine::operate::{OperateError, Operator, Result};
use opm_model::Name;
use opm_model::api::{
    AuditLine, AuditQuery, ConfigQuery, ConfigSet, ConfigSetBody, ConfigView, HistoryLine,
    HistoryQuery, ImageAddBody, ImageAdded, ImageView, InstallBody, LogsQuery, NodeAddBody,
    NodeAdded, NodeView, PhaseBody, PhaseSet, PlanLine, RemoveBody, RemoveQuery, Removed,
    RequestBody, RequestOutcome, RerunBody, RetryBody, RolloutBody, RolloutLine, RowFilter,
    StatusRow,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::ApiClient;
use crate::error::AgentError;

/// How long one tools call may take: a plan or status of a large cluster
/// is one answer.
const TOOLS_TIMEOUT: Duration = Duration::from_secs(300);

/// The operator behind an `opm server`.
#[derive(Debug, Clone)]
pub struct Remote {
    client: ApiClient,
}

/// What a failed call means to the operator: the server's own words for
/// a refusal (bad input, as locally), else why it could not be asked.
fn operate_error(error: AgentError) -> OperateError {
    match error {
        AgentError::Refused { message, .. } => OperateError::Remote {
            message,
            bad_input: true,
        },
        AgentError::Untrusted { .. } | AgentError::Tls { .. } => OperateError::Remote {
            message: error.to_string(),
            bad_input: true,
        },
        // Not what a tools call meets (they are the agent's), but not the
        // asker's mistake either.
        AgentError::Unreachable { .. }
        | AgentError::Spool { .. }
        | AgentError::TokenFile { .. }
        | AgentError::PackageDatabase { .. } => OperateError::Remote {
            message: error.to_string(),
            bad_input: false,
        },
    }
}

impl Remote {
    /// The operator behind the server `client` talks to (with the admin
    /// token).
    pub fn new(client: ApiClient) -> Remote {
        Remote { client }
    }

    async fn get<Q: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        path: &str,
        query: Option<&Q>,
    ) -> Result<R> {
        self.client
            .call(Method::GET, path, query, None::<&()>, TOOLS_TIMEOUT)
            .await
            .map_err(operate_error)
    }

    async fn send<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<R> {
        self.client
            .call(method, path, None::<&()>, body, TOOLS_TIMEOUT)
            .await
            .map_err(operate_error)
    }
}

impl Operator for Remote {
    async fn status(&self, filter: &RowFilter) -> Result<Vec<StatusRow>> {
        self.get("/v1/status", Some(filter)).await
    }

    async fn plan_each(
        &self,
        filter: &RowFilter,
        sink: &mut (dyn FnMut(PlanLine) -> Result<()> + Send),
    ) -> Result<()> {
        let lines: Vec<PlanLine> = self.get("/v1/plan", Some(filter)).await?;
        lines.into_iter().try_for_each(sink)
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<HistoryLine>> {
        self.get("/v1/history", Some(query)).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLine>> {
        self.get("/v1/audit", Some(query)).await
    }

    async fn logs(&self, query: &LogsQuery) -> Result<HistoryLine> {
        self.get("/v1/logs", Some(query)).await
    }

    async fn install(&self, body: &InstallBody) -> Result<RequestOutcome> {
        self.send(Method::POST, "/v1/install", Some(body)).await
    }

    async fn remove(&self, body: &RemoveBody) -> Result<RequestOutcome> {
        self.send(Method::POST, "/v1/remove", Some(body)).await
    }

    async fn request(&self, body: &RequestBody) -> Result<RequestOutcome> {
        self.send(Method::POST, "/v1/request", Some(body)).await
    }

    async fn retry(&self, body: &RetryBody) -> Result<StatusRow> {
        self.send(Method::POST, "/v1/retry", Some(body)).await
    }

    async fn rerun(&self, body: &RerunBody) -> Result<StatusRow> {
        self.send(Method::POST, "/v1/rerun", Some(body)).await
    }

    async fn phase(&self) -> Result<PhaseBody> {
        self.get("/v1/phase", None::<&()>).await
    }

    async fn set_phase(&self, body: &PhaseBody) -> Result<PhaseSet> {
        self.send(Method::PUT, "/v1/phase", Some(body)).await
    }

    async fn nodes(&self) -> Result<Vec<NodeView>> {
        self.get("/v1/nodes", None::<&()>).await
    }

    async fn add_node(&self, body: &NodeAddBody) -> Result<NodeAdded> {
        self.send(Method::POST, "/v1/nodes", Some(body)).await
    }

    async fn remove_node(&self, name: &Name, dry_run: bool) -> Result<Removed> {
        // Names hold no character a path segment would need escaped.
        self.client
            .call(
                Method::DELETE,
                &format!("/v1/nodes/{name}"),
                Some(&RemoveQuery { dry_run }),
                None::<&()>,
                TOOLS_TIMEOUT,
            )
            .await
            .map_err(operate_error)
    }

    async fn images(&self) -> Result<Vec<ImageView>> {
        self.get("/v1/images", None::<&()>).await
    }

    async fn add_image(&self, body: &ImageAddBody) -> Result<ImageAdded> {
        self.send(Method::POST, "/v1/images", Some(body)).await
    }

    async fn remove_image(&self, name: &Name) -> Result<Removed> {
        self.send(Method::DELETE, &format!("/v1/images/{name}"), None::<&()>)
            .await
    }

    async fn config_set(&self, body: &ConfigSetBody) -> Result<ConfigSet> {
        self.send(Method::PUT, "/v1/config", Some(body)).await
    }

    async fn config_show(&self, query: &ConfigQuery) -> Result<ConfigView> {
        self.get("/v1/config", Some(query)).await
    }

    async fn rollouts(&self) -> Result<Vec<RolloutLine>> {
        self.get("/v1/rollouts", None::<&()>).await
    }

    async fn rollout_resume(&self, body: &RolloutBody) -> Result<RolloutLine> {
        self.send(Method::POST, "/v1/rollouts/resume", Some(body))
            .await
    }

    async fn rollout_abort(&self, body: &RolloutBody) -> Result<RolloutLine> {
        self.send(Method::POST, "/v1/rollouts/abort", Some(body))
            .await
    }
}

/// The operator a command runs against: the store here, or a server.
pub enum AnyOperator<S: opm_store::Store> {
    /// On the database host.
    Local(opm_engine::operate::Local<S>),
    /// Through `opm server`.
    Remote(Remote),
}

/// Forwards each call to whichever operator this is.
macro_rules! either {
    ($self:ident, $op:ident => $call:expr) => {
        match $self {
            AnyOperator::Local($op) => $call.await,
            AnyOperator::Remote($op) => $call.await,
        }
    };
}

impl<S: opm_store::Store> Operator for AnyOperator<S> {
    async fn status(&self, filter: &RowFilter) -> Result<Vec<StatusRow>> {
        either!(self, op => op.status(filter))
    }

    async fn plan_each(
        &self,
        filter: &RowFilter,
        sink: &mut (dyn FnMut(PlanLine) -> Result<()> + Send),
    ) -> Result<()> {
        either!(self, op => op.plan_each(filter, sink))
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<HistoryLine>> {
        either!(self, op => op.history(query))
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLine>> {
        either!(self, op => op.audit(query))
    }

    async fn logs(&self, query: &LogsQuery) -> Result<HistoryLine> {
        either!(self, op => op.logs(query))
    }

    async fn install(&self, body: &InstallBody) -> Result<RequestOutcome> {
        either!(self, op => op.install(body))
    }

    async fn remove(&self, body: &RemoveBody) -> Result<RequestOutcome> {
        either!(self, op => op.remove(body))
    }

    async fn request(&self, body: &RequestBody) -> Result<RequestOutcome> {
        either!(self, op => op.request(body))
    }

    async fn retry(&self, body: &RetryBody) -> Result<StatusRow> {
        either!(self, op => op.retry(body))
    }

    async fn rerun(&self, body: &RerunBody) -> Result<StatusRow> {
        either!(self, op => op.rerun(body))
    }

    async fn phase(&self) -> Result<PhaseBody> {
        either!(self, op => op.phase())
    }

    async fn set_phase(&self, body: &PhaseBody) -> Result<PhaseSet> {
        either!(self, op => op.set_phase(body))
    }

    async fn nodes(&self) -> Result<Vec<NodeView>> {
        either!(self, op => op.nodes())
    }

    async fn add_node(&self, body: &NodeAddBody) -> Result<NodeAdded> {
        either!(self, op => op.add_node(body))
    }

    async fn remove_node(&self, name: &Name, dry_run: bool) -> Result<Removed> {
        either!(self, op => op.remove_node(name, dry_run))
    }

    async fn images(&self) -> Result<Vec<ImageView>> {
        either!(self, op => op.images())
    }

    async fn add_image(&self, body: &ImageAddBody) -> Result<ImageAdded> {
        either!(self, op => op.add_image(body))
    }

    async fn remove_image(&self, name: &Name) -> Result<Removed> {
        either!(self, op => op.remove_image(name))
    }

    async fn config_set(&self, body: &ConfigSetBody) -> Result<ConfigSet> {
        either!(self, op => op.config_set(body))
    }

    async fn config_show(&self, query: &ConfigQuery) -> Result<ConfigView> {
        either!(self, op => op.config_show(query))
    }

    async fn rollouts(&self) -> Result<Vec<RolloutLine>> {
        either!(self, op => op.rollouts())
    }

    async fn rollout_resume(&self, body: &RolloutBody) -> Result<RolloutLine> {
        either!(self, op => op.rollout_resume(body))
    }

    async fn rollout_abort(&self, body: &RolloutBody) -> Result<RolloutLine> {
        either!(self, op => op.rollout_abort(body))
    }
}
