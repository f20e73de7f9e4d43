//! Bulk-loads a converged cluster straight through SQL, for index and
//! benchmark checks that need hundreds of thousands of rows quickly.

use std::path::Path;

use sqlx::Connection;

/// Adds `nodes` compute nodes and `opkgs` opkgs with every (node, opkg) row
/// converged at `finished`, in one transaction; then makes `pending` rows
/// (spread over the id range) need work again.
pub async fn converged_cluster(path: &Path, nodes: i64, opkgs: i64, pending: i64) {
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) \
         INSERT INTO nodes (name) SELECT printf('n%06d', i) FROM seq",
    )
    .bind(nodes)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO group_members (group_id, node_id) \
         SELECT g.id, n.id FROM groups g, nodes n WHERE g.name = 'oscar_clients' AND n.head = 0",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?) \
         INSERT INTO opkgs (name, version, summary, source, imported_at_ms) \
         SELECT printf('pkg%03d', i), '1.0-1', 'bulk', '/srv/opkgs', 0 FROM seq",
    )
    .bind(opkgs)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO rows (node_id, opkg_id, requested, current, status, updated_ms) \
         SELECT n.id, o.id, 8, 8, 'ok', 0 FROM nodes n CROSS JOIN opkgs o WHERE n.head = 0 \
         ORDER BY n.id, o.id",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM rows")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let step = (total / pending.max(1)).max(1);
    sqlx::query("UPDATE rows SET current = 4 WHERE id % ? = 0 AND id / ? <= ?")
        .bind(step)
        .bind(step)
        .bind(pending)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
    // Fold the load into the main file, as a long-running store would have.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}
