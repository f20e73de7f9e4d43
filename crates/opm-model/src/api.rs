//! The JSON bodies of the head node's HTTP API (`/v1/...`), shared by the
//! server (`opm-api`'s handlers) and its clients (the node agent, tools).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    Name, PastAttempt, Phase, RolloutPolicy, RolloutState, Row, Stage, Status, StepRecord, Target,
    TargetKind,
};

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

// ---- The tools' views and actions: one shape each, for `opm ... --json`
// (local or remote) and the tools' API alike.

/// One row as `opm status --json`, `opm retry --json` and the tools' API
/// show it.
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
    /// The last completed stage; null when unknown.
    pub current: Option<Stage>,
    /// `ok`, `running`, `error` or `drifted`.
    pub status: String,
    /// For `error`: what failed; for `drifted`: what differs; for an `ok`
    /// row whose node opm waits on to drain: `waiting for n12 to drain`;
    /// empty otherwise.
    pub message: String,
    /// For `running`: who holds the lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The opkg version the current stage was reached with (SPEC §1.9).
    #[serde(default)]
    pub version: Option<String>,
    /// The version the row should have: the opkg's newest imported one,
    /// or its pin; a row at another one is outdated (`opm upgrade`).
    #[serde(default)]
    pub wanted_version: Option<String>,
    /// During an upgrade: the version it started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_from: Option<String>,
}

impl StatusRow {
    /// The view of one row; `wanted_version` is its opkg's (the store's
    /// `StoredRow` has it).
    pub fn of(row: &Row, wanted_version: Option<&str>) -> StatusRow {
        let (message, owner) = match &row.status {
            Status::Ok => (String::new(), None),
            Status::Running { lease } => (String::new(), Some(lease.owner.clone())),
            Status::Error { message } | Status::Drifted { message } => (message.clone(), None),
        };
        StatusRow {
            target: row.target.name.to_string(),
            kind: row.target.kind.name().to_owned(),
            package: row.package.to_string(),
            requested: row.requested,
            current: row.current,
            status: row.status.kind().name().to_owned(),
            message,
            owner,
            version: row.version.reached.clone(),
            wanted_version: wanted_version.map(str::to_owned),
            upgrade_from: row.version.upgrade_from.clone(),
        }
    }
}

/// Which rows a view shows (`--node`, `--image`, `--group`, `--package`,
/// `--stage`, `--errors`); every field narrows, none means every row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowFilter {
    /// Only this node's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Name>,
    /// Only this image's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Name>,
    /// Only the rows of nodes in this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Name>,
    /// Only this opkg's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Name>,
    /// Only rows whose current stage is this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// Only rows in error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub errors: bool,
}

impl RowFilter {
    /// The one target `--node`/`--image` names, if any.
    pub fn target(&self) -> Option<Target> {
        match (&self.node, &self.image) {
            (Some(node), _) => Some(Target::node(node.clone())),
            (None, Some(image)) => Some(Target::image(image.clone())),
            (None, None) => None,
        }
    }

    /// Whether `row` passes every field but `group`, which needs the
    /// cluster's memberships (`in_group` says whether the row's node is in
    /// the group).
    pub fn keeps(&self, row: &Row, in_group: impl FnOnce() -> bool) -> bool {
        let target = &row.target;
        self.node
            .as_ref()
            .is_none_or(|node| target.kind == TargetKind::Node && &target.name == node)
            && self
                .image
                .as_ref()
                .is_none_or(|image| target.kind == TargetKind::Image && &target.name == image)
            && self
                .package
                .as_ref()
                .is_none_or(|package| &row.package == package)
            && self
                .stage
                .is_none_or(|stage| row.effective_current() == stage)
            && (!self.errors || matches!(row.status, Status::Error { .. }))
            && (self.group.is_none() || (target.kind == TargetKind::Node && in_group()))
    }
}

/// A tool sets a row's requested stage (`opm request`): on one node or
/// image (`target`), on every node of a `group`, or on the head node
/// (`server`); exactly one of the three.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    /// The row's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Every node of this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Name>,
    /// The head node.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub server: bool,
    /// The opkg.
    pub package: Name,
    /// The stage it should reach.
    pub stage: Stage,
    /// Only say what would change; change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
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
    /// How the work on nodes is spread out (SPEC §1.10); none: all at once.
    #[serde(default, skip_serializing_if = "no_rollout")]
    pub rollout: RolloutPolicy,
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

/// A tool runs a row's stages again from a stage (`opm rerun`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerunBody {
    /// The row's target.
    pub target: Target,
    /// The opkg.
    pub package: Name,
    /// The first stage to run again.
    pub from: Stage,
    /// How the work on nodes is spread out (SPEC §1.10); none: all at once.
    #[serde(default, skip_serializing_if = "no_rollout")]
    pub rollout: RolloutPolicy,
}

/// The cluster's install phase, read or set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseBody {
    /// The phase.
    pub phase: Phase,
    /// When setting: only say what would change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// A phase set (or, for a dry run, that would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseSet {
    /// The phase now.
    pub phase: Phase,
    /// The phase before.
    pub previous: Phase,
    /// Moving backwards or skipping phases, said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// Nothing was changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
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
    /// Only say what would change; change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// How the work on nodes is spread out (SPEC §1.10); none: all at once.
    #[serde(default, skip_serializing_if = "no_rollout")]
    pub rollout: RolloutPolicy,
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
    /// Only say what would change; change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// How the work on nodes is spread out (SPEC §1.10); none: all at once.
    #[serde(default, skip_serializing_if = "no_rollout")]
    pub rollout: RolloutPolicy,
}

/// One row whose request changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestChanged {
    /// The target's name.
    pub target: String,
    /// `node` or `image`.
    pub kind: String,
    /// The opkg.
    pub package: String,
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

impl std::fmt::Display for RequestChanged {
    /// `request finished on node n1 / slurm (new row)`, as the planner
    /// words a request change.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "request {} on {} {} / {}",
            self.requested, self.kind, self.target, self.package
        )?;
        if self.created {
            f.write_str(" (new row)")?;
        }
        Ok(())
    }
}

/// What `install`, `remove` and `request` changed, and what the operator
/// should know about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOutcome {
    /// The rows whose request changed.
    pub changes: Vec<RequestChanged>,
    /// Things that will make the rows wait (a dependency not requested).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Nothing was changed: these are the changes it would make.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// A node as `opm node list` and `GET /v1/nodes` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeView {
    /// Its name.
    pub name: String,
    /// Whether it is the head node.
    pub head: bool,
    /// The image it boots, if any.
    pub image: Option<String>,
    /// Its groups.
    pub groups: Vec<String>,
    /// When its agent last polled, ms since the epoch; null if never.
    #[serde(default)]
    pub last_seen_ms: Option<i64>,
    /// Its agent's version (`opm/0.1.0`), as last heard.
    #[serde(default)]
    pub agent: Option<String>,
    /// The address its agent last called from.
    #[serde(default)]
    pub address: Option<String>,
}

/// A tool adds a compute node (`opm node add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeAddBody {
    /// Its name.
    pub name: Name,
    /// Its groups [default: oscar_clients].
    #[serde(default)]
    pub groups: Vec<Name>,
    /// The image it boots.
    #[serde(default)]
    pub image: Option<Name>,
}

/// An added node, with the rows it got at once (SPEC §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAdded {
    /// Its name.
    pub added: Name,
    /// The groups it joined.
    pub groups: Vec<Name>,
    /// The rows requested for it.
    pub requests: Vec<RequestChanged>,
}

/// A removed node or image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// Its name.
    pub removed: Name,
    /// The rows that went with it (or would, for a dry run).
    #[serde(default)]
    pub rows: Vec<StatusRow>,
    /// Nothing was removed: this is what would go.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// How a node or image is removed (`DELETE /v1/nodes/NAME?dry_run=true`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// Only say what would go; remove nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// An image as `opm image list` and `GET /v1/images` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageView {
    /// Its name.
    pub name: String,
    /// Its root directory on the head node.
    pub path: String,
}

/// A tool adds an image (`opm image add`); the path is the head node's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageAddBody {
    /// Its name.
    pub name: Name,
    /// Its root directory.
    pub path: String,
}

/// An added image, with the rows it got at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAdded {
    /// Its name.
    pub name: Name,
    /// Its root directory, absolute.
    pub path: String,
    /// The rows requested for it.
    pub requests: Vec<RequestChanged>,
}

/// A tool sets an opkg's configuration values (`opm config set`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigSetBody {
    /// The opkg.
    pub package: Name,
    /// Only for this image; every target without.
    #[serde(default)]
    pub image: Option<Name>,
    /// `NAME=VALUE` each.
    pub values: Vec<String>,
}

/// The values set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigSet {
    /// The opkg.
    pub package: Name,
    /// The image, if only for one.
    pub image: Option<Name>,
    /// The values set, by name.
    pub set: BTreeMap<String, String>,
}

/// Which configuration to show (`opm config show`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigQuery {
    /// The opkg.
    pub package: Name,
    /// As one image's scripts see it.
    #[serde(default)]
    pub image: Option<Name>,
}

/// One configuration value as `config show` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigValue {
    /// The field's name.
    pub name: String,
    /// What the form submits untouched (several for checkbox groups).
    pub default: Vec<String>,
    /// What was set with `opm config set`, if anything.
    pub set: Option<String>,
    /// What scripts get: the set value, else the defaults joined by ','.
    pub value: String,
}

/// An opkg's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigView {
    /// The opkg.
    pub package: String,
    /// The image, if for one.
    pub image: Option<String>,
    /// Its values.
    pub values: Vec<ConfigValue>,
}

/// Which history to read (`opm history`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only this node's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Name>,
    /// Only this image's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Name>,
    /// Only this opkg's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Name>,
    /// Only the rows of nodes in this group (as `opm status --group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Name>,
    /// Only the rows whose current stage is this one (as `opm status
    /// --stage`), not the stage an entry attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// Only the rows in error now (as `opm status --errors`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub errors: bool,
    /// At most this many entries, the newest [default: 100].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only entries begun at or after this time, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// Only attempts that failed (of the newest `limit` entries).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

/// Which audit entries to read (`opm history --audit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries recorded at or after this time, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
}

/// One audit entry as `opm history --audit` and `GET /v1/audit` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditLine {
    /// When, `YYYY-MM-DD HH:MM:SS` UTC.
    pub at: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// Who: the Unix user of a CLI on the database host, the API token's
    /// name (`admin`) through the API and `--remote`.
    pub actor: String,
    /// `install`, `remove`, `request`, `phase`, `node-add`, `node-remove`,
    /// `image-add`, `image-remove`, `config-set`, `retry` or `rerun`.
    pub action: String,
    /// What it was about.
    pub subject: String,
}

impl HistoryQuery {
    /// Which rows' history: the filter `opm status` would list them by.
    pub fn rows(&self) -> RowFilter {
        RowFilter {
            node: self.node.clone(),
            image: self.image.clone(),
            group: self.group.clone(),
            package: self.package.clone(),
            stage: self.stage,
            errors: self.errors,
        }
    }
}

/// One history entry as `opm history`, `opm logs` and the tools' API
/// show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryLine {
    /// Its id (an attempt's id for `opm logs --attempt`).
    pub id: i64,
    /// The target's name.
    pub target: String,
    /// `node` or `image`.
    pub kind: String,
    /// The opkg.
    pub package: String,
    /// `attempt`, `retry`, `rerun`, ...
    pub event: String,
    /// The stage attempted (or rerun from).
    pub stage: Option<Stage>,
    /// For attempts, how it ended.
    pub result: Option<String>,
    /// When it began, `YYYY-MM-DD HH:MM:SS` UTC.
    pub started: String,
    /// When it began, ms since the epoch.
    pub started_ms: i64,
    /// When it ended.
    pub ended_ms: Option<i64>,
    /// How long it took.
    pub duration_ms: Option<i64>,
    /// The exit code, if a command ran.
    pub exit_code: Option<i32>,
    /// Every byte the stage printed.
    pub output_bytes: u64,
    /// The reason of a retry, the stage of a rerun.
    pub note: String,
    /// A retry that runs the failed stage from its first step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole_stage: bool,
    /// For `opm logs`: the captured output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// For `opm logs`: the attempt's steps, each with its own output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepRecord>>,
}

/// Which attempt `opm logs` shows: one by id, or the last of a row (on
/// the head node unless `node`/`image` says otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// The attempt's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i64>,
    /// The row's opkg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Name>,
    /// The row's node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Name>,
    /// The row's image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Name>,
}

/// One pending row of `opm plan`: its next action or what it waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanLine {
    /// The target's name.
    pub target: String,
    /// `node` or `image`.
    pub kind: String,
    /// The opkg.
    pub package: String,
    /// What would happen (or why not), as one line.
    pub next: String,
    /// The planner's decision as data (tagged by `decision`).
    pub decision: serde_json::Value,
}

/// How many rows of one opkg are at one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageCount {
    /// The current stage (`should_not_be_installed` for none).
    pub stage: Stage,
    /// How many rows are there.
    pub rows: usize,
}

/// One opkg's rows, counted (`opm status --summary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageSummary {
    /// The opkg.
    pub package: String,
    /// Its rows.
    pub rows: usize,
    /// Its rows in error.
    pub errors: usize,
    /// Its rows being worked.
    pub running: usize,
    /// Its rows per current stage, in stage order.
    pub stages: Vec<StageCount>,
}

/// The rows counted per opkg and stage, with totals: what a large
/// cluster's status fits on a screen as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSummary {
    /// Per opkg, by name.
    pub packages: Vec<PackageSummary>,
    /// Every row counted.
    pub rows: usize,
    /// The rows in error.
    pub errors: usize,
    /// The rows being worked.
    pub running: usize,
    /// The rollouts that hold nodes back (SPEC §1.10), newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<RolloutLine>,
}

impl StatusSummary {
    /// Counts `rows`.
    pub fn of(rows: &[StatusRow]) -> StatusSummary {
        let mut by_package: BTreeMap<&str, Vec<&StatusRow>> = BTreeMap::new();
        for row in rows {
            by_package.entry(&row.package).or_default().push(row);
        }
        let packages: Vec<PackageSummary> = by_package
            .into_iter()
            .map(|(package, rows)| {
                let mut stages: BTreeMap<Stage, usize> = BTreeMap::new();
                for row in &rows {
                    *stages
                        .entry(row.current.unwrap_or(Stage::ShouldNotBeInstalled))
                        .or_default() += 1;
                }
                PackageSummary {
                    package: package.to_owned(),
                    rows: rows.len(),
                    errors: rows.iter().filter(|row| row.status == "error").count(),
                    running: rows.iter().filter(|row| row.status == "running").count(),
                    stages: stages
                        .into_iter()
                        .map(|(stage, rows)| StageCount { stage, rows })
                        .collect(),
                }
            })
            .collect();
        StatusSummary {
            rows: rows.len(),
            errors: packages.iter().map(|p| p.errors).sum(),
            running: packages.iter().map(|p| p.running).sum(),
            packages,
            rollouts: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NameKind;

    #[test]
    fn a_summary_counts_rows_per_opkg_and_stage_with_totals() {
        let row = |package: &str, current, status: Status| {
            StatusRow::of(
                &Row {
                    target: Target::node(Name::new(NameKind::Node, "n1").unwrap()),
                    package: Name::new(NameKind::Opkg, package).unwrap(),
                    requested: Stage::Finished,
                    current,
                    status,
                    version: crate::RowVersion::default(),
                },
                None,
            )
        };
        let error = || Status::Error {
            message: "boom".to_owned(),
        };
        let rows = [
            row("slurm", Some(Stage::Finished), Status::Ok),
            row("slurm", Some(Stage::Finished), Status::Ok),
            row("slurm", None, error()),
            row("munge", Some(Stage::RunConfigurator), Status::Ok),
        ];
        let summary = StatusSummary::of(&rows);
        assert_eq!((summary.rows, summary.errors, summary.running), (4, 1, 0));
        let names: Vec<&str> = summary
            .packages
            .iter()
            .map(|p| p.package.as_str())
            .collect();
        assert_eq!(names, ["munge", "slurm"]);
        let slurm = &summary.packages[1];
        assert_eq!((slurm.rows, slurm.errors), (3, 1));
        assert_eq!(
            slurm.stages,
            [
                StageCount {
                    stage: Stage::ShouldNotBeInstalled,
                    rows: 1
                },
                StageCount {
                    stage: Stage::Finished,
                    rows: 2
                }
            ]
        );
    }
}

/// Whether a body asks for no rollout (the field is then left out).
fn no_rollout(policy: &RolloutPolicy) -> bool {
    !policy.is_set()
}

/// Which rollout `opm rollout resume|abort` means: the one given, or the
/// only one that holds nodes back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutBody {
    /// The rollout's id, as `opm rollout status` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

/// One rollout as `opm rollout status`, `opm status --summary` and
/// `GET /v1/rollouts` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutLine {
    /// Its id.
    pub id: i64,
    /// What it rolls out: "motd 1:3.2-1".
    pub label: String,
    /// The opkgs whose node rows it holds back.
    pub packages: Vec<String>,
    /// The operator's limits.
    pub policy: RolloutPolicy,
    /// `running`, `paused`, `aborted` or `done`.
    pub state: RolloutState,
    /// Why it paused; empty otherwise.
    pub message: String,
    /// Whether a later command for its opkgs replaced it.
    pub replaced: bool,
    /// Member nodes.
    pub nodes: usize,
    /// Members with nothing to do yet (no rows of its opkgs).
    pub idle: usize,
    /// Members not started, with work.
    pub waiting: usize,
    /// Members started, with work left.
    pub running: usize,
    /// Members done.
    pub finished: usize,
    /// Members with a row of its opkgs in error.
    pub failed: usize,
    /// When it was created (UTC).
    pub created: String,
    /// When it was created, in milliseconds since the epoch.
    pub created_ms: i64,
    /// When its state last changed, in milliseconds since the epoch.
    pub changed_ms: i64,
}
