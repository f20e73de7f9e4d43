//! One `Engine::run` pass over a converged cluster, in process: 10 nodes ×
//! 4 opkgs next to 10,000 nodes × 40 opkgs (400,040 rows), median of
//! ROUNDS passes each. A converged pass reads only the pending-row index,
//! so the two should cost about the same. Numbers only, no assertions:
//! `cargo bench -p opm-engine --bench converged` (needs sqlite3 for the
//! bulk load; the process-level twin is `benches/run_converged.sh`).

#![allow(
    clippy::disallowed_methods,
    reason = "the benchmark builds its database with the sqlite3 tool, as an admin would"
)]
// Setup failures are bench bugs, not input to handle.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opm_engine::{Engine, EngineConfig, Identity, LineReporter, SystemClock};
use opm_model::{Name, NameKind, Role};
use opm_native::script::ScriptRunner;
use opm_native::{Backend, Options};
use opm_store::{OpenMode, SqliteStore, Store};

const ROUNDS: usize = 51;

async fn cluster(dir: &Path, nodes: u32, opkgs: u32) -> Arc<SqliteStore> {
    let path = dir.join(format!("{nodes}x{opkgs}.db"));
    let store = SqliteStore::open(&path, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    store
        .register_head_node(&Name::new(NameKind::Node, "head").unwrap())
        .await
        .unwrap();
    store.close().await;
    let sql = format!(
        "BEGIN;
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {nodes})
  INSERT INTO nodes (name) SELECT printf('n%06d', i) FROM seq;
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {opkgs})
  INSERT INTO opkgs (name, version, summary, source, imported_at_ms)
  SELECT printf('pkg%03d', i), '1.0-1', 'bulk', '/srv/opkgs', 0 FROM seq;
INSERT INTO rows (node_id, opkg_id, requested, current, status, updated_ms)
  SELECT n.id, o.id, 8, 8, 'ok', 0 FROM nodes n CROSS JOIN opkgs o;
UPDATE cluster SET phase = 'complete';
COMMIT;
ANALYZE;"
    );
    let status = Command::new("sqlite3")
        .arg(&path)
        .arg(sql)
        .status()
        .unwrap();
    assert!(status.success());
    Arc::new(SqliteStore::open(&path, OpenMode::Existing).await.unwrap())
}

async fn median_pass(store: Arc<SqliteStore>, root: PathBuf) -> Duration {
    let config = EngineConfig {
        identity: Identity {
            role: Role::Server,
            name: Name::new(NameKind::Node, "head").unwrap(),
        },
        own_root: root,
        jobs: 2,
        side_by_side: false,
        lease_ttl: Duration::from_secs(60),
        lease_wait: Duration::from_secs(0),
        script_timeout: Duration::from_secs(60),
        host: "bench".to_owned(),
        proc_dir: PathBuf::from("/proc"),
    };
    let engine = Arc::new(
        Engine::new(
            store,
            Arc::from(Backend::Dpkg.manager(Options::new(Vec::new()))),
            ScriptRunner::default(),
            Arc::new(SystemClock),
            Arc::new(LineReporter::new(std::io::sink())),
            config,
        )
        .unwrap(),
    );
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let report = engine.run().await.unwrap();
        times.push(start.elapsed());
        assert_eq!(report.passed, 0);
    }
    times.sort();
    times[ROUNDS / 2]
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let small = cluster(dir.path(), 10, 4).await;
        let large = cluster(dir.path(), 10_000, 40).await;
        let root = dir.path().to_path_buf();
        let small_pass = median_pass(small, root.clone()).await;
        let large_pass = median_pass(large, root).await;
        println!(
            "Engine::run on a converged cluster, median of {ROUNDS}: \
             10x4 {small_pass:?}, 10000x40 {large_pass:?} (ratio {:.2})",
            large_pass.as_secs_f64() / small_pass.as_secs_f64()
        );
    });
}
