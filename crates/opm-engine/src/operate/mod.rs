//! The operator's actions and views, one async function each, for every
//! front door: the CLI on the database host, the tools' API handlers (and
//! through them the CLI with `--server`). Each takes the store and the
//! `opm_model::api` body of its request and answers the `opm_model::api`
//! view, so what `opm status --json` prints and what `GET /v1/status`
//! answers are the same value. The rules behind them are `opm-plan`'s
//! ([`Cluster`](opm_plan::Cluster)) and [`crate::requests`]'s; this module
//! only gathers, checks names, writes and shapes.
//!
//! [`Operator`] is the seam the CLI talks through: [`Local`] runs these
//! functions on a store, `opm-api`'s remote operator calls the server that
//! runs them.

mod audit;
mod config;
mod error;
mod hint;
mod history;
mod nodes;
mod plan;
mod requests;
mod rollouts;
mod rows;

use std::sync::Arc;

use opm_model::Name;
use opm_model::api::{
    AuditLine, AuditQuery, ConfigQuery, ConfigSet, ConfigSetBody, ConfigView, HistoryLine,
    HistoryQuery, ImageAddBody, ImageAdded, ImageView, InstallBody, LogsQuery, NodeAddBody,
    NodeAdded, NodeView, PhaseBody, PhaseSet, PlanLine, RemoveBody, Removed, RequestBody,
    RequestChanged, RequestOutcome, RerunBody, RetryBody, RolloutBody, RolloutLine, RowFilter,
    StatusRow,
};
use opm_plan::RequestChange;
use opm_store::Store;

use crate::clock::Clock;

pub use audit::{Actor, Asked, audit};
pub use config::{config_set, config_show, parse_assignment};
pub use error::OperateError;
pub use history::{history, history_line, logs};
pub use nodes::{add_image, add_node, images, nodes, remove_image, remove_node};
pub use plan::{PlanScope, plan, plan_each, plan_line};
pub use requests::{install, remove, request};
pub use rollouts::{rollout_abort, rollout_resume, rollouts};
pub use rows::{phase, rerun, retry, set_phase, status};

/// The result of an operation.
pub type Result<T> = std::result::Result<T, OperateError>;

/// A planner request change as the operator sees it.
pub fn changed(change: &RequestChange) -> RequestChanged {
    RequestChanged {
        target: change.target.name.to_string(),
        kind: change.target.kind.name().to_owned(),
        package: change.package.to_string(),
        requested: change.requested,
        created: change.create,
    }
}

/// Every action and view, wherever it runs: the CLI is written against
/// this, and runs it on the store ([`Local`]) or through `opm server`.
// Used with static dispatch only (the CLI picks one of two
// implementations), so the futures' `Send`-ness need not be spelled out.
#[allow(async_fn_in_trait)]
pub trait Operator {
    /// `opm status`.
    async fn status(&self, filter: &RowFilter) -> Result<Vec<StatusRow>>;
    /// `opm plan`, each line to `sink` as it is decided.
    async fn plan_each(
        &self,
        filter: &RowFilter,
        sink: &mut (dyn FnMut(PlanLine) -> Result<()> + Send),
    ) -> Result<()>;
    /// `opm history`.
    async fn history(&self, query: &HistoryQuery) -> Result<Vec<HistoryLine>>;
    /// `opm history --audit`.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLine>>;
    /// `opm logs`.
    async fn logs(&self, query: &LogsQuery) -> Result<HistoryLine>;
    /// `opm install`.
    async fn install(&self, body: &InstallBody) -> Result<RequestOutcome>;
    /// `opm remove`.
    async fn remove(&self, body: &RemoveBody) -> Result<RequestOutcome>;
    /// `opm request`.
    async fn request(&self, body: &RequestBody) -> Result<RequestOutcome>;
    /// `opm retry`.
    async fn retry(&self, body: &RetryBody) -> Result<StatusRow>;
    /// `opm rerun`.
    async fn rerun(&self, body: &RerunBody) -> Result<StatusRow>;
    /// `opm cluster phase`.
    async fn phase(&self) -> Result<PhaseBody>;
    /// `opm cluster phase PHASE`.
    async fn set_phase(&self, body: &PhaseBody) -> Result<PhaseSet>;
    /// `opm node list`.
    async fn nodes(&self) -> Result<Vec<NodeView>>;
    /// `opm node add`.
    async fn add_node(&self, body: &NodeAddBody) -> Result<NodeAdded>;
    /// `opm node remove [--dry-run]`.
    async fn remove_node(&self, name: &Name, dry_run: bool) -> Result<Removed>;
    /// `opm image list`.
    async fn images(&self) -> Result<Vec<ImageView>>;
    /// `opm image add`.
    async fn add_image(&self, body: &ImageAddBody) -> Result<ImageAdded>;
    /// `opm image remove`.
    async fn remove_image(&self, name: &Name) -> Result<Removed>;
    /// `opm config set`.
    async fn config_set(&self, body: &ConfigSetBody) -> Result<ConfigSet>;
    /// `opm config show`.
    async fn config_show(&self, query: &ConfigQuery) -> Result<ConfigView>;
    /// `opm rollout status`.
    async fn rollouts(&self) -> Result<Vec<RolloutLine>>;
    /// `opm rollout resume`.
    async fn rollout_resume(&self, body: &RolloutBody) -> Result<RolloutLine>;
    /// `opm rollout abort`.
    async fn rollout_abort(&self, body: &RolloutBody) -> Result<RolloutLine>;
}

/// The operator on the database host: the functions of this module over
/// a store.
pub struct Local<S: Store> {
    /// The store.
    pub store: Arc<S>,
    /// Time, injected.
    pub clock: Arc<dyn Clock>,
    /// Whose rows `plan` decides, and how dead lease owners are told;
    /// `None` where this machine's opm.conf was not needed (only `plan`
    /// needs it, and refuses without).
    pub scope: Option<PlanScope>,
    /// Who is asking, for the audit trail.
    pub actor: Actor,
}

impl<S: Store> Local<S> {
    /// This operator's actor, asking now.
    fn asked(&self) -> Asked {
        Asked {
            actor: self.actor.clone(),
            now_ms: self.clock.now_ms(),
        }
    }
}

impl<S: Store> Operator for Local<S> {
    async fn status(&self, filter: &RowFilter) -> Result<Vec<StatusRow>> {
        status(self.store.as_ref(), filter).await
    }

    async fn plan_each(
        &self,
        filter: &RowFilter,
        sink: &mut (dyn FnMut(PlanLine) -> Result<()> + Send),
    ) -> Result<()> {
        let scope = self.scope.as_ref().ok_or_else(|| {
            OperateError::BadInput("planning needs this machine's opm.conf".to_owned())
        })?;
        plan_each(
            self.store.as_ref(),
            scope,
            filter,
            self.clock.now_ms(),
            sink,
        )
        .await
    }

    async fn history(&self, query: &HistoryQuery) -> Result<Vec<HistoryLine>> {
        history(self.store.as_ref(), query).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditLine>> {
        audit(self.store.as_ref(), query).await
    }

    async fn logs(&self, query: &LogsQuery) -> Result<HistoryLine> {
        logs(self.store.as_ref(), query).await
    }

    async fn install(&self, body: &InstallBody) -> Result<RequestOutcome> {
        install(self.store.as_ref(), body, &self.asked()).await
    }

    async fn remove(&self, body: &RemoveBody) -> Result<RequestOutcome> {
        remove(self.store.as_ref(), body, &self.asked()).await
    }

    async fn request(&self, body: &RequestBody) -> Result<RequestOutcome> {
        request(self.store.as_ref(), body, &self.asked()).await
    }

    async fn retry(&self, body: &RetryBody) -> Result<StatusRow> {
        retry(self.store.as_ref(), body, &self.asked()).await
    }

    async fn rerun(&self, body: &RerunBody) -> Result<StatusRow> {
        rerun(self.store.as_ref(), body, &self.asked()).await
    }

    async fn phase(&self) -> Result<PhaseBody> {
        phase(self.store.as_ref()).await
    }

    async fn set_phase(&self, body: &PhaseBody) -> Result<PhaseSet> {
        set_phase(self.store.as_ref(), body, &self.asked()).await
    }

    async fn nodes(&self) -> Result<Vec<NodeView>> {
        nodes(self.store.as_ref()).await
    }

    async fn add_node(&self, body: &NodeAddBody) -> Result<NodeAdded> {
        add_node(self.store.as_ref(), body, &self.asked()).await
    }

    async fn remove_node(&self, name: &Name, dry_run: bool) -> Result<Removed> {
        remove_node(self.store.as_ref(), name, dry_run, &self.asked()).await
    }

    async fn images(&self) -> Result<Vec<ImageView>> {
        images(self.store.as_ref()).await
    }

    async fn add_image(&self, body: &ImageAddBody) -> Result<ImageAdded> {
        add_image(self.store.as_ref(), body, &self.asked()).await
    }

    async fn remove_image(&self, name: &Name) -> Result<Removed> {
        remove_image(self.store.as_ref(), name, &self.asked()).await
    }

    async fn config_set(&self, body: &ConfigSetBody) -> Result<ConfigSet> {
        config_set(self.store.as_ref(), body, &self.asked()).await
    }

    async fn config_show(&self, query: &ConfigQuery) -> Result<ConfigView> {
        config_show(self.store.as_ref(), query).await
    }

    async fn rollouts(&self) -> Result<Vec<RolloutLine>> {
        rollouts(self.store.as_ref()).await
    }

    async fn rollout_resume(&self, body: &RolloutBody) -> Result<RolloutLine> {
        rollout_resume(self.store.as_ref(), body, &self.asked()).await
    }

    async fn rollout_abort(&self, body: &RolloutBody) -> Result<RolloutLine> {
        rollout_abort(self.store.as_ref(), body, &self.asked()).await
    }
}
