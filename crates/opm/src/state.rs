//! What the state-changing commands share: the clock, a runtime for the
//! async store, and the snapshot of the whole cluster
//! (`opm_engine::requests`), so `install`, `remove`, `request` and `node
//! add` decide their request changes with the same rules the engine and
//! the tools' API run by, check them completely, and only then write.

use std::future::Future;

pub use opm_engine::requests::{RequestError, Snapshot, requests};
use opm_model::Name;
use opm_model::suggest::closest;
use opm_store::{AnyStore, Batch, Change, Store, StoreError, StoredRow};

use crate::exit::{BadInput, bad_input};
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

/// [`request_error`], with "did you mean" when the request names an opkg
/// or node `snapshot` does not know but one close to it.
pub fn request_error_in(error: RequestError, snapshot: &Snapshot) -> anyhow::Error {
    let hint = match &error {
        RequestError::UnknownOpkg(name) => {
            closest(name.as_str(), snapshot.opkgs.keys().map(Name::as_str))
                .map(|meant| (name.to_string(), meant.to_owned()))
        }
        RequestError::UnknownNode(name) => closest(
            name.as_str(),
            snapshot
                .cluster
                .nodes
                .keys()
                .chain(std::iter::once(&snapshot.cluster.head))
                .map(Name::as_str),
        )
        .map(|meant| (name.to_string(), meant.to_owned())),
        _ => None,
    };
    with_hint(request_error(error), hint)
}

/// [`store_error`], with "did you mean" when `error` is about an unknown
/// node or opkg close to one `store` knows.
pub async fn store_error_in(store: &AnyStore, error: StoreError) -> anyhow::Error {
    let meant = match &error {
        StoreError::UnknownNode { name } => store.nodes().await.ok().and_then(|nodes| {
            closest(name, nodes.iter().map(|node| node.name.as_str())).map(str::to_owned)
        }),
        StoreError::UnknownOpkg { name } => store.opkgs().await.ok().and_then(|opkgs| {
            closest(name, opkgs.iter().map(|opkg| opkg.import.name.as_str())).map(str::to_owned)
        }),
        _ => None,
    };
    let hint = match &error {
        StoreError::UnknownNode { name } | StoreError::UnknownOpkg { name } => {
            meant.map(|meant| (name.clone(), meant))
        }
        _ => None,
    };
    with_hint(store_error(error), hint)
}

/// `error` with " (did you mean 'MEANT'?)" after the unknown name it
/// quotes, when `hint` has (unknown, meant).
fn with_hint(error: anyhow::Error, hint: Option<(String, String)>) -> anyhow::Error {
    match hint {
        Some((unknown, meant)) if error.downcast_ref::<BadInput>().is_some() => {
            bad_input(did_you_mean(&error.to_string(), &unknown, &meant))
        }
        _ => error,
    }
}

/// `message` with " (did you mean 'MEANT'?)" after its first `'UNKNOWN'`
/// (at the end when it does not quote it).
pub fn did_you_mean(message: &str, unknown: &str, meant: &str) -> String {
    let quoted = format!("'{unknown}'");
    let hint = format!(" (did you mean '{meant}'?)");
    match message.find(&quoted) {
        Some(at) => {
            let end = at + quoted.len();
            format!("{}{hint}{}", &message[..end], &message[end..])
        }
        None => format!("{message}{hint}"),
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

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn the_hint_follows_the_unknown_name() {
        assert_eq!(
            did_you_mean("unknown node 'nod1'; see 'opm node list'", "nod1", "node1"),
            "unknown node 'nod1' (did you mean 'node1'?); see 'opm node list'"
        );
        assert_eq!(
            did_you_mean("no such name", "nod1", "node1"),
            "no such name (did you mean 'node1'?)"
        );
    }
}
