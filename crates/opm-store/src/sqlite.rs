//! The SQLite backend: opening (and refusing files that are not opm's),
//! WAL + a bounded wait for other processes' locks + foreign keys,
//! embedded migrations, and the `Store` implementation, one
//! `BEGIN IMMEDIATE` transaction per state change.
//! Statements run through rusqlite on the caller's thread (`lite.rs`);
//! sqlx only runs the migrations, which it keeps the record of.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};

use crate::conns::{Connections, Held};
use crate::db;
use crate::error::{Result, StoreError};
use crate::facts::FactsCache;
use crate::lite::{LiteOptions, LiteTx};
use crate::locks::TargetLock;
use crate::rows::{self, Scope};
use crate::schema::{self, Found, OpenMode};

/// The SQLite migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a call waits for another process's lock before it reports busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite state store. Every call of the process, read or write, runs
/// on its one connection, one call at a time: SQLite writes one at a time
/// anyway, calls are short, and a connection keeps its page cache only
/// across its own commits; with separate readers, every read after another
/// connection's commit read its pages again (B4 at 10,000 agents, 9 s of
/// jitter: 1.03 cores and poll p99 58 ms with four readers, 0.88 cores and
/// 30-35 ms with one connection). Other processes have connections of
/// their own, and WAL lets their reads run beside this one's writes.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Connections<Connection>,
    facts: FactsCache,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or, with [`OpenMode::Create`], creates) the database at `path`.
    /// A file that is not an opm database, or cannot be written, is refused
    /// before anything is written to it.
    pub async fn open(path: &Path, mode: OpenMode) -> Result<SqliteStore> {
        let found = inspect(path).await?;
        schema::check_mode(&found, mode, &MIGRATOR, path)?;
        if matches!(found, Found::Missing) {
            check_directory(path)?;
        }
        // No busy handler: a write waits for another process's write lock
        // in `LiteTx::begin`, asynchronously, and WAL readers do not wait.
        let options = LiteOptions {
            path: path.to_owned(),
            create: mode == OpenMode::Create,
            read_only: false,
            busy_timeout: Duration::ZERO,
        };
        let conn = Connections::open(options, 1, BUSY_TIMEOUT)
            .await
            .map_err(|error| open_error(path, error))?;
        Ok(SqliteStore {
            conn,
            facts: FactsCache::default(),
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, so the file can be copied or removed.
    pub async fn close(&self) {
        self.conn.close().await;
    }

    /// Whether the database answers on this store's connection and has
    /// every migration of this opm (`/readyz`).
    pub(crate) async fn check_ready(&self) -> Result<()> {
        let mut conn = self.reader().await?;
        let found = inspect_tables(&mut conn, &self.path).await;
        conn.settle(&found);
        schema::check_mode(&found?, OpenMode::Existing, &MIGRATOR, &self.path)
    }

    /// The connection, for a read.
    pub(crate) async fn reader(&self) -> Result<Held<Connection>> {
        self.conn.get().await
    }

    /// The connection, for a write: calls of this process queue here.
    pub(crate) async fn writer(&self) -> Result<Held<Connection>> {
        self.conn.get().await
    }

    /// The migrations, run by sqlx on a connection of their own while
    /// this process's connection is held, so no other call writes meanwhile.
    pub(crate) async fn run_migrations(&self) -> Result<()> {
        let writer = self.writer().await?;
        let options = SqliteConnectOptions::new()
            .filename(&self.path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let mut conn = <SqliteConnection as sqlx::Connection>::connect_with(&options)
            .await
            .map_err(|error| open_error(&self.path, error))?;
        let migrated = MIGRATOR.run_direct(None, &mut conn, false).await;
        // Closing checkpoints; a failure leaves the file as a crash would.
        drop(sqlx::Connection::close(conn).await);
        migrated?;
        writer.give_back();
        Ok(())
    }

    /// A write transaction that takes the write lock up front, so writers
    /// of two processes wait for each other (up to the busy timeout)
    /// instead of deadlocking on upgrade.
    pub(crate) async fn begin_write<'c>(
        &self,
        writer: &'c mut Held<Connection>,
    ) -> Result<LiteTx<'c>> {
        Ok(LiteTx::begin(writer, BUSY_TIMEOUT).await?)
    }

    /// A lease or attempt write of one target: SQLite has one writer
    /// anyway, so the same as [`Self::begin_write`].
    pub(crate) async fn begin_write_target<'c>(
        &self,
        writer: &'c mut Held<Connection>,
        _lock: TargetLock,
    ) -> Result<LiteTx<'c>> {
        self.begin_write(writer).await
    }

    /// The query plan SQLite picks for a pending-rows query, for tests and
    /// benchmarks that prove the partial index is used.
    pub async fn explain_pending(&self, scope: &Scope) -> Result<Vec<String>> {
        let mut conn = self.reader().await?;
        let plan = rows::explain_pending(&mut *conn, scope).await;
        conn.settle(&plan);
        plan
    }
}

/// Maps a failure to open into "not writable" when SQLite says so.
fn open_error(path: &Path, error: sqlx::Error) -> StoreError {
    // 8 is SQLITE_READONLY, 14 SQLITE_CANTOPEN, 26 SQLITE_NOTADB.
    let code = match &error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .map(|c| c & 0xff),
        _ => None,
    };
    match code {
        Some(8 | 14) => StoreError::NotWritable {
            path: path.to_owned(),
            reason: error.to_string(),
        },
        Some(26) => StoreError::NotOpmDatabase {
            path: path.to_owned(),
            reason: "it is not a SQLite database".to_owned(),
        },
        _ => StoreError::from(error),
    }
}

/// Looks at an existing file without writing to it. Root ignores
/// permission bits, so a file marked read-only is refused here rather than
/// written behind the admin's back.
async fn inspect(path: &Path) -> Result<Found> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(error) => {
            return Err(StoreError::NotWritable {
                path: path.to_owned(),
                reason: error.to_string(),
            });
        }
    };
    let not_opm = |reason: &str| StoreError::NotOpmDatabase {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if !metadata.is_file() {
        return Err(not_opm("it is not a regular file"));
    }
    if metadata.len() == 0 {
        return Ok(Found::Empty);
    }
    // Before SQLite opens it at all: even a read-only connection to a WAL
    // database leaves -wal and -shm files behind.
    if metadata.permissions().readonly() {
        return Err(StoreError::NotWritable {
            path: path.to_owned(),
            reason:
                "the file is marked read-only; make it writable (chmod u+w) or use another path"
                    .to_owned(),
        });
    }
    let options = LiteOptions {
        path: path.to_owned(),
        create: false,
        read_only: true,
        busy_timeout: BUSY_TIMEOUT,
    };
    // SQLite itself tells a database from another file, never a plain
    // read: on Linux, closing any descriptor of a file drops every POSIX
    // lock the process holds on it, so a header read while another store
    // of this process has the file open would drop that store's WAL lock,
    // and the next outside client would checkpoint and delete the
    // write-ahead log under it. SQLite's own descriptors are shared
    // between the connections of a process and closed only when none
    // holds a lock.
    let mut conn = options.open().map_err(|error| open_error(path, error))?;
    inspect_tables(&mut conn, path).await
}

/// Tells an opm database from an empty one or another program's.
async fn inspect_tables(conn: &mut Connection, path: &Path) -> Result<Found> {
    let tables: Vec<String> = db::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|error| open_error(path, error))?;
    schema::classify(conn, &tables, &MIGRATOR, path).await
}

/// Refuses to create a database in a directory that does not exist.
fn check_directory(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if parent.is_dir() {
        return Ok(());
    }
    Err(StoreError::NotWritable {
        path: path.to_owned(),
        reason: format!(
            "directory {} does not exist; create it first",
            parent.display()
        ),
    })
}

crate::store_impl::impl_store!(SqliteStore);
