//! The network side of opm: the head node's HTTP API and the node agent.
//!
//! The server ([`server::serve`]) runs the head node's reconcile passes
//! continuously and serves `/v1/` ([`router`]): the agents' API (long-poll
//! for work, stage start and finish reports, heartbeats; [`work`] decides
//! what a node gets, with the same planner and leases as `opm run`; [`wake`]
//! wakes a waiting poll only when its node has work) and the tools' API
//! (thin adapters over `opm_engine::operate`; [`remote`] is the same
//! operations called over HTTP, for `opm --remote`); [`handouts`] remembers what
//! each node's poll got, so a start report is taken only for that; [`drain`]
//! drains a node through the scheduler before its packages change. Every call carries a bearer
//! token ([`auth`]); only hashes are stored. The agent ([`agent`])
//! polls with jitter, carries its stages out with `opm-engine`'s actor into
//! its root, and keeps finish reports in a spool file until the server has
//! them. Nodes join by enrolment ([`enrol`]: a one-use file the head node
//! writes; [`credentials`]: the agent's first contact trades its token for
//! its own), and [`tls_init`] makes a small CA for a site without one.
//! [`metrics`] is what `/metrics` tells Prometheus; `/healthz` and
//! `/readyz` answer probes.
//! Neighbours: `opm-store` below, `opm-engine` for the passes and the
//! actions, the `opm` binary's `opm server`, `opm agent` and `opm run`.

pub mod agent;
pub mod auth;
pub mod client;
pub mod contact;
pub mod credentials;
pub mod drain;
pub mod enrol;
mod error;
pub mod files;
mod handlers;
pub mod handouts;
pub mod metrics;
pub mod remote;
pub mod router;
pub mod server;
pub mod spool;
pub mod tls_init;
pub mod wake;
pub mod work;

pub use error::{AgentError, ApiFailure};
