//! SQLite through rusqlite, called on the caller's thread. sqlx runs each
//! SQLite connection on a thread of its own and hands it every statement,
//! BEGIN and COMMIT included, and the answer back: two thread wake-ups per
//! statement, which under many short store calls (B3's transitions, B4's
//! agents) cost more than SQLite's own work. A statement here runs where
//! the call is; the one wait that can be long, another process's write
//! lock, is waited for asynchronously (see [`LiteTx::begin`]).
//!
//! Errors are handed on as sqlx's database errors, carrying SQLite's
//! extended result code, so the store maps both drivers' failures in one
//! place (`error.rs`).

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{FromSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use sqlx::error::{DatabaseError, ErrorKind};
use tokio::time::Instant;

/// Prepared statements each connection keeps: more than the store's
/// distinct hot statements, so none is parsed again per call.
const STATEMENT_CACHE: usize = 128;

/// The longest pause between two tries for another process's write lock.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// A rusqlite failure in the shape of an sqlx database error.
#[derive(Debug)]
pub(crate) struct LiteError {
    error: rusqlite::Error,
    message: String,
}

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LiteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl LiteError {
    fn extended_code(&self) -> Option<i32> {
        match &self.error {
            rusqlite::Error::SqliteFailure(failure, _) => Some(failure.extended_code),
            _ => None,
        }
    }
}

impl DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.extended_code()
            .map(|code| Cow::Owned(code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY, _FOREIGNKEY, _NOTNULL, _CHECK.
        match self.extended_code() {
            Some(2067 | 1555) => ErrorKind::UniqueViolation,
            Some(787) => ErrorKind::ForeignKeyViolation,
            Some(1299) => ErrorKind::NotNullViolation,
            Some(275) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Any rusqlite failure as an sqlx error.
pub(crate) fn error(error: rusqlite::Error) -> sqlx::Error {
    let message = error.to_string();
    sqlx::Error::Database(Box::new(LiteError { error, message }))
}

fn is_busy(error: &rusqlite::Error) -> bool {
    // The primary code is the extended code's low byte: 5 SQLITE_BUSY, 6 SQLITE_LOCKED.
    matches!(error, rusqlite::Error::SqliteFailure(failure, _) if matches!(failure.extended_code & 0xff, 5 | 6))
}

/// A bound argument, owned, as SQLite stores it.
pub(crate) fn value(argument: &dyn ToSql) -> rusqlite::Result<Value> {
    match argument.to_sql()? {
        ToSqlOutput::Borrowed(borrowed) => Value::try_from(borrowed)
            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error))),
        ToSqlOutput::Owned(owned) => Ok(owned),
        _ => Err(rusqlite::Error::ToSqlConversionFailure(
            "an argument the store does not bind".into(),
        )),
    }
}

/// Runs a statement to its end; the rows it changed.
pub(crate) fn execute(conn: &Connection, sql: &str, arguments: &[Value]) -> sqlx::Result<u64> {
    let mut statement = conn.prepare_cached(sql).map_err(error)?;
    bind(&mut statement, arguments).map_err(error)?;
    let mut rows = statement.raw_query();
    // Stepped to the end rather than `Statement::execute`, which refuses
    // a statement that returns rows (RETURNING) where sqlx did not.
    while rows.next().map_err(error)?.is_some() {}
    Ok(conn.changes())
}

/// Binds `$n` to the n-th argument. SQLite numbers named parameters in
/// the order they first appear, so a statement that mentions `$2` before
/// `$1` would get them swapped by position.
fn bind(statement: &mut rusqlite::Statement<'_>, arguments: &[Value]) -> rusqlite::Result<()> {
    for index in 1..=statement.parameter_count() {
        let position = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|number| number.parse::<usize>().ok())
            .unwrap_or(index);
        let value = position
            .checked_sub(1)
            .and_then(|at| arguments.get(at))
            .ok_or(rusqlite::Error::InvalidParameterCount(
                position,
                arguments.len(),
            ))?;
        statement.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// Up to `most` rows of a statement, each decoded by `decode`, which also
/// gets the statement's column names when `named`.
pub(crate) fn fetch<T>(
    conn: &Connection,
    sql: &str,
    arguments: &[Value],
    most: usize,
    named: bool,
    decode: impl Fn(&rusqlite::Row<'_>, &Columns) -> rusqlite::Result<T>,
) -> sqlx::Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql).map_err(error)?;
    let columns: Columns = if named {
        statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    } else {
        Arc::default()
    };
    bind(&mut statement, arguments).map_err(error)?;
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while out.len() < most {
        let Some(row) = rows.next().map_err(error)? else {
            break;
        };
        out.push(decode(row, &columns).map_err(error)?);
    }
    Ok(out)
}

/// A statement's column names.
pub(crate) type Columns = Arc<[String]>;

/// A fetched row, its values copied out of the statement.
#[derive(Debug)]
pub(crate) struct LiteRow {
    values: Vec<Value>,
    columns: Columns,
}

impl LiteRow {
    /// Copies the current row of a statement.
    pub(crate) fn copy(row: &rusqlite::Row<'_>, columns: &Columns) -> rusqlite::Result<LiteRow> {
        let values = (0..columns.len())
            .map(|at| row.get::<_, Value>(at))
            .collect::<rusqlite::Result<_>>()?;
        Ok(LiteRow {
            values,
            columns: Arc::clone(columns),
        })
    }

    /// One column, by name or position.
    pub(crate) fn get<T: FromSql>(&self, index: &impl LiteIndex) -> sqlx::Result<T> {
        let at = index
            .position(&self.columns)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(index.describe()))?;
        let value = self
            .values
            .get(at)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(index.describe()))?;
        T::column_result(ValueRef::from(value)).map_err(|source| sqlx::Error::ColumnDecode {
            index: index.describe(),
            source: Box::new(source),
        })
    }
}

/// How a column is named when read: its name or its position.
pub(crate) trait LiteIndex {
    /// Its position among `columns`.
    fn position(&self, columns: &[String]) -> Option<usize>;
    /// For messages.
    fn describe(&self) -> String;
}

impl LiteIndex for &str {
    fn position(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|name| name == self)
    }

    fn describe(&self) -> String {
        (*self).to_owned()
    }
}

impl LiteIndex for usize {
    fn position(&self, _columns: &[String]) -> Option<usize> {
        Some(*self)
    }

    fn describe(&self) -> String {
        self.to_string()
    }
}

/// A tuple decoded from a row's columns in order.
pub(crate) trait FromLite: Sized {
    /// Decodes the current row.
    fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

macro_rules! tuple_from_lite {
    ($($at:tt $t:ident),+) => {
        impl<$($t: FromSql),+> FromLite for ($($t,)+) {
            fn from_lite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get::<_, $t>($at)?,)+))
            }
        }
    };
}

tuple_from_lite!(0 A);
tuple_from_lite!(0 A, 1 B);
tuple_from_lite!(0 A, 1 B, 2 C);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M);
tuple_from_lite!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H, 8 I, 9 J, 10 K, 11 L, 12 M, 13 N);

/// How to open connections to one SQLite file.
#[derive(Debug, Clone)]
pub(crate) struct LiteOptions {
    /// The database file.
    pub(crate) path: PathBuf,
    /// Create the file when missing.
    pub(crate) create: bool,
    /// Open for reading only, changing nothing (no journal mode set).
    pub(crate) read_only: bool,
    /// How long SQLite itself waits for a lock, blocking the thread; 0 for
    /// a store's connection, whose writes wait in [`LiteTx::begin`] instead.
    pub(crate) busy_timeout: Duration,
}

impl LiteOptions {
    /// Opens one connection: WAL, no fsync per commit (only checkpoints),
    /// foreign keys enforced.
    pub(crate) fn open(&self) -> sqlx::Result<Connection> {
        let flags = if self.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else if self.create {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let conn = Connection::open_with_flags(&self.path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(error)?;
        conn.busy_timeout(self.busy_timeout).map_err(error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        if !self.read_only {
            // journal_mode answers with the mode now in force.
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(error)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(sqlx::Error::Configuration(
                    format!("SQLite kept journal mode {mode} instead of WAL").into(),
                ));
            }
            // No memory map (`mmap_size`): in WAL mode a connection drops
            // its whole mapping whenever another one committed since its
            // last read, so under agents' constant commits each read paid
            // an munmap and the page faults after it (B4: 14% of the
            // SQLite threads' time, against 4% in the preads it saved).
            conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
                .map_err(error)?;
        }
        Ok(conn)
    }
}

impl crate::conns::Connect for Connection {
    type Options = LiteOptions;

    async fn connect(options: &LiteOptions) -> sqlx::Result<Connection> {
        options.open()
    }

    async fn close(self) {
        // Closing checkpoints the WAL; a failure leaves the file as a
        // crash would, which the next open recovers from.
        drop(Connection::close(self));
    }
}

/// A write transaction on a SQLite connection, `BEGIN IMMEDIATE` so the
/// write lock is taken up front (two writers cannot deadlock on upgrade);
/// ended by [`commit`](Self::commit) or [`rollback`](Self::rollback), rolled
/// back when dropped before either.
pub(crate) struct LiteTx<'c> {
    conn: &'c mut Connection,
    open: bool,
}

impl<'c> LiteTx<'c> {
    /// Begins, waiting up to `timeout` for another process's write lock:
    /// asynchronously, in growing pauses, so the thread serves other calls
    /// meanwhile (SQLite's own busy handler would sleep on it).
    pub(crate) async fn begin(
        conn: &'c mut Connection,
        timeout: Duration,
    ) -> sqlx::Result<LiteTx<'c>> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match run(conn, "BEGIN IMMEDIATE") {
                Ok(()) => return Ok(LiteTx { conn, open: true }),
                Err(busy) if is_busy(&busy) && started.elapsed() < timeout => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Err(other) => return Err(error(other)),
            }
        }
    }

    /// Commits.
    pub(crate) async fn commit(mut self) -> sqlx::Result<()> {
        self.open = false;
        run(self.conn, "COMMIT").map_err(error)
    }

    /// Rolls back.
    pub(crate) async fn rollback(mut self) -> sqlx::Result<()> {
        self.open = false;
        run(self.conn, "ROLLBACK").map_err(error)
    }
}

/// Runs a statement without arguments or rows, prepared once per connection.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

impl Drop for LiteTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // A failed rollback leaves the transaction open; the call's
            // error then closes the connection, which rolls it back.
            let _ = run(self.conn, "ROLLBACK");
        }
    }
}

impl Deref for LiteTx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl DerefMut for LiteTx<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn
    }
}
