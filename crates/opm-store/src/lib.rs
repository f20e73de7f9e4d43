//! The state store of opm: rows, history, nodes, images, phases, leases.
//!
//! Filled by the engine issue (SQLite) and the PostgreSQL issue; only this
//! crate will name sqlx. Neighbours: `opm-model` below, `opm-engine` and
//! `opm-api` above.
