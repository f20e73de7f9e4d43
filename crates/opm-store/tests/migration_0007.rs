//! Migration 0007 over a database that lived under 0006: rows keep their
//! ids, states and history links, rows past the bottom are given the only
//! version opm knew of, every imported version is recorded, the foreign
//! keys and the pending indexes are still there, and the status CHECK
//! admits `drifted` and nothing unknown; on both backends.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use std::borrow::Cow;
use std::path::Path;

use common::{node, opkg};
use opm_model::{Stage, Status};
use opm_store::{OpenMode, PostgresStore, SqliteStore, Store};
use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection, Executor};

/// The migrations of `dir` before 0007.
async fn before_0007(dir: &str) -> Migrator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut migrator = Migrator::new(path).await.unwrap();
    let older: Vec<_> = migrator
        .migrations
        .iter()
        .filter(|migration| migration.version < 7)
        .cloned()
        .collect();
    migrator.migrations = Cow::Owned(older);
    migrator
}

/// What a 0006 database held: a head node, a node with a finished row and
/// its history, an image with a row in error.
const OLD_DATA: &str = "
    INSERT INTO nodes (id, name, head) VALUES (1, 'head', 1), (2, 'n1', 0);
    INSERT INTO images (id, name, root) VALUES (1, 'img', '/var/lib/opm/images/img');
    INSERT INTO opkgs (id, name, version, summary, source, imported_at_ms)
        VALUES (1, 'motd', '1:3.1-2', 'message of the day', '/srv/motd', 5);
    INSERT INTO rows (id, node_id, image_id, opkg_id, requested, current, status, message, updated_ms)
        VALUES (7, 2, NULL, 1, 8, 8, 'ok', '', 10),
               (8, NULL, 1, 1, 8, NULL, 'error', 'boom', 11);
    INSERT INTO history (id, row_id, target_kind, target_name, opkg, event, stage, result, started_ms)
        VALUES (3, 7, 'node', 'n1', 'motd', 'attempt', 8, 'passed', 9);
";

/// Checks what 0007 made of [`OLD_DATA`] through the store.
async fn check_store(store: &impl Store) {
    let finished = store.row(&node("n1"), &opkg("motd")).await.unwrap();
    assert_eq!(finished.id.0, 7);
    assert_eq!(finished.row.current, Some(Stage::Finished));
    assert_eq!(finished.row.version.reached.as_deref(), Some("1:3.1-2"));
    assert_eq!(finished.row.version.work.as_deref(), Some("1:3.1-2"));
    assert_eq!(finished.wanted_version.as_deref(), Some("1:3.1-2"));
    let failed = store.row_by_id(opm_store::RowId(8)).await.unwrap();
    assert_eq!(
        failed.row.status,
        Status::Error {
            message: "boom".to_owned()
        }
    );
    assert_eq!(failed.row.version.reached, None);
    let opkgs = store.opkgs().await.unwrap();
    assert_eq!(opkgs[0].versions, ["1:3.1-2"]);
    assert_eq!(opkgs[0].wanted_version, "1:3.1-2");
    let attempt = store.attempt(opm_store::AttemptId(3)).await.unwrap();
    assert_eq!(attempt.target, node("n1"));
}

#[tokio::test]
async fn sqlite_rebuilds_rows_keeping_history_links_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        before_0007("migrations/sqlite")
            .await
            .run_direct(None, &mut conn, false)
            .await
            .unwrap();
        conn.execute(OLD_DATA).await.unwrap();
        conn.close().await.unwrap();
    }
    let store = SqliteStore::open(&path, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    check_store(&store).await;
    drop(store);

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    conn.execute("PRAGMA foreign_keys = ON").await.unwrap();
    let broken: Vec<(String,)> = sqlx::query_as("SELECT \"table\" FROM pragma_foreign_key_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    let indexes: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rows' \
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let indexes: Vec<&str> = indexes.iter().map(|(name,)| name.as_str()).collect();
    assert_eq!(
        indexes,
        [
            "rows_image_opkg",
            "rows_lease",
            "rows_node_opkg",
            "rows_opkg",
            "rows_pending",
            "rows_pending_image",
            "rows_pending_node"
        ]
    );
    let linked: (Option<i64>,) = sqlx::query_as("SELECT row_id FROM history WHERE id = 3")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(linked, (Some(7),), "the rebuild cut history off its row");
    check_constraints(&mut conn).await;
    // The foreign keys hold on the new table: a node's removal takes its
    // rows and leaves their history without a row, as before.
    conn.execute("DELETE FROM nodes WHERE name = 'n1'")
        .await
        .unwrap();
    let left: (Option<i64>,) = sqlx::query_as("SELECT row_id FROM history WHERE id = 3")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, (None,));
}

/// `drifted` is a status now; an unknown one is still refused.
async fn check_constraints<C>(conn: &mut C)
where
    for<'c> &'c mut C: Executor<'c>,
{
    (&mut *conn)
        .execute(
            "UPDATE rows SET status = 'drifted', message = 'opkg-motd-client missing' WHERE id = 8",
        )
        .await
        .unwrap();
    let Err(refused) = (&mut *conn)
        .execute("UPDATE rows SET status = 'lost' WHERE id = 8")
        .await
    else {
        panic!("an unknown status was stored");
    };
    assert!(
        refused.to_string().to_lowercase().contains("check"),
        "{refused}"
    );
}

#[tokio::test]
async fn postgres_adds_the_columns_and_the_drifted_status() {
    let Some(server) = opm_testkit::postgres() else {
        return;
    };
    let url = server.fresh_database().await.unwrap();
    {
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        before_0007("migrations/postgres")
            .await
            .run_direct(None, &mut conn, false)
            .await
            .unwrap();
        sqlx::raw_sql(AssertSqlSafe(OLD_DATA))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let store = PostgresStore::open(&url, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    check_store(&store).await;
    store.close().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    check_constraints(&mut conn).await;
    let drifted = PostgresStore::open(&url, OpenMode::Existing).await.unwrap();
    assert_eq!(
        drifted
            .row_by_id(opm_store::RowId(8))
            .await
            .unwrap()
            .row
            .status,
        Status::Drifted {
            message: "opkg-motd-client missing".to_owned()
        }
    );
    drifted.close().await;
}
