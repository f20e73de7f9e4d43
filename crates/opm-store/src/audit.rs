//! The audit trail: one entry per operator action (install, remove,
//! request, phase, node and image changes, config set, retry, rerun,
//! rollout resume and abort), with
//! who asked and when. Entries are only ever added; they are read back
//! oldest first, from a point in time on.

use crate::db::{self, Db};
use crate::error::{Result, StoreError};

/// An operator action the audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// `opm install`.
    Install,
    /// `opm remove`.
    Remove,
    /// `opm request` (a requested state set).
    Request,
    /// `opm phase` (the cluster phase set).
    Phase,
    /// `opm node add`.
    NodeAdd,
    /// `opm node remove`.
    NodeRemove,
    /// `opm image add`.
    ImageAdd,
    /// `opm image remove`.
    ImageRemove,
    /// `opm config set`.
    ConfigSet,
    /// `opm retry`.
    Retry,
    /// `opm rerun`.
    Rerun,
    /// `opm rollout resume`.
    RolloutResume,
    /// `opm rollout abort`.
    RolloutAbort,
}

impl AuditAction {
    /// Every action, in the order the CLI lists them.
    pub const ALL: [AuditAction; 13] = [
        AuditAction::Install,
        AuditAction::Remove,
        AuditAction::Request,
        AuditAction::Phase,
        AuditAction::NodeAdd,
        AuditAction::NodeRemove,
        AuditAction::ImageAdd,
        AuditAction::ImageRemove,
        AuditAction::ConfigSet,
        AuditAction::Retry,
        AuditAction::Rerun,
        AuditAction::RolloutResume,
        AuditAction::RolloutAbort,
    ];

    /// The action's name, as stored and shown (the migration's CHECK
    /// lists the same names).
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::Install => "install",
            AuditAction::Remove => "remove",
            AuditAction::Request => "request",
            AuditAction::Phase => "phase",
            AuditAction::NodeAdd => "node-add",
            AuditAction::NodeRemove => "node-remove",
            AuditAction::ImageAdd => "image-add",
            AuditAction::ImageRemove => "image-remove",
            AuditAction::ConfigSet => "config-set",
            AuditAction::Retry => "retry",
            AuditAction::Rerun => "rerun",
            AuditAction::RolloutResume => "rollout-resume",
            AuditAction::RolloutAbort => "rollout-abort",
        }
    }

    fn parse(value: &str) -> Result<AuditAction> {
        AuditAction::ALL
            .into_iter()
            .find(|action| action.name() == value)
            .ok_or_else(|| StoreError::Corrupt {
                what: "audit action",
                value: value.to_owned(),
            })
    }
}

/// One audit entry: who did what to which subject, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, in milliseconds since the epoch.
    pub at_ms: i64,
    /// Who: the Unix user of a local CLI, the API token's name through
    /// the API.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to, as the operator named it (an opkg and its
    /// target, a node, an image, a config key and value).
    pub subject: String,
}

/// Adds `entry` to the trail.
pub(crate) async fn record(conn: &mut impl Db, entry: &AuditEntry) -> Result<()> {
    db::query("INSERT INTO audit (at_ms, actor, action, subject) VALUES ($1, $2, $3, $4)")
        .bind(entry.at_ms)
        .bind(&entry.actor)
        .bind(entry.action.name())
        .bind(&entry.subject)
        .execute(conn)
        .await?;
    Ok(())
}

/// The entries recorded at or after `since_ms`, oldest first (entries of
/// the same millisecond in the order they were recorded).
pub(crate) async fn since(conn: &mut impl Db, since_ms: i64) -> Result<Vec<AuditEntry>> {
    let rows: Vec<(i64, String, String, String)> = db::query_as(
        "SELECT at_ms, actor, action, subject FROM audit WHERE at_ms >= $1 ORDER BY at_ms, id",
    )
    .bind(since_ms)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(at_ms, actor, action, subject)| {
            Ok(AuditEntry {
                at_ms,
                actor,
                action: AuditAction::parse(&action)?,
                subject,
            })
        })
        .collect()
}
