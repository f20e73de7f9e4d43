//! Shared test helpers for opm. Today: a PostgreSQL server for the store's
//! tests ([`postgres`]), the one CI starts (`OPM_TEST_POSTGRES`) or, when
//! that is unset, a throwaway cluster this test process starts and that
//! stops itself once the process is gone. Each test then takes its own
//! fresh database ([`TestPostgres::fresh_database`]) so tests run in
//! parallel. Neighbours: used by `opm-store`'s integration tests.

mod error;
mod postgres;

pub use error::TestkitError;
pub use postgres::{TestPostgres, postgres};
