//! What the state-changing commands share: the clock, a runtime for the
//! async store, and the snapshot of the whole cluster
//! (`opm_engine::requests`), so `install`, `remove`, `request` and `node
//! add` decide their request changes with the same rules the engine and
//! the tools' API run by, check them completely, and only then write.

use std::future::Future;

pub use opm_engine::requests::{RequestError, Snapshot, requests};
use opm_store::{AnyStore, Batch, Change, Store, StoredRow};

use crate::exit::bad_input;
use crate::settings::store_error;

/// Rows read per page when loading every row.
const PAGE: u32 = 1000;

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

/// Every row, in id order.
pub async fn all_rows(store: &AnyStore) -> anyhow::Result<Vec<StoredRow>> {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = store.all_rows(after, PAGE).await.map_err(store_error)?;
        rows.extend(page.rows);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(rows),
        }
    }
}

/// A refused request is bad input (exit 2); a store failure as the store says.
pub fn request_error(error: RequestError) -> anyhow::Error {
    match error {
        RequestError::Store(error) => store_error(error),
        refusal => bad_input(refusal.to_string()),
    }
}

/// Reads the whole state (see [`Snapshot::load`]).
pub async fn load(store: &AnyStore) -> anyhow::Result<Snapshot> {
    Snapshot::load(store).await.map_err(request_error)
}

/// Writes `changes` in one transaction: all of them or none.
pub async fn apply(store: &AnyStore, changes: Vec<Change>) -> anyhow::Result<()> {
    store
        .apply(&Batch { changes }, now_ms())
        .await
        .map_err(store_error)
}
