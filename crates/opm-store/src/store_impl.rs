//! The `Store` implementation both backends share: every method runs its
//! concern module's function in one write transaction or on one held
//! connection. A backend provides `reader()` and `writer()` (a connection
//! for each kind of call), `begin_write()` and `begin_write_target()` (a
//! transaction on the writer that already holds the database's write
//! lock) and `run_migrations()`; each connection is given back with
//! `Held::settle`, told how the call went.

/// Runs one state change in a write transaction; an error rolls it back.
/// `lock(..)` marks a lease or attempt write of one target and says which
/// target lock it begins with (see `locks.rs`).
macro_rules! write {
    ($self:ident, lock($lock:expr), |$conn:ident| $body:expr) => {
        $crate::store_impl::write!(@ $self, begin_write_target($lock), |$conn| $body)
    };
    ($self:ident, |$conn:ident| $body:expr) => {
        $crate::store_impl::write!(@ $self, begin_write(), |$conn| $body)
    };
    (@ $self:ident, $begin:ident($($lock:expr)?), |$conn:ident| $body:expr) => {{
        let mut writer = $self.writer().await?;
        let result = async {
            let mut tx = $self.$begin(&mut writer $(, $lock)?).await?;
            let $conn = &mut *tx;
            match $body.await {
                Ok(out) => {
                    tx.commit().await?;
                    Ok(out)
                }
                // Rolled back before the call returns: a dropped sqlx
                // transaction only queues its ROLLBACK, and on PostgreSQL
                // the locks would wait on the idle connection until its
                // next call sends it.
                Err(error) => {
                    tx.rollback().await?;
                    Err(error)
                }
            }
        }
        .await;
        writer.settle(&result);
        result
    }};
}
pub(crate) use write;

/// Runs a read on one held connection.
macro_rules! read {
    ($self:ident, |$conn:ident| $body:expr) => {{
        let mut reader = $self.reader().await?;
        let result = {
            let $conn = &mut *reader;
            $body.await
        };
        reader.settle(&result);
        result
    }};
}
pub(crate) use read;

/// Implements [`Store`](crate::Store) for a backend type.
macro_rules! impl_store {
    ($backend:ty) => {
        const _: () = {
            use opm_model::{Lease, Name, Phase, Stage, Target};

            use $crate::error::Result;
            use $crate::history::{
                AttemptId, AttemptTally, HistoryEntry, HistoryFilter, Outcome, RowAfter,
            };
            use $crate::nodes::{Image, NewNode, Node};
            use $crate::opkgs::{Opkg, OpkgImport};
            use $crate::rows::{RowId, RowPage, Scope, StoredRow};
            use $crate::store_impl::{read, write};

            impl $crate::store::Store for $backend {
                async fn migrate(&self) -> Result<()> {
                    self.run_migrations().await
                }

                async fn register_head_node(&self, name: &Name) -> Result<()> {
                    write!(self, |conn| $crate::nodes::register_head(conn, name))
                }

                async fn add_node(&self, node: &NewNode) -> Result<()> {
                    write!(self, |conn| $crate::nodes::add_node(conn, node))
                }

                async fn remove_node(&self, name: &Name) -> Result<()> {
                    write!(self, |conn| $crate::nodes::remove_node(conn, name))
                }

                async fn nodes(&self) -> Result<Vec<Node>> {
                    read!(self, |conn| $crate::nodes::nodes(conn))
                }

                async fn record_agent_contact(
                    &self,
                    node: &Name,
                    contact: &$crate::nodes::AgentContact,
                ) -> Result<()> {
                    write!(self, |conn| $crate::nodes::record_agent_contact(
                        conn, node, contact
                    ))
                }

                async fn head_node(&self) -> Result<Option<Name>> {
                    read!(self, |conn| $crate::nodes::head_node(conn))
                }

                async fn group_members(&self, group: &Name) -> Result<Vec<Name>> {
                    read!(self, |conn| $crate::nodes::group_members(conn, group))
                }

                async fn add_image(&self, image: &Image) -> Result<()> {
                    write!(self, |conn| $crate::nodes::add_image(conn, image))
                }

                async fn remove_image(&self, name: &Name) -> Result<()> {
                    write!(self, |conn| $crate::nodes::remove_image(conn, name))
                }

                async fn images(&self) -> Result<Vec<Image>> {
                    read!(self, |conn| $crate::nodes::images(conn))
                }

                async fn import_opkg(&self, opkg: &OpkgImport, now_ms: i64) -> Result<()> {
                    write!(self, |conn| $crate::opkgs::import(conn, opkg, now_ms))
                }

                async fn pin_opkg(&self, opkg: &Name, version: Option<&str>) -> Result<String> {
                    write!(self, |conn| $crate::opkgs::pin(conn, opkg, version))
                }

                async fn start_upgrades(
                    &self,
                    upgrades: &[$crate::upgrades::RowUpgrade],
                    now_ms: i64,
                ) -> Result<Vec<RowId>> {
                    write!(self, |conn| $crate::upgrades::start(conn, upgrades, now_ms))
                }

                async fn select_opkg_for_group(&self, opkg: &Name, group: &Name) -> Result<()> {
                    write!(self, |conn| $crate::opkgs::select(conn, opkg, group))
                }

                async fn opkgs(&self) -> Result<Vec<Opkg>> {
                    read!(self, |conn| $crate::opkgs::opkgs(conn))
                }

                async fn request(
                    &self,
                    target: &Target,
                    opkg: &Name,
                    stage: Stage,
                    now_ms: i64,
                ) -> Result<StoredRow> {
                    write!(self, |conn| $crate::rows::request(
                        conn, target, opkg, stage, now_ms
                    ))
                }

                async fn row(&self, target: &Target, opkg: &Name) -> Result<StoredRow> {
                    read!(self, |conn| $crate::rows::row(conn, target, opkg))
                }

                async fn row_by_id(&self, id: RowId) -> Result<StoredRow> {
                    read!(self, |conn| $crate::rows::row_by_id(conn, id))
                }

                async fn pending_rows(
                    &self,
                    scope: &Scope,
                    after: Option<RowId>,
                    limit: u32,
                ) -> Result<RowPage> {
                    read!(self, |conn| $crate::rows::pending(
                        conn, scope, after, limit
                    ))
                }

                async fn nodes_with_work(&self) -> Result<Vec<$crate::rows::PendingNode>> {
                    read!(self, |conn| $crate::rows::nodes_with_work(conn))
                }

                async fn rows_for_opkg(&self, opkg: &Name) -> Result<Vec<StoredRow>> {
                    read!(self, |conn| $crate::rows::for_opkg(conn, opkg))
                }

                async fn rows_for_opkgs(&self, opkgs: &[Name]) -> Result<Vec<StoredRow>> {
                    read!(self, |conn| $crate::rows::for_opkgs(conn, opkgs))
                }

                async fn rows_for_target(&self, target: &Target) -> Result<Vec<StoredRow>> {
                    read!(self, |conn| $crate::rows::for_target(conn, target))
                }

                async fn all_rows(&self, after: Option<RowId>, limit: u32) -> Result<RowPage> {
                    read!(self, |conn| $crate::rows::all(conn, after, limit))
                }

                async fn acquire_lease(
                    &self,
                    target: &Target,
                    owner: &str,
                    ttl_ms: i64,
                    now_ms: i64,
                ) -> Result<Lease> {
                    write!(self, lock($crate::locks::TargetLock::Later), |conn| {
                        $crate::leases::acquire(conn, target, owner, ttl_ms, now_ms)
                    })
                }

                async fn renew_lease(
                    &self,
                    target: &Target,
                    token: u64,
                    ttl_ms: i64,
                    now_ms: i64,
                ) -> Result<Lease> {
                    write!(self, lock($crate::locks::TargetLock::Later), |conn| {
                        $crate::leases::renew(conn, target, token, ttl_ms, now_ms)
                    })
                }

                async fn release_lease(&self, target: &Target, token: u64) -> Result<()> {
                    write!(self, lock($crate::locks::TargetLock::Later), |conn| {
                        $crate::leases::release(conn, target, token)
                    })
                }

                async fn release_interrupted(
                    &self,
                    row: RowId,
                    token: u64,
                    now_ms: i64,
                ) -> Result<StoredRow> {
                    write!(self, lock($crate::locks::TargetLock::Row(row)), |conn| {
                        $crate::release::release_interrupted(conn, row, token, now_ms)
                    })
                }

                async fn begin_attempt(
                    &self,
                    row: RowId,
                    stage: Stage,
                    token: u64,
                    now_ms: i64,
                ) -> Result<AttemptId> {
                    write!(self, lock($crate::locks::TargetLock::Row(row)), |conn| {
                        $crate::history::begin(conn, row, stage, token, now_ms)
                    })
                }

                async fn finish_attempt(
                    &self,
                    attempt: AttemptId,
                    outcome: &Outcome,
                    after: &RowAfter,
                    token: u64,
                    now_ms: i64,
                ) -> Result<StoredRow> {
                    write!(
                        self,
                        lock($crate::locks::TargetLock::Attempt(attempt.0)),
                        |conn| $crate::history::finish(
                            conn, attempt, outcome, after, token, now_ms
                        )
                    )
                }

                async fn retry(
                    &self,
                    target: &Target,
                    opkg: &Name,
                    reason: &str,
                    now_ms: i64,
                ) -> Result<StoredRow> {
                    write!(self, |conn| $crate::rows::retry(
                        conn, target, opkg, reason, false, now_ms
                    ))
                }

                async fn restart_stage(
                    &self,
                    target: &Target,
                    opkg: &Name,
                    reason: &str,
                    now_ms: i64,
                ) -> Result<StoredRow> {
                    write!(self, |conn| $crate::rows::retry(
                        conn, target, opkg, reason, true, now_ms
                    ))
                }

                async fn rerun(
                    &self,
                    target: &Target,
                    opkg: &Name,
                    from: Stage,
                    now_ms: i64,
                ) -> Result<StoredRow> {
                    write!(self, |conn| $crate::rows::rerun(
                        conn, target, opkg, from, now_ms
                    ))
                }

                async fn record_drift(
                    &self,
                    marks: &[$crate::drift::DriftMark],
                    now_ms: i64,
                ) -> Result<usize> {
                    write!(self, |conn| $crate::drift::record(conn, marks, now_ms))
                }

                async fn phase(&self) -> Result<Phase> {
                    read!(self, |conn| $crate::cluster::phase(conn))
                }

                async fn facts(&self) -> Result<$crate::facts::Facts> {
                    read!(self, |conn| $crate::facts::facts(conn, &self.facts))
                }

                async fn set_phase(&self, phase: Phase, now_ms: i64) -> Result<()> {
                    write!(self, |conn| $crate::cluster::set_phase(conn, phase, now_ms))
                }

                async fn config_set(
                    &self,
                    opkg: &Name,
                    image: Option<&Name>,
                    key: &str,
                    value: &str,
                ) -> Result<()> {
                    write!(self, |conn| $crate::cluster::config_set(
                        conn, opkg, image, key, value
                    ))
                }

                async fn config_values(
                    &self,
                    opkg: &Name,
                    image: Option<&Name>,
                ) -> Result<Vec<(String, String)>> {
                    read!(self, |conn| $crate::cluster::config_values(
                        conn, opkg, image
                    ))
                }

                async fn history(&self, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
                    read!(self, |conn| $crate::history::list(conn, filter))
                }

                async fn apply(&self, batch: &$crate::batch::Batch, now_ms: i64) -> Result<()> {
                    write!(self, |conn| $crate::batch::apply(conn, batch, now_ms))
                }

                async fn populate(
                    &self,
                    population: &$crate::bulk::Population,
                    now_ms: i64,
                ) -> Result<u64> {
                    let rows: Result<u64> = write!(self, |conn| $crate::bulk::populate(
                        conn, population, now_ms
                    ));
                    let analyzed: Result<()> = read!(self, |conn| $crate::bulk::analyze(conn));
                    analyzed?;
                    rows
                }

                async fn attempt(&self, id: AttemptId) -> Result<HistoryEntry> {
                    read!(self, |conn| $crate::history::one(conn, id))
                }

                async fn attempt_tallies(&self, scope: &Scope) -> Result<Vec<AttemptTally>> {
                    read!(self, |conn| $crate::history::tallies(conn, scope))
                }

                async fn row_counts(&self, now_ms: i64) -> Result<$crate::counts::RowCounts> {
                    read!(self, |conn| $crate::counts::counts(conn, now_ms))
                }

                async fn check_ready(&self) -> Result<()> {
                    self.check_ready().await
                }

                async fn record_steps(
                    &self,
                    attempt: AttemptId,
                    steps: &[opm_model::StepRecord],
                    token: u64,
                ) -> Result<()> {
                    write!(
                        self,
                        lock($crate::locks::TargetLock::Attempt(attempt.0)),
                        |conn| $crate::steps::record(conn, attempt, steps, token)
                    )
                }

                async fn steps(&self, attempt: AttemptId) -> Result<Vec<opm_model::StepRecord>> {
                    read!(self, |conn| $crate::steps::of_attempt(conn, attempt))
                }

                async fn last_attempt(&self, row: RowId) -> Result<Option<opm_model::PastAttempt>> {
                    read!(self, |conn| $crate::steps::last_attempt(conn, row))
                }

                async fn set_token(
                    &self,
                    subject: &$crate::tokens::TokenSubject,
                    hash: &str,
                    now_ms: i64,
                ) -> Result<()> {
                    write!(self, |conn| $crate::tokens::set(
                        conn, subject, hash, now_ms
                    ))
                }

                async fn set_tokens(
                    &self,
                    tokens: &[($crate::tokens::TokenSubject, String)],
                    now_ms: i64,
                ) -> Result<()> {
                    write!(self, |conn| $crate::tokens::set_many(conn, tokens, now_ms))
                }

                async fn token_subject(
                    &self,
                    hash: &str,
                ) -> Result<Option<$crate::tokens::TokenSubject>> {
                    read!(self, |conn| $crate::tokens::subject(conn, hash))
                }

                async fn add_enrolment(
                    &self,
                    node: &Name,
                    hash: &str,
                    now_ms: i64,
                    expires_ms: i64,
                ) -> Result<()> {
                    write!(self, |conn| $crate::enrolments::add(
                        conn, node, hash, now_ms, expires_ms
                    ))
                }

                async fn redeem_enrolment(
                    &self,
                    hash: &str,
                    node: &Name,
                    agent_hash: &str,
                    now_ms: i64,
                ) -> Result<opm_model::Redemption> {
                    write!(self, |conn| $crate::enrolments::redeem(
                        conn, hash, node, agent_hash, now_ms
                    ))
                }

                async fn node_drain(&self, node: &Name) -> Result<Option<opm_model::DrainState>> {
                    read!(self, |conn| $crate::drains::get(conn, node))
                }

                async fn node_drains(&self) -> Result<Vec<(Name, opm_model::DrainState)>> {
                    read!(self, |conn| $crate::drains::all(conn))
                }

                async fn set_node_drain(
                    &self,
                    node: &Name,
                    state: opm_model::DrainState,
                    now_ms: i64,
                ) -> Result<()> {
                    write!(self, |conn| $crate::drains::set(conn, node, state, now_ms))
                }

                async fn end_node_drain(&self, node: &Name, note: &str) -> Result<u64> {
                    write!(self, |conn| $crate::drains::end(conn, node, note))
                }

                async fn audit_since(
                    &self,
                    since_ms: i64,
                ) -> Result<Vec<$crate::audit::AuditEntry>> {
                    read!(self, |conn| $crate::audit::since(conn, since_ms))
                }

                async fn open_rollout(
                    &self,
                    rollout: &$crate::rollouts::NewRollout,
                    now_ms: i64,
                ) -> Result<i64> {
                    write!(self, |conn| $crate::rollouts::open(conn, rollout, now_ms))
                }

                async fn rollouts(&self) -> Result<Vec<$crate::rollouts::Rollout>> {
                    read!(self, |conn| $crate::rollouts::list(conn))
                }

                async fn rollout_members(
                    &self,
                    id: i64,
                ) -> Result<Vec<$crate::rollouts::RolloutMember>> {
                    read!(self, |conn| $crate::rollouts::members(conn, id))
                }

                async fn rollout_member(
                    &self,
                    id: i64,
                    node: &Name,
                ) -> Result<Option<$crate::rollouts::RolloutMember>> {
                    read!(self, |conn| $crate::rollouts::member(conn, id, node))
                }

                async fn join_rollout(&self, id: i64, nodes: &[Name]) -> Result<()> {
                    write!(self, |conn| $crate::rollouts::join(conn, id, nodes))
                }

                async fn start_rollout_members(
                    &self,
                    id: i64,
                    generation: i64,
                    nodes: &[Name],
                    now_ms: i64,
                ) -> Result<bool> {
                    write!(self, |conn| $crate::rollouts::start(
                        conn, id, generation, nodes, now_ms
                    ))
                }

                async fn set_rollout_state(
                    &self,
                    id: i64,
                    state: opm_model::RolloutState,
                    message: &str,
                    canary_pending: bool,
                    now_ms: i64,
                ) -> Result<()> {
                    write!(self, |conn| $crate::rollouts::set_state(
                        conn,
                        id,
                        state,
                        message,
                        canary_pending,
                        now_ms
                    ))
                }

                async fn close_rollouts(&self, ids: &[i64], now_ms: i64) -> Result<()> {
                    write!(self, |conn| $crate::rollouts::close(conn, ids, now_ms))
                }
            }
        };
    };
}
pub(crate) use impl_store;
