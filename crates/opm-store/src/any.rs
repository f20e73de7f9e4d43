//! Either backend behind one type, chosen by the database URL at run time:
//! `sqlite:PATH` or `postgres://...`. The CLI and the server hold an
//! [`AnyStore`]; the [`Store`] trait's methods pass straight through.

use std::path::Path;

use opm_model::{Lease, Name, PastAttempt, Phase, Stage, StepRecord, Target};

use crate::audit::AuditEntry;
use crate::batch::Batch;
use crate::bulk::Population;
use crate::counts::RowCounts;
use crate::drift::DriftMark;
use crate::error::Result;
use crate::facts::Facts;
use crate::history::{AttemptId, AttemptTally, HistoryEntry, HistoryFilter, Outcome, RowAfter};
use crate::nodes::{Image, NewNode, Node};
use crate::opkgs::{Opkg, OpkgImport};
use crate::postgres::PostgresStore;
use crate::rollouts::{NewRollout, Rollout, RolloutMember};
use crate::rows::{PendingNode, RowId, RowPage, Scope, StoredRow};
use crate::schema::OpenMode;
use crate::sqlite::SqliteStore;
use crate::store::Store;
use crate::tokens::TokenSubject;

/// A SQLite or a PostgreSQL store.
#[derive(Debug)]
pub enum AnyStore {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Opens a SQLite file.
    ///
    /// # Errors
    /// As for [`SqliteStore::open`].
    pub async fn sqlite(path: &Path, mode: OpenMode) -> Result<AnyStore> {
        Ok(AnyStore::Sqlite(SqliteStore::open(path, mode).await?))
    }

    /// Opens a PostgreSQL database by its `postgres://` URL.
    ///
    /// # Errors
    /// As for [`PostgresStore::open`].
    pub async fn postgres(url: &str, mode: OpenMode) -> Result<AnyStore> {
        Ok(AnyStore::Postgres(PostgresStore::open(url, mode).await?))
    }

    /// Closes the connections.
    pub async fn close(&self) {
        match self {
            AnyStore::Sqlite(store) => store.close().await,
            AnyStore::Postgres(store) => store.close().await,
        }
    }
}

/// Runs one call on whichever backend this is.
macro_rules! both {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call.await,
            AnyStore::Postgres($store) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn populate(&self, population: &Population, now_ms: i64) -> Result<u64> {
        both!(self, s => s.populate(population, now_ms))
    }

    async fn migrate(&self) -> Result<()> {
        both!(self, s => s.migrate())
    }

    async fn register_head_node(&self, name: &Name) -> Result<()> {
        both!(self, s => s.register_head_node(name))
    }

    async fn add_node(&self, node: &NewNode) -> Result<()> {
        both!(self, s => s.add_node(node))
    }

    async fn remove_node(&self, name: &Name) -> Result<()> {
        both!(self, s => s.remove_node(name))
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        both!(self, s => s.nodes())
    }

    async fn head_node(&self) -> Result<Option<Name>> {
        both!(self, s => s.head_node())
    }

    async fn group_members(&self, group: &Name) -> Result<Vec<Name>> {
        both!(self, s => s.group_members(group))
    }

    async fn add_image(&self, image: &Image) -> Result<()> {
        both!(self, s => s.add_image(image))
    }

    async fn remove_image(&self, name: &Name) -> Result<()> {
        both!(self, s => s.remove_image(name))
    }

    async fn images(&self) -> Result<Vec<Image>> {
        both!(self, s => s.images())
    }

    async fn row_by_id(&self, id: RowId) -> Result<StoredRow> {
        both!(self, s => s.row_by_id(id))
    }

    async fn import_opkg(&self, opkg: &OpkgImport, now_ms: i64) -> Result<()> {
        both!(self, s => s.import_opkg(opkg, now_ms))
    }

    async fn pin_opkg(&self, opkg: &Name, version: Option<&str>) -> Result<String> {
        both!(self, s => s.pin_opkg(opkg, version))
    }

    async fn start_upgrades(
        &self,
        upgrades: &[crate::upgrades::RowUpgrade],
        now_ms: i64,
    ) -> Result<Vec<RowId>> {
        both!(self, s => s.start_upgrades(upgrades, now_ms))
    }

    async fn select_opkg_for_group(&self, opkg: &Name, group: &Name) -> Result<()> {
        both!(self, s => s.select_opkg_for_group(opkg, group))
    }

    async fn opkgs(&self) -> Result<Vec<Opkg>> {
        both!(self, s => s.opkgs())
    }

    async fn request(
        &self,
        target: &Target,
        opkg: &Name,
        stage: Stage,
        now_ms: i64,
    ) -> Result<StoredRow> {
        both!(self, s => s.request(target, opkg, stage, now_ms))
    }

    async fn row(&self, target: &Target, opkg: &Name) -> Result<StoredRow> {
        both!(self, s => s.row(target, opkg))
    }

    async fn pending_rows(
        &self,
        scope: &Scope,
        after: Option<RowId>,
        limit: u32,
    ) -> Result<RowPage> {
        both!(self, s => s.pending_rows(scope, after, limit))
    }

    async fn nodes_with_work(&self) -> Result<Vec<PendingNode>> {
        both!(self, s => s.nodes_with_work())
    }

    async fn rows_for_opkg(&self, opkg: &Name) -> Result<Vec<StoredRow>> {
        both!(self, s => s.rows_for_opkg(opkg))
    }

    async fn rows_for_opkgs(&self, opkgs: &[Name]) -> Result<Vec<StoredRow>> {
        both!(self, s => s.rows_for_opkgs(opkgs))
    }

    async fn rows_for_target(&self, target: &Target) -> Result<Vec<StoredRow>> {
        both!(self, s => s.rows_for_target(target))
    }

    async fn all_rows(&self, after: Option<RowId>, limit: u32) -> Result<RowPage> {
        both!(self, s => s.all_rows(after, limit))
    }

    async fn acquire_lease(
        &self,
        target: &Target,
        owner: &str,
        ttl_ms: i64,
        now_ms: i64,
    ) -> Result<Lease> {
        both!(self, s => s.acquire_lease(target, owner, ttl_ms, now_ms))
    }

    async fn renew_lease(
        &self,
        target: &Target,
        token: u64,
        ttl_ms: i64,
        now_ms: i64,
    ) -> Result<Lease> {
        both!(self, s => s.renew_lease(target, token, ttl_ms, now_ms))
    }

    async fn release_lease(&self, target: &Target, token: u64) -> Result<()> {
        both!(self, s => s.release_lease(target, token))
    }

    async fn begin_attempt(
        &self,
        row: RowId,
        stage: Stage,
        token: u64,
        now_ms: i64,
    ) -> Result<AttemptId> {
        both!(self, s => s.begin_attempt(row, stage, token, now_ms))
    }

    async fn finish_attempt(
        &self,
        attempt: AttemptId,
        outcome: &Outcome,
        after: &RowAfter,
        token: u64,
        now_ms: i64,
    ) -> Result<StoredRow> {
        both!(self, s => s.finish_attempt(attempt, outcome, after, token, now_ms))
    }

    async fn release_interrupted(&self, row: RowId, token: u64, now_ms: i64) -> Result<StoredRow> {
        both!(self, s => s.release_interrupted(row, token, now_ms))
    }

    async fn retry(
        &self,
        target: &Target,
        opkg: &Name,
        reason: &str,
        now_ms: i64,
    ) -> Result<StoredRow> {
        both!(self, s => s.retry(target, opkg, reason, now_ms))
    }

    async fn restart_stage(
        &self,
        target: &Target,
        opkg: &Name,
        reason: &str,
        now_ms: i64,
    ) -> Result<StoredRow> {
        both!(self, s => s.restart_stage(target, opkg, reason, now_ms))
    }

    async fn rerun(
        &self,
        target: &Target,
        opkg: &Name,
        from: Stage,
        now_ms: i64,
    ) -> Result<StoredRow> {
        both!(self, s => s.rerun(target, opkg, from, now_ms))
    }

    async fn record_drift(&self, marks: &[DriftMark], now_ms: i64) -> Result<usize> {
        both!(self, s => s.record_drift(marks, now_ms))
    }

    async fn phase(&self) -> Result<Phase> {
        both!(self, s => s.phase())
    }

    async fn facts(&self) -> Result<Facts> {
        both!(self, s => s.facts())
    }

    async fn record_agent_contact(
        &self,
        node: &Name,
        contact: &crate::nodes::AgentContact,
    ) -> Result<()> {
        both!(self, s => s.record_agent_contact(node, contact))
    }

    async fn set_phase(&self, phase: Phase, now_ms: i64) -> Result<()> {
        both!(self, s => s.set_phase(phase, now_ms))
    }

    async fn config_set(
        &self,
        opkg: &Name,
        image: Option<&Name>,
        key: &str,
        value: &str,
    ) -> Result<()> {
        both!(self, s => s.config_set(opkg, image, key, value))
    }

    async fn config_values(
        &self,
        opkg: &Name,
        image: Option<&Name>,
    ) -> Result<Vec<(String, String)>> {
        both!(self, s => s.config_values(opkg, image))
    }

    async fn history(&self, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
        both!(self, s => s.history(filter))
    }

    async fn attempt(&self, id: AttemptId) -> Result<HistoryEntry> {
        both!(self, s => s.attempt(id))
    }

    async fn row_counts(&self, now_ms: i64) -> Result<RowCounts> {
        both!(self, s => s.row_counts(now_ms))
    }

    async fn check_ready(&self) -> Result<()> {
        both!(self, s => s.check_ready())
    }

    async fn attempt_tallies(&self, scope: &Scope) -> Result<Vec<AttemptTally>> {
        both!(self, s => s.attempt_tallies(scope))
    }

    async fn record_steps(
        &self,
        attempt: AttemptId,
        steps: &[StepRecord],
        token: u64,
    ) -> Result<()> {
        both!(self, s => s.record_steps(attempt, steps, token))
    }

    async fn steps(&self, attempt: AttemptId) -> Result<Vec<StepRecord>> {
        both!(self, s => s.steps(attempt))
    }

    async fn last_attempt(&self, row: RowId) -> Result<Option<PastAttempt>> {
        both!(self, s => s.last_attempt(row))
    }

    async fn set_token(&self, subject: &TokenSubject, hash: &str, now_ms: i64) -> Result<()> {
        both!(self, s => s.set_token(subject, hash, now_ms))
    }

    async fn set_tokens(&self, tokens: &[(TokenSubject, String)], now_ms: i64) -> Result<()> {
        both!(self, s => s.set_tokens(tokens, now_ms))
    }

    async fn token_subject(&self, hash: &str) -> Result<Option<TokenSubject>> {
        both!(self, s => s.token_subject(hash))
    }

    async fn add_enrolment(
        &self,
        node: &Name,
        hash: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<()> {
        both!(self, s => s.add_enrolment(node, hash, now_ms, expires_ms))
    }

    async fn redeem_enrolment(
        &self,
        hash: &str,
        node: &Name,
        agent_hash: &str,
        now_ms: i64,
    ) -> Result<opm_model::Redemption> {
        both!(self, s => s.redeem_enrolment(hash, node, agent_hash, now_ms))
    }

    async fn node_drain(&self, node: &Name) -> Result<Option<opm_model::DrainState>> {
        both!(self, s => s.node_drain(node))
    }

    async fn node_drains(&self) -> Result<Vec<(Name, opm_model::DrainState)>> {
        both!(self, s => s.node_drains())
    }

    async fn set_node_drain(
        &self,
        node: &Name,
        state: opm_model::DrainState,
        now_ms: i64,
    ) -> Result<()> {
        both!(self, s => s.set_node_drain(node, state, now_ms))
    }

    async fn end_node_drain(&self, node: &Name, note: &str) -> Result<u64> {
        both!(self, s => s.end_node_drain(node, note))
    }

    async fn audit_since(&self, since_ms: i64) -> Result<Vec<AuditEntry>> {
        both!(self, s => s.audit_since(since_ms))
    }

    async fn open_rollout(&self, rollout: &NewRollout, now_ms: i64) -> Result<i64> {
        both!(self, s => s.open_rollout(rollout, now_ms))
    }

    async fn rollouts(&self) -> Result<Vec<Rollout>> {
        both!(self, s => s.rollouts())
    }

    async fn rollout_members(&self, id: i64) -> Result<Vec<RolloutMember>> {
        both!(self, s => s.rollout_members(id))
    }

    async fn rollout_member(&self, id: i64, node: &Name) -> Result<Option<RolloutMember>> {
        both!(self, s => s.rollout_member(id, node))
    }

    async fn join_rollout(&self, id: i64, nodes: &[Name]) -> Result<()> {
        both!(self, s => s.join_rollout(id, nodes))
    }

    async fn start_rollout_members(
        &self,
        id: i64,
        generation: i64,
        nodes: &[Name],
        now_ms: i64,
    ) -> Result<bool> {
        both!(self, s => s.start_rollout_members(id, generation, nodes, now_ms))
    }

    async fn set_rollout_state(
        &self,
        id: i64,
        state: opm_model::RolloutState,
        message: &str,
        canary_pending: bool,
        now_ms: i64,
    ) -> Result<()> {
        both!(self, s => s.set_rollout_state(id, state, message, canary_pending, now_ms))
    }

    async fn close_rollouts(&self, ids: &[i64], now_ms: i64) -> Result<()> {
        both!(self, s => s.close_rollouts(ids, now_ms))
    }

    async fn apply(&self, batch: &Batch, now_ms: i64) -> Result<()> {
        both!(self, s => s.apply(batch, now_ms))
    }
}
