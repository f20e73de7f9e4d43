//! The `Store` trait: everything the engine and the CLI ask of the state
//! store, one transaction per state change, dialect-free at its surface.

use std::future::Future;

use opm_model::{
    DrainState, Lease, Name, PastAttempt, Phase, Redemption, Stage, StepRecord, Target,
};

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
use crate::rollouts::{NewRollout, Rollout, RolloutMember};
use crate::rows::{PendingNode, RowId, RowPage, Scope, StoredRow};
use crate::tokens::TokenSubject;
use crate::upgrades::RowUpgrade;

/// The state store. Times are passed in (`now_ms`, milliseconds since the
/// epoch) so callers and tests control the clock; every call that changes
/// state runs in one transaction and leaves nothing behind when it fails.
pub trait Store: Send + Sync {
    /// Creates the schema or brings it up to date (`opm init`).
    fn migrate(&self) -> impl Future<Output = Result<()>> + Send;

    /// Registers the head node named in opm.conf; again with the same name is a no-op.
    fn register_head_node(&self, name: &Name) -> impl Future<Output = Result<()>> + Send;
    /// Adds a compute node with its groups (default `oscar_clients`).
    fn add_node(&self, node: &NewNode) -> impl Future<Output = Result<()>> + Send;
    /// Removes a compute node and drops its rows.
    fn remove_node(&self, name: &Name) -> impl Future<Output = Result<()>> + Send;
    /// Every node, head node first.
    fn nodes(&self) -> impl Future<Output = Result<Vec<Node>>> + Send;
    /// Notes that a node's agent polled: when, its version, its address.
    fn record_agent_contact(
        &self,
        node: &Name,
        contact: &crate::nodes::AgentContact,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The head node's name, if one is registered; costs one row however
    /// many nodes there are.
    fn head_node(&self) -> impl Future<Output = Result<Option<Name>>> + Send;
    /// The nodes of a group.
    fn group_members(&self, group: &Name) -> impl Future<Output = Result<Vec<Name>>> + Send;
    /// Adds an image.
    fn add_image(&self, image: &Image) -> impl Future<Output = Result<()>> + Send;
    /// Removes an image no node uses and drops its rows.
    fn remove_image(&self, name: &Name) -> impl Future<Output = Result<()>> + Send;
    /// Every image.
    fn images(&self) -> impl Future<Output = Result<Vec<Image>>> + Send;

    /// Imports an opkg, or replaces what an earlier import said about it.
    fn import_opkg(
        &self,
        opkg: &OpkgImport,
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Selects an opkg for a group's nodes.
    fn select_opkg_for_group(
        &self,
        opkg: &Name,
        group: &Name,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Every imported opkg.
    fn opkgs(&self) -> impl Future<Output = Result<Vec<Opkg>>> + Send;
    /// Pins an opkg to one of its imported versions (`None` unpins it); the
    /// version its rows should have now (SPEC §1.9).
    fn pin_opkg(
        &self,
        opkg: &Name,
        version: Option<&str>,
    ) -> impl Future<Output = Result<String>> + Send;
    /// Starts upgrades of finished rows, in one transaction (see
    /// `opm_plan::plan_upgrade`): each row still at rest is set back before
    /// install-bin-pkgs with the version it goes to. The rows set back.
    fn start_upgrades(
        &self,
        upgrades: &[RowUpgrade],
        now_ms: i64,
    ) -> impl Future<Output = Result<Vec<RowId>>> + Send;

    /// Sets `requested` on (target, opkg), creating the row when needed.
    fn request(
        &self,
        target: &Target,
        opkg: &Name,
        stage: Stage,
        now_ms: i64,
    ) -> impl Future<Output = Result<StoredRow>> + Send;
    /// One row.
    fn row(&self, target: &Target, opkg: &Name) -> impl Future<Output = Result<StoredRow>> + Send;
    /// One row, by its id.
    fn row_by_id(&self, id: RowId) -> impl Future<Output = Result<StoredRow>> + Send;
    /// Rows that need work, are running or wait in error; costs what they
    /// are, not what the cluster holds.
    fn pending_rows(
        &self,
        scope: &Scope,
        after: Option<RowId>,
        limit: u32,
    ) -> impl Future<Output = Result<RowPage>> + Send;
    /// The compute nodes with rows their agents may have work in (pending,
    /// not in error), by name: one query, however many nodes there are.
    fn nodes_with_work(&self) -> impl Future<Output = Result<Vec<PendingNode>>> + Send;
    /// Every row of an opkg.
    fn rows_for_opkg(&self, opkg: &Name) -> impl Future<Output = Result<Vec<StoredRow>>> + Send;
    /// Every row of several opkgs, by id, in one statement; a name no opkg
    /// has adds nothing.
    fn rows_for_opkgs(&self, opkgs: &[Name])
    -> impl Future<Output = Result<Vec<StoredRow>>> + Send;
    /// Every row of a target.
    fn rows_for_target(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Vec<StoredRow>>> + Send;
    /// Every row, a page at a time.
    fn all_rows(
        &self,
        after: Option<RowId>,
        limit: u32,
    ) -> impl Future<Output = Result<RowPage>> + Send;

    /// Leases a target for `ttl_ms`; the lease carries a fresh fencing token.
    fn acquire_lease(
        &self,
        target: &Target,
        owner: &str,
        ttl_ms: i64,
        now_ms: i64,
    ) -> impl Future<Output = Result<Lease>> + Send;
    /// Extends a lease still held with `token`.
    fn renew_lease(
        &self,
        target: &Target,
        token: u64,
        ttl_ms: i64,
        now_ms: i64,
    ) -> impl Future<Output = Result<Lease>> + Send;
    /// Gives a lease back.
    fn release_lease(&self, target: &Target, token: u64)
    -> impl Future<Output = Result<()>> + Send;

    /// Starts a stage attempt on a row under the target's lease.
    fn begin_attempt(
        &self,
        row: RowId,
        stage: Stage,
        token: u64,
        now_ms: i64,
    ) -> impl Future<Output = Result<AttemptId>> + Send;
    /// Ends an attempt and sets the row's new state, in one transaction.
    fn finish_attempt(
        &self,
        attempt: AttemptId,
        outcome: &Outcome,
        after: &RowAfter,
        token: u64,
        now_ms: i64,
    ) -> impl Future<Output = Result<StoredRow>> + Send;
    /// Sets a row left `running` by a crashed attempt that is no longer
    /// needed back to `ok`, marking that attempt interrupted.
    fn release_interrupted(
        &self,
        row: RowId,
        token: u64,
        now_ms: i64,
    ) -> impl Future<Output = Result<StoredRow>> + Send;
    /// Clears an error; the reason is recorded in history. The failed
    /// stage then resumes at the step that failed.
    fn retry(
        &self,
        target: &Target,
        opkg: &Name,
        reason: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<StoredRow>> + Send;
    /// Clears an error as [`Store::retry`] does, but the failed stage then
    /// runs from its first step (`opm retry --whole-stage`).
    fn restart_stage(
        &self,
        target: &Target,
        opkg: &Name,
        reason: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<StoredRow>> + Send;
    /// Sets `current` back so `from` and later stages run again.
    fn rerun(
        &self,
        target: &Target,
        opkg: &Name,
        from: Stage,
        now_ms: i64,
    ) -> impl Future<Output = Result<StoredRow>> + Send;

    /// Writes verify's findings (SPEC §1.9): each row `drifted` with its
    /// message, or `ok` again, if it is still as judged; returns how many
    /// rows changed.
    fn record_drift(
        &self,
        marks: &[DriftMark],
        now_ms: i64,
    ) -> impl Future<Output = Result<usize>> + Send;

    /// The cluster's install phase.
    fn phase(&self) -> impl Future<Output = Result<Phase>> + Send;
    /// The phase, head node, images and opkgs together: one statement
    /// while none of them but the phase changed since the last call.
    fn facts(&self) -> impl Future<Output = Result<Facts>> + Send;
    /// Sets the cluster's install phase.
    fn set_phase(&self, phase: Phase, now_ms: i64) -> impl Future<Output = Result<()>> + Send;

    /// Sets a configuration value, opkg-wide or for one image.
    fn config_set(
        &self,
        opkg: &Name,
        image: Option<&Name>,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The effective configuration values of an opkg (for an image).
    fn config_values(
        &self,
        opkg: &Name,
        image: Option<&Name>,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;

    /// History entries.
    fn history(
        &self,
        filter: &HistoryFilter,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>>> + Send;

    /// One history entry by id, with its captured output.
    fn attempt(&self, id: AttemptId) -> impl Future<Output = Result<HistoryEntry>> + Send;

    /// Per pending row in `scope` and stage: its attempts' count and the
    /// newest attempt's result, in one read; a target that does not exist
    /// has none.
    fn attempt_tallies(
        &self,
        scope: &Scope,
    ) -> impl Future<Output = Result<Vec<AttemptTally>>> + Send;

    /// Rows counted by status and current stage, and the leases unexpired
    /// at `now_ms`, in aggregate queries, with each node's last agent
    /// contact (metrics scrapes).
    fn row_counts(&self, now_ms: i64) -> impl Future<Output = Result<RowCounts>> + Send;

    /// Whether the database answers and holds every migration of this
    /// opm: [`crate::StoreError::SchemaTooOld`] when one is missing.
    fn check_ready(&self) -> impl Future<Output = Result<()>> + Send;

    /// Records steps of a running attempt under `token`, the lease it runs
    /// under, in one transaction: each is added, or ends a step of the
    /// same position still running; a step that has ended stays as it is.
    fn record_steps(
        &self,
        attempt: AttemptId,
        steps: &[StepRecord],
        token: u64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The steps of an attempt, by position; a step left running by an
    /// attempt that has ended reads as interrupted.
    fn steps(&self, attempt: AttemptId) -> impl Future<Output = Result<Vec<StepRecord>>> + Send;
    /// The row's newest stage attempt with its steps, which its next
    /// attempt may resume (see `opm_plan::resume`).
    fn last_attempt(&self, row: RowId) -> impl Future<Output = Result<Option<PastAttempt>>> + Send;

    /// Replaces the API token of `subject` by the one hashed as `hash`
    /// (the old token stops working at once).
    fn set_token(
        &self,
        subject: &TokenSubject,
        hash: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// [`Store::set_token`] for many subjects in one transaction (minting
    /// a token for every node of a large cluster).
    fn set_tokens(
        &self,
        tokens: &[(TokenSubject, String)],
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Whose API token is hashed as `hash`, if anybody's.
    fn token_subject(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<TokenSubject>>> + Send;

    /// Records a new enrolment of compute node `node` (`opm node
    /// enroll`), its one-use token hashed as `hash`, working until
    /// `expires_ms`; the node's older enrolments stop working.
    fn add_enrolment(
        &self,
        node: &Name,
        hash: &str,
        now_ms: i64,
        expires_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// An agent's first contact: redeems the enrolment hashed as `hash`
    /// for `node` when `opm_model::judge` allows it, making the token
    /// hashed as `agent_hash` the node's token, in one transaction; the
    /// verdict either way.
    fn redeem_enrolment(
        &self,
        hash: &str,
        node: &Name,
        agent_hash: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<Redemption>> + Send;

    /// The node's drain through the scheduler, if opm drained it (or
    /// found it drained before its work; issue 20).
    fn node_drain(&self, node: &Name) -> impl Future<Output = Result<Option<DrainState>>> + Send;
    /// Every node's drain, by node name.
    fn node_drains(&self) -> impl Future<Output = Result<Vec<(Name, DrainState)>>> + Send;
    /// Stores the node's drain; a drain that completes keeps the time opm
    /// asked for it.
    fn set_node_drain(
        &self,
        node: &Name,
        state: DrainState,
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Forgets the node's drain, adding `note` (unless empty) to the error
    /// of each of its rows that failed since the drain began, in one
    /// transaction; how many rows got the note.
    fn end_node_drain(&self, node: &Name, note: &str) -> impl Future<Output = Result<u64>> + Send;

    /// The audit entries recorded at or after `since_ms`, oldest first.
    fn audit_since(&self, since_ms: i64) -> impl Future<Output = Result<Vec<AuditEntry>>> + Send;

    /// Creates a rollout, running, with its first members in start order;
    /// its id.
    fn open_rollout(
        &self,
        rollout: &NewRollout,
        now_ms: i64,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// Every rollout, newest first (a cluster keeps few).
    fn rollouts(&self) -> impl Future<Output = Result<Vec<Rollout>>> + Send;
    /// The member nodes of a rollout, in start order.
    fn rollout_members(&self, id: i64) -> impl Future<Output = Result<Vec<RolloutMember>>> + Send;
    /// One node's place in a rollout, if it is a member; costs one row.
    fn rollout_member(
        &self,
        id: i64,
        node: &Name,
    ) -> impl Future<Output = Result<Option<RolloutMember>>> + Send;
    /// Adds nodes that are not members yet at the end of a rollout's order.
    fn join_rollout(&self, id: i64, nodes: &[Name]) -> impl Future<Output = Result<()>> + Send;
    /// Starts members of a rollout if nobody started any since the caller
    /// read `generation`; whether it did.
    fn start_rollout_members(
        &self,
        id: i64,
        generation: i64,
        nodes: &[Name],
        now_ms: i64,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Records a rollout's state, why it paused (empty otherwise) and
    /// whether its canary nodes are still pending.
    fn set_rollout_state(
        &self,
        id: i64,
        state: opm_model::RolloutState,
        message: &str,
        canary_pending: bool,
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Marks rollouts replaced by a later command: they hold nothing back.
    fn close_rollouts(&self, ids: &[i64], now_ms: i64) -> impl Future<Output = Result<()>> + Send;

    /// Applies every change of `batch` in order in one transaction: all of
    /// them land, or none. The only way into the audit trail
    /// ([`crate::Change::Audit`]): an entry lands with its action or not
    /// at all.
    fn apply(&self, batch: &Batch, now_ms: i64) -> impl Future<Output = Result<()>> + Send;

    /// Adds a synthetic cluster in bulk (benchmarks); the rows written.
    fn populate(
        &self,
        population: &Population,
        now_ms: i64,
    ) -> impl Future<Output = Result<u64>> + Send;
}
