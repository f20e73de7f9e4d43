//! Rows: the requested stage, the current stage and the status of one
//! (target, opkg) pair (SPEC §1).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::name::Name;
use crate::stage::Stage;
use crate::target::Target;

/// Who is working on a row, and until when their claim holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The process holding the lease (for messages).
    pub owner: String,
    /// A fencing token: increases with every grant, so a stale holder's late
    /// write can be told apart and refused.
    pub token: u64,
    /// When the claim lapses, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

impl Lease {
    /// Whether the claim has lapsed at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at_ms
    }
}

/// The state of a row's work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Status {
    /// Nothing under way, nothing failed.
    Ok,
    /// A stage is under way, held by the lease.
    Running {
        /// The holder's claim.
        lease: Lease,
    },
    /// A stage failed; the row waits for an operator (`opm retry`).
    Error {
        /// What failed, the exit code and the tail of its output.
        message: String,
    },
    /// Its native packages are missing or at another version than the row
    /// records (found by `opm verify`, SPEC §1.9): not finished whatever
    /// `current` says; it needs a repair, not the next stage.
    Drifted {
        /// What differs, package by package.
        message: String,
    },
}

/// The status without its data, as printed and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusKind {
    /// See [`Status::Ok`].
    Ok,
    /// See [`Status::Running`].
    Running,
    /// See [`Status::Error`].
    Error,
    /// See [`Status::Drifted`].
    Drifted,
}

impl Status {
    /// The kind of this status.
    pub fn kind(&self) -> StatusKind {
        match self {
            Status::Ok => StatusKind::Ok,
            Status::Running { .. } => StatusKind::Running,
            Status::Error { .. } => StatusKind::Error,
            Status::Drifted { .. } => StatusKind::Drifted,
        }
    }
}

impl StatusKind {
    /// The name as printed and stored.
    pub fn name(self) -> &'static str {
        match self {
            StatusKind::Ok => "ok",
            StatusKind::Running => "running",
            StatusKind::Error => "error",
            StatusKind::Drifted => "drifted",
        }
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The versions of a row (SPEC §1.9).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowVersion {
    /// The opkg version the row's current stage was reached with; `None`
    /// while nothing was (or is any more) done with any version.
    pub reached: Option<String>,
    /// The version the row's coming stages install: fixed once a stage
    /// passed with it, moved only by an upgrade; for a row that never
    /// passed one, the opkg's wanted version. `None` when unknown.
    pub work: Option<String>,
    /// While an upgrade is under way: the version it started from
    /// (`OPM_UPGRADE_FROM`); cleared when the row is back at its request.
    pub upgrade_from: Option<String>,
}

impl RowVersion {
    /// The upgrade under way, as (from, to), when there is one.
    pub fn upgrade(&self) -> Option<(&str, &str)> {
        Some((self.upgrade_from.as_deref()?, self.work.as_deref()?))
    }

    /// The versions once a stage passed and the row's `current` became
    /// `current` (of `requested`), the stage having worked with
    /// `worked_with` (`None`: the row's work version). The stage records
    /// its version as the one `current` was reached with and fixes the
    /// work version to it; the uninstall path clears both; an upgrade is
    /// over once the row is back at its request. The store writes the same
    /// rule in SQL when an attempt ends.
    pub fn after_pass(
        &self,
        current: Stage,
        requested: Stage,
        worked_with: Option<&str>,
    ) -> RowVersion {
        if current == Stage::ShouldNotBeInstalled {
            return RowVersion::default();
        }
        let version = worked_with.map(str::to_owned).or_else(|| self.work.clone());
        RowVersion {
            reached: version.clone(),
            work: version,
            upgrade_from: if current >= requested {
                None
            } else {
                self.upgrade_from.clone()
            },
        }
    }
}

/// One (target, opkg) row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Row {
    /// The node or image.
    pub target: Target,
    /// The opkg.
    pub package: Name,
    /// The stage somebody wants this row to reach.
    pub requested: Stage,
    /// The last stage completed; `None` for imported data that never said.
    pub current: Option<Stage>,
    /// Whether work is under way or failed.
    pub status: Status,
    /// Which opkg version it is at and works towards.
    #[serde(default)]
    pub version: RowVersion,
}

impl Row {
    /// The current stage, counting an unknown one as the first (SPEC §1.1).
    pub fn effective_current(&self) -> Stage {
        self.current.unwrap_or(Stage::FIRST)
    }

    /// Whether the row needs work, is running or waits in error: the rows
    /// the store's pending index holds.
    pub fn is_pending(&self) -> bool {
        self.status != Status::Ok || self.current != Some(self.requested)
    }
}

impl fmt::Display for Row {
    /// `node n3 / slurm`, as messages name rows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.target, self.package)
    }
}
