//! The network side of opm: the head node's HTTP API and the node agent.
//!
//! The server ([`server::serve`]) runs the head node's reconcile passes
//! continuously and serves `/v1/` ([`router`]): the agents' API (long-poll
//! for work, stage start and finish reports, heartbeats; [`work`] decides
//! what a node gets, with the same planner and leases as `opm run`; [`wake`]
//! wakes a waiting poll only when its node has work) and the tools' API
//! (thin adapters over `opm_engine::operate`; [`remote`] is the same
//! operations called over HTTP, for `opm --remote`); [`handouts`] remembers what
//! each node's poll got, so a start report is taken only for that. Every call carries a bearer
//! token ([`auth`]); only hashes are stored. The agent ([`agent`])
//! polls with jitter, carries its stages out with `opm-engine`'s actor into
//! its root, and keeps finish reports in a spool file until the server has
//! them. Neighbours: `opm-store` below, `opm-engine` for the passes and the
//! actions, the `opm` binary's `opm server`, `opm agent` and `opm run`.

pub mod agent;
pub mod auth;
pub mod client;
pub mod contact;
mod error;
mod handlers;
pub mod handouts;
pub mod remote;
pub mod router;
pub mod server;
pub mod spool;
pub mod wake;
pub mod work;

pub use error::{AgentError, ApiFailure};
