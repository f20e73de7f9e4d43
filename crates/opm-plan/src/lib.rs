//! The pure lifecycle planner of opm: given a row and the facts around it,
//! decide what to do next. The entry point is [`decide`]`(&Row, &Context)
//! -> Decision`: perform one stage (with its ordered [`Action`] list),
//! change other rows' requests (orchestration), release a crashed attempt's
//! expired lease, stay idle, or stay blocked with a reason that names what
//! it waits for. [`Cluster`] gathers a row's
//! [`Context`] from the whole cluster's rows; [`legal_step`] (from `opm-model`) is
//! the stage ladder the store, the engine and the simulator share; [`assign_clients`] and
//! [`conflicts_on_target`] are the cross-row rules of SPEC §1.4;
//! [`upgrade_verdict`] and [`with_dependencies`] decide upgrades, [`verify`]
//! and [`repair_from`] drift (§1.9); [`decide_rollout`] which nodes of a
//! rollout start now (§1.10).
//!
//! No I/O, no clock, no processes: `opm-model` is the only neighbour below;
//! `opm-engine` carries the decisions out and `opm` prints them (`opm plan`).

mod actions;
mod cluster;
mod context;
mod cycle;
mod decision;
mod deps;
pub mod drain;
mod error;
mod orchestrate;
mod resume;
mod rollout;
mod upgrade;
mod verify;

pub use actions::{
    Action, ImageRef, RootRef, RowRole, ScriptArg, stage_actions, uninstall_actions,
    upgrade_actions,
};
pub use cluster::Cluster;
pub use context::{Context, Dependency, ImageRow};
pub use cycle::{Cycle, cycle_reachable, cycle_through, first_cycle};
pub use decision::{Blocked, Decision, Idle, Seen, Work, decide, gate_blocker};
pub use deps::{Conflicts, conflicts_on_target, dependency_blocker, holds_or_wants};
pub use error::PlanError;
pub use opm_model::{Step, Unfinished, legal_step, next_step};
pub use orchestrate::{RequestChange, assign_clients, request_down};
pub use resume::{Carried, Resume, resume};
pub use rollout::{
    Held, MemberState, RolloutDecision, RolloutView, abort_rollout, decide_rollout, held_reason,
    resume_rollout, waiting_reason,
};
pub use upgrade::{UpgradeSkip, UpgradeVerdict, upgrade_verdict, with_dependencies};
pub use verify::{
    Difference, Drift, Expected, Unjudged, Verdict, expected_packages, packages_to_ask,
    repair_from, same_version, verify,
};
