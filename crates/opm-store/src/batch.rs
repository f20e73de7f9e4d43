//! Several state changes in one transaction, for CLI commands that decide
//! a whole set of changes first (`opm install` selects opkgs and requests
//! rows, `opm node add` after `complete` adds the node and its rows, `opm
//! opkg import` registers several opkgs): either every change lands or
//! none does. An operator action's audit entry is one of its changes
//! ([`Change::Audit`]), so the trail holds exactly the actions that
//! happened: a crash or a refusal half-way leaves neither the action nor
//! its entry.

use opm_model::{Name, Phase, Stage, Target};

use crate::audit::{self, AuditEntry};
use crate::db::Db;
use crate::error::Result;
use crate::nodes::{self, Image, NewNode};
use crate::opkgs::{self, OpkgImport};
use crate::{cluster, rollouts, rows};

/// One change of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Add a compute node (see `Store::add_node`).
    AddNode(NewNode),
    /// Add an image (see `Store::add_image`).
    AddImage(Image),
    /// Import an opkg at a time (see `Store::import_opkg`).
    Import {
        /// What to import.
        opkg: OpkgImport,
        /// The import time to record.
        at_ms: i64,
    },
    /// Select an opkg for a group (see `Store::select_opkg_for_group`).
    Select {
        /// The opkg.
        opkg: Name,
        /// The group.
        group: Name,
    },
    /// Set `requested` on a row, creating it when needed (see `Store::request`).
    Request {
        /// The row's target.
        target: Target,
        /// The row's opkg.
        opkg: Name,
        /// The stage to request.
        stage: Stage,
    },
    /// Set a configuration value (see `Store::config_set`).
    Config {
        /// The opkg.
        opkg: Name,
        /// The image, or `None` for every target.
        image: Option<Name>,
        /// The value's name.
        key: String,
        /// The value.
        value: String,
    },
    /// Remove a compute node and its rows (see `Store::remove_node`).
    RemoveNode(Name),
    /// Remove an image no node uses and its rows (see `Store::remove_image`).
    RemoveImage(Name),
    /// Set the cluster's install phase (see `Store::set_phase`).
    SetPhase(Phase),
    /// Clear a row's error (see `Store::retry` and `Store::restart_stage`).
    Retry {
        /// The row's target.
        target: Target,
        /// The row's opkg.
        opkg: Name,
        /// Why, for history.
        reason: String,
        /// Run the failed stage from its first step rather than resume it.
        whole_stage: bool,
    },
    /// Run a row's stages again from `from` (see `Store::rerun`).
    Rerun {
        /// The row's target.
        target: Target,
        /// The row's opkg.
        opkg: Name,
        /// The first stage to run again.
        from: Stage,
    },
    /// Record a rollout's state (see `Store::set_rollout_state`).
    RolloutState {
        /// The rollout.
        id: i64,
        /// Its new state.
        state: opm_model::RolloutState,
        /// Why it paused (empty otherwise).
        message: String,
        /// Whether its canary nodes are still pending.
        canary_pending: bool,
    },
    /// Add an entry to the audit trail: the operator action the batch's
    /// other changes carry out.
    Audit(AuditEntry),
}

/// Changes applied in order, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The changes.
    pub changes: Vec<Change>,
}

/// Applies every change of `batch` in order, inside the caller's write
/// transaction, so the first failure rolls all of them back.
pub(crate) async fn apply(conn: &mut impl Db, batch: &Batch, now_ms: i64) -> Result<()> {
    for change in &batch.changes {
        match change {
            Change::AddNode(node) => nodes::add_node(conn, node).await?,
            Change::AddImage(image) => nodes::add_image(conn, image).await?,
            Change::Import { opkg, at_ms } => opkgs::import(conn, opkg, *at_ms).await?,
            Change::Select { opkg, group } => opkgs::select(conn, opkg, group).await?,
            Change::Request {
                target,
                opkg,
                stage,
            } => {
                rows::request(conn, target, opkg, *stage, now_ms).await?;
            }
            Change::Config {
                opkg,
                image,
                key,
                value,
            } => cluster::config_set(conn, opkg, image.as_ref(), key, value).await?,
            Change::RemoveNode(name) => nodes::remove_node(conn, name).await?,
            Change::RemoveImage(name) => nodes::remove_image(conn, name).await?,
            Change::SetPhase(phase) => cluster::set_phase(conn, *phase, now_ms).await?,
            Change::Retry {
                target,
                opkg,
                reason,
                whole_stage,
            } => {
                rows::retry(conn, target, opkg, reason, *whole_stage, now_ms).await?;
            }
            Change::Rerun { target, opkg, from } => {
                rows::rerun(conn, target, opkg, *from, now_ms).await?;
            }
            Change::RolloutState {
                id,
                state,
                message,
                canary_pending,
            } => rollouts::set_state(conn, *id, *state, message, *canary_pending, now_ms).await?,
            Change::Audit(entry) => audit::record(conn, entry).await?,
        }
    }
    Ok(())
}
