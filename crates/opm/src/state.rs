//! What commands that still talk to the store themselves share (`opm
//! opkg import`, `opm init`, ...): the clock, a runtime for the async
//! store, and one-transaction writes. The tools' commands go through
//! [`crate::operator`] instead.

use std::future::Future;

use opm_model::suggest::{closest, did_you_mean};
use opm_store::{AnyStore, Batch, Change, Store, StoreError};

use crate::exit::{BadInput, bad_input};
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

/// [`store_error`], with "did you mean" when `error` is about an unknown
/// node or opkg close to one `store` knows (for the commands that still
/// talk to the store; the operations add the same hint themselves).
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
    let error = store_error(error);
    match hint {
        Some((unknown, meant)) if error.downcast_ref::<BadInput>().is_some() => {
            bad_input(did_you_mean(&error.to_string(), &unknown, &meant))
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use opm_model::suggest::did_you_mean;

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
