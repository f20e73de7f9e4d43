//! The state store of opm: nodes, images, groups, imported opkgs, rows,
//! leases with fencing tokens, attempt history, the cluster phase,
//! configuration values, API tokens and node enrolments (hashes only).
//!
//! The entry point is the [`Store`] trait; [`SqliteStore::open`] gives the
//! SQLite implementation, [`PostgresStore::open`] the PostgreSQL one (each
//! with its own migrations folder; the SQL of both lives once in the concern
//! modules, through `db.rs`). Only this crate names sqlx. Neighbours:
//! `opm-model` below (every type at the API), `opm-engine` and the `opm` CLI
//! above.

mod any;
mod audit;
mod batch;
mod bulk;
mod cluster;
mod conns;
mod counts;
mod db;
mod drains;
mod drift;
mod enrolments;
mod error;
mod facts;
mod fused;
mod history;
mod leases;
mod lite;
mod locks;
mod nodes;
mod opkgs;
mod postgres;
mod redact;
mod release;
mod rollouts;
mod rows;
mod schema;
mod sqlite;
mod steps;
mod store;
mod store_impl;
mod tokens;
mod upgrades;

pub use any::AnyStore;
pub use audit::{AuditAction, AuditEntry};
pub use batch::{Batch, Change};
pub use bulk::Population;
pub use counts::{RowCount, RowCounts};
pub use drift::DriftMark;
pub use error::{Result, StoreError};
pub use facts::Facts;
pub use history::{
    AttemptId, AttemptResult, AttemptTally, Event, HistoryEntry, HistoryFilter, MAX_OUTPUT_BYTES,
    Outcome, RowAfter, cap_output,
};
pub use nodes::{AgentContact, DEFAULT_GROUP, Image, NewNode, Node};
pub use opkgs::{Opkg, OpkgImport};
pub use postgres::PostgresStore;
pub use redact::redact_url;
pub use rollouts::{NewRollout, Rollout, RolloutMember};
pub use rows::{PendingNode, RowId, RowPage, Scope, StoredRow};
pub use schema::OpenMode;
pub use sqlite::SqliteStore;
pub use store::Store;
pub use tokens::TokenSubject;
pub use upgrades::RowUpgrade;
