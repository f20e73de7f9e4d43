//! Opening refuses what is not a writable opm database, and leaves it as it was.

// Helpers build fixed, valid names and temp files; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{fresh, node_name};
use opm_store::{OpenMode, SqliteStore, Store, StoreError};
use sqlx::Connection;

/// Every file next to a database (main, -wal, -shm) with its size and a
/// digest of its bytes, so a failed comparison prints something readable.
fn files(path: &Path) -> Vec<(String, usize, u64)> {
    let dir = path.parent().unwrap();
    let mut found: Vec<(String, usize, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let mut hasher = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&bytes, &mut hasher);
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                bytes.len(),
                std::hash::Hasher::finish(&hasher),
            )
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn a_text_file_is_not_an_opm_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    std::fs::write(&path, "client\noscarnode1\n").unwrap();
    let before = files(&path);
    for mode in [OpenMode::Create, OpenMode::Existing] {
        let error = SqliteStore::open(&path, mode).await.unwrap_err();
        assert!(
            matches!(error, StoreError::NotOpmDatabase { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("opm.db"), "{message}");
        assert!(message.contains("not a SQLite database"), "{message}");
        assert!(error.is_bad_input());
    }
    assert_eq!(files(&path), before);
}

#[tokio::test]
async fn another_programs_sqlite_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO moz_places (url) VALUES ('https://example.invalid')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let before = files(&path);
    for mode in [OpenMode::Create, OpenMode::Existing] {
        let error = SqliteStore::open(&path, mode).await.unwrap_err();
        assert!(
            matches!(error, StoreError::NotOpmDatabase { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("moz_places"), "{error}");
    }
    assert_eq!(files(&path), before);
}

#[tokio::test]
async fn a_read_only_database_is_refused_untouched() {
    let (_dir, path, store) = fresh().await;
    store.close().await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = files(&path);
    for mode in [OpenMode::Create, OpenMode::Existing] {
        let error = SqliteStore::open(&path, mode).await.unwrap_err();
        assert!(matches!(error, StoreError::NotWritable { .. }), "{error:?}");
        assert!(error.to_string().contains("read-only"), "{error}");
    }
    assert_eq!(files(&path), before);
}

#[tokio::test]
async fn a_missing_directory_is_not_writable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("opm.db");
    let error = SqliteStore::open(&path, OpenMode::Create)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotWritable { .. }), "{error:?}");
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert!(!dir.path().join("no-such-dir").exists());
}

#[tokio::test]
async fn existing_mode_wants_an_initialised_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opm.db");
    let error = SqliteStore::open(&path, OpenMode::Existing)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotInitialised { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("opm init"), "{error}");
    assert!(!path.exists(), "nothing was created");

    // Created but never migrated: still not initialised.
    let store = SqliteStore::open(&path, OpenMode::Create).await.unwrap();
    store.close().await;
    let error = SqliteStore::open(&path, OpenMode::Existing)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotInitialised { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let (_dir, path, store) = fresh().await;
    store.close().await;
    let url = format!("sqlite://{}", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let error = SqliteStore::open(&path, OpenMode::Existing)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::SchemaTooNew {
                version: 99990101000000,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn init_twice_is_harmless_and_the_head_node_is_kept() {
    let (_dir, path, store) = fresh().await;
    store.close().await;
    let store = SqliteStore::open(&path, OpenMode::Create).await.unwrap();
    store.migrate().await.unwrap();
    store.register_head_node(&node_name("head")).await.unwrap();
    let other = store.register_head_node(&node_name("other")).await;
    assert!(
        matches!(other, Err(StoreError::HeadNodeMismatch { .. })),
        "{other:?}"
    );
    let nodes = store.nodes().await.unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].name, node_name("head"));
}

/// The POSIX locks this process holds on the file at `path`, as
/// `/proc/locks` lists them (`1: POSIX ADVISORY READ PID MAJ:MIN:INODE ...`).
fn own_locks(path: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(path).unwrap().ino().to_string();
    let pid = std::process::id().to_string();
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&"POSIX")
                && fields.get(4) == Some(&pid.as_str())
                && fields
                    .get(5)
                    .is_some_and(|device| device.rsplit(':').next() == Some(inode.as_str()))
        })
        .map(str::to_owned)
        .collect()
}

/// Closing any descriptor of a file drops all of the process's POSIX locks
/// on it (issue 16, HIGH 1): a second open must not look at the file by
/// plain I/O, or the first store loses the lock that keeps other SQLite
/// clients from deleting its write-ahead log.
#[tokio::test]
async fn a_second_open_in_the_process_keeps_the_first_stores_locks() {
    let (_dir, path, first) = fresh().await;
    first.nodes().await.unwrap();
    let before = own_locks(&path);
    assert!(!before.is_empty(), "an open store holds a lock on its file");
    let second = SqliteStore::open(&path, OpenMode::Existing).await.unwrap();
    assert_eq!(own_locks(&path), before);
    second.close().await;
    assert_eq!(own_locks(&path), before);
    assert_eq!(first.nodes().await.unwrap().len(), 1);
}

/// An error's message with its whole chain of sources, as the CLI prints it.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text
}

/// Issue 16: "database disk image is malformed" appeared three times in
/// one line, once per layer of wrapping.
#[tokio::test]
async fn a_corrupted_database_is_reported_once_per_line() {
    let (_dir, path, store) = fresh().await;
    for name in ["n1", "n2", "n3"] {
        common::add_plain_node(&store, name).await;
    }
    store.close().await;
    let mut bytes = std::fs::read(&path).unwrap();
    let pages = 3 * 4096..6 * 4096;
    assert!(bytes.len() > pages.end, "{} bytes", bytes.len());
    bytes[pages].fill(0xff);
    std::fs::write(&path, bytes).unwrap();
    let error = match SqliteStore::open(&path, OpenMode::Existing).await {
        Err(error) => error,
        Ok(store) => store.nodes().await.unwrap_err(),
    };
    let text = chain(&error);
    assert_eq!(text.matches("malformed").count(), 1, "{text}");
    assert!(text.starts_with("database error: "), "{text}");
    assert!(!error.is_bad_input(), "{text}");
}

#[tokio::test]
async fn a_dropped_postgresql_connection_is_transient_and_the_pool_heals() {
    let Some((url, store)) = common::fresh_postgres().await else {
        return;
    };
    // Several connections in the pool, then every one of them cut by the
    // server, as a PostgreSQL restart would.
    let reads = tokio::join!(store.nodes(), store.nodes(), store.nodes(), store.nodes());
    for read in [reads.0, reads.1, reads.2, reads.3] {
        read.unwrap();
    }
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let cut: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!cut.is_empty(), "no connection of the store was cut");
    // Each call either works or fails as transient trouble (which the
    // engine and the agents' API retry); the pool drops the broken
    // connections, so calls work again.
    let mut transient = 0;
    let mut worked = false;
    for _ in 0..40 {
        match store.nodes().await {
            Ok(nodes) => {
                assert_eq!(nodes.len(), 1);
                worked = true;
                break;
            }
            Err(error) => {
                assert!(error.is_transient(), "not transient: {error}");
                transient += 1;
            }
        }
    }
    assert!(
        worked,
        "the store did not heal after {transient} transient failures"
    );
}
