//! What commands that still talk to the store themselves share (`opm
//! opkg import`, `opm init`, ...): the clock, a runtime for the async
//! store, and one-transaction writes. The tools' commands go through
//! [`crate::operator`] instead.

use std::future::Future;

use opm_store::{AnyStore, Batch, Change, Store};

use crate::settings::store_error;

/// Milliseconds since the epoch, read once per command at the edge.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs one command's async body on a single-threaded runtime: a CLI
/// call does one thing at a time against the store.
pub fn block_on<T>(body: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(body)
}

/// Writes `changes` in one transaction: all of them or none.
pub async fn apply(store: &AnyStore, changes: Vec<Change>) -> anyhow::Result<()> {
    store
        .apply(&Batch { changes }, now_ms())
        .await
        .map_err(store_error)
}
