//! Shared test helpers for opm. Today: a PostgreSQL server for the store's
//! tests ([`postgres`]), the one CI starts (`OPM_TEST_POSTGRES`) or, when
//! that is unset, a throwaway cluster this test process starts and that
//! stops itself once the process is gone. Each test then takes its own
//! fresh database ([`TestPostgres::fresh_database`]) so tests run in
//! parallel. And opkg scripts that tell whether two of them overlapped
//! ([`overlap`]). Neighbours: used by `opm-store`'s integration tests
//! (PostgreSQL) and by `opm-engine`'s and `opm`'s (scripts side by side).

mod error;
pub mod overlap;
mod postgres;

pub use error::TestkitError;
pub use postgres::{TestPostgres, postgres};
