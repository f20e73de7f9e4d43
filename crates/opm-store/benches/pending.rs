//! Compares `pending_rows` on a small converged cluster (10 nodes × 4
//! opkgs) with a large one (10,000 nodes × 40 opkgs = 400,000 rows), each
//! with the same 4 rows needing work, and prints the ratio; a full walk of
//! the large cluster's rows is printed for contrast. Numbers only, no
//! assertions: `cargo bench -p opm-store --bench pending`.

// Setup failures are bench bugs, not input to handle.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/bulk.rs"]
mod bulk;

use std::time::{Duration, Instant};

use opm_model::{Name, NameKind, Target};
use opm_store::{OpenMode, Scope, SqliteStore, Store};

/// Calls per measurement round.
const CALLS: u32 = 500;
/// Rounds; the median round is reported.
const ROUNDS: usize = 7;
/// Rows needing work in each cluster.
const PENDING: i64 = 4;

async fn cluster(dir: &std::path::Path, nodes: i64, opkgs: i64) -> SqliteStore {
    let path = dir.join(format!("opm-{nodes}x{opkgs}.db"));
    let store = SqliteStore::open(&path, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    store
        .register_head_node(&Name::new(NameKind::Node, "head").unwrap())
        .await
        .unwrap();
    bulk::converged_cluster(&path, nodes, opkgs, PENDING).await;
    store
}

/// The median time of one call of `scope`'s pending query.
async fn per_call(store: &SqliteStore, scope: &Scope) -> Duration {
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..CALLS {
            let page = store.pending_rows(scope, None, 100).await.unwrap();
            std::hint::black_box(page);
        }
        rounds.push(start.elapsed() / CALLS);
    }
    rounds.sort();
    rounds[ROUNDS / 2]
}

/// Time to page through every row, as a pass without the index would.
async fn full_walk(store: &SqliteStore) -> (Duration, usize) {
    let start = Instant::now();
    let mut after = None;
    let mut seen = 0;
    loop {
        let page = store.all_rows(after, 10_000).await.unwrap();
        seen += page.rows.len();
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    (start.elapsed(), seen)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let small = cluster(dir.path(), 10, 4).await;
        let large = cluster(dir.path(), 10_000, 40).await;
        let node = Target::node(Name::new(NameKind::Node, "n000001").unwrap());
        for (label, scope) in [
            ("all targets", Scope::All),
            ("one node", Scope::Target(node)),
        ] {
            let small_time = per_call(&small, &scope).await;
            let large_time = per_call(&large, &scope).await;
            println!(
                "pending_rows ({label}): 10x4 (40 rows) {small_time:?}/call, \
                 10000x40 (400000 rows) {large_time:?}/call, ratio {:.2}",
                large_time.as_secs_f64() / small_time.as_secs_f64()
            );
        }
        let (walk, rows) = full_walk(&large).await;
        println!("all_rows walk of the large cluster: {rows} rows in {walk:?}");
    });
}
