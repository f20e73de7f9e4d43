//! The JSON bodies of the head node's HTTP API (`/v1/...`), shared by the
//! server (`opm-api`'s handlers) and its clients (the node agent, tools).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Name, PastAttempt, Phase, Stage, StepRecord, Target};

/// Largest request body the server reads; a finish report carries a
/// stage's captured output, which the store caps at 1 MiB anyway.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Longest a poll may wait for work.
pub const MAX_POLL_WAIT_MS: u64 = 30_000;

/// Longest an agent instance id may be.
pub const MAX_AGENT_ID_LEN: usize = 64;

/// An agent asks for its node's work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollRequest {
    /// This agent process's id (random per start), so the server tells a
    /// restarted agent, whose earlier work was interrupted, from itself.
    pub agent: String,
    /// The node's name as the agent's opm.conf says it: the server refuses
    /// a poll whose token is another node's, so an agent never works a
    /// node's rows into another machine's root.
    pub node: String,
    /// How long to wait for work to appear, at most [`MAX_POLL_WAIT_MS`].
    pub wait_ms: u64,
}

/// One stage of one of the node's rows to perform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    /// The row's id.
    pub row: i64,
    /// The row's opkg.
    pub package: Name,
    /// The stage to perform (`should_not_be_installed` for the uninstall
    /// path); the agent derives its actions with `opm-plan`.
    pub stage: Stage,
    /// Whether an earlier attempt at this stage was interrupted.
    pub interrupted: bool,
    /// The attempt number of this stage (1 for the first).
    pub attempt: u32,
    /// The opkg's configuration values, for the scripts' environment.
    pub config: BTreeMap<String, String>,
    /// The row's newest attempt, which this one may resume (its steps as
    /// the server knows them; the agent's journal may know more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earlier: Option<PastAttempt>,
    /// The opkg version the stage installs and is recorded with (SPEC §1.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// For a stage of an upgrade: the version it started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_from: Option<String>,
}

/// A row that cannot move now, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The row, as `node n1 / slurm`.
    pub row: String,
    /// Why.
    pub reason: String,
}

/// The answer to a poll: work under one lease of the node, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkBatch {
    /// The fencing token every report of this work carries (0 when there
    /// are no items).
    pub token: u64,
    /// How long the lease lasts unless a heartbeat renews it.
    pub lease_ttl_ms: i64,
    /// The stages to perform, in order.
    pub items: Vec<WorkItem>,
    /// The node's rows in error, waiting for an operator.
    pub errors: Vec<Waiting>,
    /// The node's rows blocked on something else.
    pub blocked: Vec<Waiting>,
}

/// An agent starts a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartReport {
    /// The row.
    pub row: i64,
    /// The stage.
    pub stage: Stage,
    /// The lease's token.
    pub token: u64,
}

/// A started attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    /// The attempt's id, for the finish report.
    pub attempt: i64,
}

/// An agent reports how a stage ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinishReport {
    /// The attempt.
    pub attempt: i64,
    /// The lease's token.
    pub token: u64,
    /// Whether every action passed.
    pub passed: bool,
    /// The exit code of the command that failed, if one ran.
    pub exit_code: Option<i32>,
    /// The captured output, as kept (a flood of output keeps its head and
    /// tail).
    pub output: String,
    /// Every byte the stage printed, `output` holding all or part of them;
    /// absent from agents older than this count, whose `output` is all
    /// there is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
    /// For a failure: the row's error message.
    pub message: Option<String>,
    /// For a failure: infrastructure trouble, retried later, never a row
    /// error.
    pub transient: bool,
    /// The attempt's steps (none from agents older than steps).
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// The opkg version the stage worked with (SPEC §1.9); absent: the
    /// row's own work version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The answer to a finish report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    /// The report had been recorded already (a re-sent report).
    pub duplicate: bool,
}

/// An agent still works under its lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The lease's token.
    pub token: u64,
}

/// An error answer: what was wrong, in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The message.
    pub error: String,
}

/// One row as the tools' API and `opm status --json` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRow {
    /// The target's name.
    pub target: String,
    /// `node` or `image`.
    pub kind: String,
    /// The opkg.
    pub package: String,
    /// The requested stage.
    pub requested: Stage,
    /// The last completed stage.
    pub current: Option<Stage>,
    /// `ok`, `running`, `error` or `drifted`.
    pub status: String,
    /// For `error`: what failed; for `drifted`: what differs.
    pub message: String,
    /// The opkg version the current stage was reached with (SPEC §1.9).
    #[serde(default)]
    pub version: Option<String>,
    /// The version the row should have: the opkg's newest imported one,
    /// or its pin; a row at another one is outdated (`opm upgrade`).
    #[serde(default)]
    pub wanted_version: Option<String>,
}

/// A tool sets a row's requested stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// The row's target.
    pub target: Target,
    /// The opkg.
    pub package: Name,
    /// The stage it should reach.
    pub stage: Stage,
}

/// A tool starts upgrades (`opm upgrade`, SPEC §1.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeBody {
    /// The opkgs; none: every imported opkg.
    #[serde(default)]
    pub packages: Vec<Name>,
    /// Only this node's rows.
    #[serde(default)]
    pub node: Option<Name>,
    /// Only this image's rows.
    #[serde(default)]
    pub image: Option<Name>,
    /// Only the rows of this group's nodes.
    #[serde(default)]
    pub group: Option<Name>,
    /// Whether a wanted version older than a row's may be installed.
    #[serde(default)]
    pub allow_downgrade: bool,
}

/// A tool pins an opkg's version (`opm opkg pin`), or unpins it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinBody {
    /// The opkg.
    pub package: Name,
    /// An imported version; `None` unpins.
    #[serde(default)]
    pub version: Option<String>,
}

/// An opkg's pin after a [`PinBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pinned {
    /// The opkg.
    pub package: Name,
    /// The version pinned, if any.
    pub pinned: Option<String>,
    /// The version its rows should have now.
    pub wanted_version: String,
}

/// A tool clears a row's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    /// The row's target.
    pub target: Target,
    /// The opkg.
    pub package: Name,
    /// Why, for history.
    pub reason: String,
    /// Run the failed stage from its first step rather than resume it at
    /// the step that failed.
    #[serde(default)]
    pub whole_stage: bool,
}

/// The cluster's install phase, read or set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseBody {
    /// The phase.
    pub phase: Phase,
}

/// A tool installs opkgs (`opm install`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    /// The opkgs.
    pub packages: Vec<Name>,
    /// The group to select them for [default: oscar_clients].
    #[serde(default)]
    pub group: Option<Name>,
}

/// A tool removes opkgs (`opm remove`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveBody {
    /// The opkgs.
    pub packages: Vec<Name>,
    /// Take down what depends on them too, instead of refusing.
    #[serde(default)]
    pub with_dependents: bool,
}

/// One row whose request changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestChanged {
    /// The row's target.
    pub target: Target,
    /// The opkg.
    pub package: Name,
    /// The stage now requested.
    pub requested: Stage,
    /// Whether the row was created.
    pub created: bool,
}

/// An agent's first contact (`POST /v1/agent/enroll`, with the enrolment
/// token as its bearer token): it trades the one-use token for one of its
/// own, of which only the hash crosses the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The node the agent speaks for (its opm.conf).
    pub node: String,
    /// SHA-256 (hex) of the token the agent chose and keeps.
    pub token_hash: String,
}

/// The server took the agent's token: the node's token is now the one
/// hashed in the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// The node.
    pub node: String,
}

/// An agent asks which of its node's native packages a verify reads
/// (`POST /v1/agent/verify/ask`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyAsk {
    /// The node's name as the agent's opm.conf says it (as in a poll).
    pub node: String,
}

/// The native packages to read, in one question to the package database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyQuestion {
    /// The names, each once.
    pub packages: Vec<String>,
}

/// An agent reports what its node's package database said
/// (`POST /v1/agent/verify`). It reports facts about its own root only;
/// the server judges the node's rows from them with `opm_plan::verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyReport {
    /// The node's name as the agent's opm.conf says it.
    pub node: String,
    /// The answer for the packages of the question.
    pub inventory: crate::Inventory,
}

/// What a verify found: on the head node's rows and images (`opm verify`,
/// the server's periodic verify), or on one node's rows (an agent's report).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifySummary {
    /// Rows judged.
    pub checked: usize,
    /// Rows found drifted, each with what differs.
    pub drifted: Vec<Waiting>,
    /// Rows that were drifted and are whole again (somebody put the
    /// packages back).
    pub whole_again: Vec<String>,
    /// Targets whose package database could not be read, with why; their
    /// rows keep their status.
    pub unreadable: Vec<Waiting>,
}

impl VerifySummary {
    /// Adds another verify's findings to these.
    pub fn merge(&mut self, other: VerifySummary) {
        self.checked += other.checked;
        self.drifted.extend(other.drifted);
        self.whole_again.extend(other.whole_again);
        self.unreadable.extend(other.unreadable);
    }
}
