//! The SQLite backend: opening (and refusing files that are not opm's),
//! WAL + busy timeout + foreign keys, embedded migrations, and the `Store`
//! implementation, one `BEGIN IMMEDIATE` transaction per state change.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use opm_model::{Lease, Name, Phase, Stage, Target};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, Sqlite, Transaction};

use crate::error::{Result, StoreError};
use crate::history::{self, AttemptId, HistoryEntry, HistoryFilter, Outcome, RowAfter};
use crate::nodes::{self, Image, NewNode, Node};
use crate::opkgs::{self, Opkg, OpkgImport};
use crate::rows::{self, RowId, RowPage, Scope, StoredRow};
use crate::store::Store;
use crate::{cluster, leases};

/// The SQLite migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a writer waits for another one before the call reports busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every SQLite database file starts with these 16 bytes.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Whether opening may create a new database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `opm init`: create the file when missing; call [`Store::migrate`] next.
    Create,
    /// Every other command: the database must exist and be fully migrated.
    Existing,
}

/// What an existing file turned out to hold.
enum Found {
    /// No file.
    Missing,
    /// An empty file or an empty SQLite database.
    Empty,
    /// An opm database with these migrations applied.
    Opm(BTreeSet<i64>),
}

/// The SQLite state store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (or, with [`OpenMode::Create`], creates) the database at `path`.
    /// A file that is not an opm database, or cannot be written, is refused
    /// before anything is written to it.
    pub async fn open(path: &Path, mode: OpenMode) -> Result<SqliteStore> {
        let found = inspect(path).await?;
        match (&found, mode) {
            (Found::Missing | Found::Empty, OpenMode::Existing) => {
                return Err(StoreError::NotInitialised {
                    path: path.to_owned(),
                });
            }
            (Found::Opm(applied), OpenMode::Existing)
                if MIGRATOR.iter().any(|m| !applied.contains(&m.version)) =>
            {
                return Err(StoreError::SchemaTooOld {
                    path: path.to_owned(),
                });
            }
            _ => {}
        }
        if matches!(found, Found::Missing) {
            check_directory(path)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(mode == OpenMode::Create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|error| open_error(path, error))?;
        Ok(SqliteStore {
            pool,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, so the file can be copied or removed.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A write transaction that takes the write lock up front, so two
    /// writers queue on the busy timeout instead of deadlocking on upgrade.
    pub(crate) async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The query plan SQLite picks for a pending-rows query, for tests and
    /// benchmarks that prove the partial index is used.
    pub async fn explain_pending(&self, scope: &Scope) -> Result<Vec<String>> {
        let mut conn = self.pool.acquire().await?;
        rows::explain_pending(&mut *conn, scope).await
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
            reason: "SQLite says it is not a database".to_owned(),
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
    let mut header = [0u8; 16];
    let complete = std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .is_ok();
    if !complete || &header != SQLITE_HEADER {
        return Err(not_opm("it is not a SQLite database"));
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
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(|error| open_error(path, error))?;
    let found = inspect_tables(&mut conn, path).await;
    conn.close().await?;
    found
}

/// Tells an opm database from an empty one or another program's.
async fn inspect_tables(conn: &mut SqliteConnection, path: &Path) -> Result<Found> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|error| open_error(path, error))?;
    if tables.is_empty() {
        return Ok(Found::Empty);
    }
    let not_opm = |reason: String| StoreError::NotOpmDatabase {
        path: path.to_owned(),
        reason,
    };
    if !tables.iter().any(|t| t == "opm_meta") {
        let shown: Vec<&str> = tables.iter().take(3).map(String::as_str).collect();
        return Err(not_opm(format!(
            "it holds another program's tables ({})",
            shown.join(", ")
        )));
    }
    let application: Option<String> =
        sqlx::query_scalar("SELECT value FROM opm_meta WHERE key = 'application'")
            .fetch_optional(&mut *conn)
            .await?;
    if application.as_deref() != Some("opm") {
        return Err(not_opm("its opm_meta table does not name opm".to_owned()));
    }
    let applied: Vec<i64> = if tables.iter().any(|t| t == "_sqlx_migrations") {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success = 1")
            .fetch_all(&mut *conn)
            .await?
    } else {
        Vec::new()
    };
    if let Some(version) = applied
        .iter()
        .find(|v| !MIGRATOR.iter().any(|m| m.version == **v))
    {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            version: *version,
        });
    }
    Ok(Found::Opm(applied.into_iter().collect()))
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

/// Runs one state change in a write transaction; an error rolls it back.
macro_rules! write {
    ($self:ident, |$conn:ident| $body:expr) => {{
        let mut tx = $self.write().await?;
        let $conn = &mut *tx;
        let out = $body.await?;
        tx.commit().await?;
        Ok(out)
    }};
}

/// Runs a read on one pooled connection.
macro_rules! read {
    ($self:ident, |$conn:ident| $body:expr) => {{
        let mut pooled = $self.pool.acquire().await?;
        let $conn = &mut *pooled;
        $body.await
    }};
}

impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn register_head_node(&self, name: &Name) -> Result<()> {
        write!(self, |conn| nodes::register_head(conn, name))
    }

    async fn add_node(&self, node: &NewNode) -> Result<()> {
        write!(self, |conn| nodes::add_node(conn, node))
    }

    async fn remove_node(&self, name: &Name) -> Result<()> {
        write!(self, |conn| nodes::remove_node(conn, name))
    }

    async fn nodes(&self) -> Result<Vec<Node>> {
        read!(self, |conn| nodes::nodes(conn))
    }

    async fn group_members(&self, group: &Name) -> Result<Vec<Name>> {
        read!(self, |conn| nodes::group_members(conn, group))
    }

    async fn add_image(&self, image: &Image) -> Result<()> {
        write!(self, |conn| nodes::add_image(conn, image))
    }

    async fn remove_image(&self, name: &Name) -> Result<()> {
        write!(self, |conn| nodes::remove_image(conn, name))
    }

    async fn images(&self) -> Result<Vec<Image>> {
        read!(self, |conn| nodes::images(conn))
    }

    async fn import_opkg(&self, opkg: &OpkgImport, now_ms: i64) -> Result<()> {
        write!(self, |conn| opkgs::import(conn, opkg, now_ms))
    }

    async fn select_opkg_for_group(&self, opkg: &Name, group: &Name) -> Result<()> {
        write!(self, |conn| opkgs::select(conn, opkg, group))
    }

    async fn opkgs(&self) -> Result<Vec<Opkg>> {
        read!(self, |conn| opkgs::opkgs(conn))
    }

    async fn request(
        &self,
        target: &Target,
        opkg: &Name,
        stage: Stage,
        now_ms: i64,
    ) -> Result<StoredRow> {
        write!(self, |conn| rows::request(
            conn, target, opkg, stage, now_ms
        ))
    }

    async fn row(&self, target: &Target, opkg: &Name) -> Result<StoredRow> {
        read!(self, |conn| rows::row(conn, target, opkg))
    }

    async fn pending_rows(
        &self,
        scope: &Scope,
        after: Option<RowId>,
        limit: u32,
    ) -> Result<RowPage> {
        read!(self, |conn| rows::pending(conn, scope, after, limit))
    }

    async fn rows_for_opkg(&self, opkg: &Name) -> Result<Vec<StoredRow>> {
        read!(self, |conn| rows::for_opkg(conn, opkg))
    }

    async fn rows_for_target(&self, target: &Target) -> Result<Vec<StoredRow>> {
        read!(self, |conn| rows::for_target(conn, target))
    }

    async fn all_rows(&self, after: Option<RowId>, limit: u32) -> Result<RowPage> {
        read!(self, |conn| rows::all(conn, after, limit))
    }

    async fn acquire_lease(
        &self,
        target: &Target,
        owner: &str,
        ttl_ms: i64,
        now_ms: i64,
    ) -> Result<Lease> {
        write!(self, |conn| leases::acquire(
            conn, target, owner, ttl_ms, now_ms
        ))
    }

    async fn renew_lease(
        &self,
        target: &Target,
        token: u64,
        ttl_ms: i64,
        now_ms: i64,
    ) -> Result<Lease> {
        write!(self, |conn| leases::renew(
            conn, target, token, ttl_ms, now_ms
        ))
    }

    async fn release_lease(&self, target: &Target, token: u64) -> Result<()> {
        write!(self, |conn| leases::release(conn, target, token))
    }

    async fn release_interrupted(&self, row: RowId, token: u64, now_ms: i64) -> Result<StoredRow> {
        write!(self, |conn| crate::release::release_interrupted(
            conn, row, token, now_ms
        ))
    }

    async fn begin_attempt(
        &self,
        row: RowId,
        stage: Stage,
        token: u64,
        now_ms: i64,
    ) -> Result<AttemptId> {
        write!(self, |conn| history::begin(conn, row, stage, token, now_ms))
    }

    async fn finish_attempt(
        &self,
        attempt: AttemptId,
        outcome: &Outcome,
        after: &RowAfter,
        token: u64,
        now_ms: i64,
    ) -> Result<StoredRow> {
        write!(self, |conn| history::finish(
            conn, attempt, outcome, after, token, now_ms
        ))
    }

    async fn retry(
        &self,
        target: &Target,
        opkg: &Name,
        reason: &str,
        now_ms: i64,
    ) -> Result<StoredRow> {
        write!(self, |conn| rows::retry(conn, target, opkg, reason, now_ms))
    }

    async fn rerun(
        &self,
        target: &Target,
        opkg: &Name,
        from: Stage,
        now_ms: i64,
    ) -> Result<StoredRow> {
        write!(self, |conn| rows::rerun(conn, target, opkg, from, now_ms))
    }

    async fn phase(&self) -> Result<Phase> {
        read!(self, |conn| cluster::phase(conn))
    }

    async fn set_phase(&self, phase: Phase, now_ms: i64) -> Result<()> {
        write!(self, |conn| cluster::set_phase(conn, phase, now_ms))
    }

    async fn config_set(
        &self,
        opkg: &Name,
        image: Option<&Name>,
        key: &str,
        value: &str,
    ) -> Result<()> {
        write!(self, |conn| cluster::config_set(
            conn, opkg, image, key, value
        ))
    }

    async fn config_values(
        &self,
        opkg: &Name,
        image: Option<&Name>,
    ) -> Result<Vec<(String, String)>> {
        read!(self, |conn| cluster::config_values(conn, opkg, image))
    }

    async fn history(&self, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
        read!(self, |conn| history::list(conn, filter))
    }
}
