//! The reconcile runtime of opm: one pass loads the rows that need work in
//! this machine's scope ([`load`]), asks `opm-plan` what to do with each,
//! leases each target (fencing tokens; a dead local owner's lease is taken
//! over at once, [`owner`]), carries the stages out through `opm-native`
//! (package managers into the right root, scripts per SPEC §1.7), and
//! records every attempt with its row change through `opm-store` — again
//! until nothing more can be done now.
//!
//! Entry points: [`Engine::run`], and [`operate`], the operator's actions
//! and views (`opm plan` among them) for the CLI and the tools' API. The
//! decisions that are not I/O live in plain functions: [`order`] (dependency
//! order on a target, install batches), [`config_values`] (SPEC §1.8),
//! [`retry`] (the transient error policy); [`upgrade`] starts upgrades
//! (SPEC §1.9). Progress goes through the
//! [`Reporter`] trait. Time comes from an injected [`Clock`]. Neighbours:
//! `opm-plan` decides, `opm-store` records, `opm-native` acts; the `opm`
//! binary's `opm run` and `opm plan` drive this crate.

pub mod act;
pub mod clock;
pub mod config_values;
mod engine;
mod error;
pub mod held;
pub mod load;
pub mod operate;
pub mod order;
pub mod output;
pub mod owner;
pub mod report;
pub mod requests;
pub mod retry;
pub mod rollout;
pub mod steps;
pub mod triage;
pub mod upgrade;
pub mod verify;

pub use act::{Actor, Failure, PACKAGES_DIR, StageRun, tail_lines};
pub use clock::{Clock, ManualClock, SystemClock, parse_since};
pub use engine::{Engine, EngineConfig, RunReport, Verdict, Waiting};
pub use error::EngineError;
pub use load::Identity;
pub use output::Output;
pub use report::{Event, LineReporter, Reporter, TracingReporter};
