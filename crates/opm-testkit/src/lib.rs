//! Shared test helpers for opm. Today: a PostgreSQL server for the store's
//! tests ([`postgres`]), the one CI starts (`OPM_TEST_POSTGRES`) or, when
//! that is unset, a throwaway cluster this test process starts and that
//! stops itself once the process is gone. Each test then takes its own
//! fresh database ([`TestPostgres::fresh_database`]) so tests run in
//! parallel. And opkg scripts that tell whether two of them overlapped
//! ([`overlap`]). And whether an outside tool is installed, said as a
//! `SKIPPED` line when it is not, and a tool's output ([`tools`]); and
//! empty dpkg and apt roots for those tools to install into ([`sandbox`]);
//! where the shared corpus directory is ([`shared`]); and throwaway gpg
//! signing keys ([`gpg`]); and a head node driven through the real `opm`
//! binary, with its server and agents ([`context`]), and the opkg sources
//! its tests write ([`source`]).
//! Neighbours: used by `opm-store`'s integration tests (PostgreSQL), by
//! `opm-engine`'s and `opm`'s (scripts side by side) and by `opm-opkg`'s
//! and `opm`'s (dpkg, rpm, gpg and the like).

#![allow(
    clippy::disallowed_methods,
    reason = "the test kit starts the tools tests need (PostgreSQL, gpg, sh) as processes of its own"
)]

pub mod context;
mod error;
pub mod gpg;
pub mod overlap;
mod postgres;
pub mod sandbox;
pub mod shared;
pub mod source;
pub mod tools;

pub use context::{Agent, Outcome, Server, TestContext};
pub use error::TestkitError;
pub use postgres::{TestPostgres, postgres};
