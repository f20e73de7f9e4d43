//! One query API over both backends, so every concern module (nodes, rows,
//! leases, ...) writes its SQL once. The SQL uses `$1`-style placeholders,
//! which SQLite and PostgreSQL both read; arguments are encoded for both
//! drivers as they are bound and the connection picks its own set. SQLite
//! runs through rusqlite on the caller's thread (`lite.rs`), PostgreSQL
//! through sqlx.

use std::marker::PhantomData;

use rusqlite::types::{FromSql, Value};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{
    Arguments as _, ColumnIndex, Decode, Encode, FromRow, PgConnection, Postgres, Row as _, Type,
};

use crate::lite::{self, Columns, FromLite, LiteIndex, LiteRow};

/// A connection of either backend, borrowed for one query.
pub(crate) enum Conn<'c> {
    /// A SQLite connection.
    Sqlite(&'c mut rusqlite::Connection),
    /// A PostgreSQL connection.
    Postgres(&'c mut PgConnection),
}

/// A connection (or an open transaction's) the concern modules run on.
pub(crate) trait Db: Send {
    /// The backend-specific connection behind it.
    fn conn(&mut self) -> Conn<'_>;
}

impl Db for rusqlite::Connection {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Sqlite(self)
    }
}

impl Db for PgConnection {
    fn conn(&mut self) -> Conn<'_> {
        Conn::Postgres(self)
    }
}

/// A fetched row of either backend.
pub(crate) enum DbRow {
    /// From SQLite.
    Sqlite(LiteRow),
    /// From PostgreSQL.
    Postgres(PgRow),
}

impl DbRow {
    /// One column, by name or position.
    pub(crate) fn try_get<'r, T, I>(&'r self, index: I) -> sqlx::Result<T>
    where
        T: FromSql + Decode<'r, Postgres> + Type<Postgres>,
        I: LiteIndex + ColumnIndex<PgRow>,
    {
        match self {
            DbRow::Sqlite(row) => row.get(&index),
            DbRow::Postgres(row) => row.try_get(index),
        }
    }
}

/// How a query's rows are handed back.
pub(crate) trait Output {
    /// One result.
    type Item;
    /// Whether decoding a SQLite row needs the statement's column names.
    const NAMED: bool = false;
    /// Decodes a SQLite row.
    fn sqlite(row: &rusqlite::Row<'_>, columns: &Columns) -> rusqlite::Result<Self::Item>;
    /// Decodes a PostgreSQL row.
    fn postgres(row: PgRow) -> sqlx::Result<Self::Item>;
}

/// Rows as they are ([`query`]).
pub(crate) struct Rows;

impl Output for Rows {
    type Item = DbRow;
    const NAMED: bool = true;
    fn sqlite(row: &rusqlite::Row<'_>, columns: &Columns) -> rusqlite::Result<DbRow> {
        LiteRow::copy(row, columns).map(DbRow::Sqlite)
    }
    fn postgres(row: PgRow) -> sqlx::Result<DbRow> {
        Ok(DbRow::Postgres(row))
    }
}

/// The first column of each row ([`query_scalar`]).
pub(crate) struct Scalar<T>(PhantomData<T>);

impl<T> Output for Scalar<T>
where
    T: FromSql + for<'r> Decode<'r, Postgres> + Type<Postgres>,
{
    type Item = T;
    fn sqlite(row: &rusqlite::Row<'_>, _columns: &Columns) -> rusqlite::Result<T> {
        row.get(0)
    }
    fn postgres(row: PgRow) -> sqlx::Result<T> {
        row.try_get(0)
    }
}

/// Each row as a tuple or `FromRow` struct ([`query_as`]).
pub(crate) struct As<T>(PhantomData<T>);

impl<T> Output for As<T>
where
    T: FromLite + for<'r> FromRow<'r, PgRow>,
{
    type Item = T;
    fn sqlite(row: &rusqlite::Row<'_>, _columns: &Columns) -> rusqlite::Result<T> {
        T::from_lite(row)
    }
    fn postgres(row: PgRow) -> sqlx::Result<T> {
        T::from_row(&row)
    }
}

/// A statement with its arguments, run on either backend.
pub(crate) struct Query<O> {
    sql: &'static str,
    sqlite: Vec<Value>,
    postgres: PgArguments,
    /// The first argument that failed to encode, reported when it runs.
    unencoded: Option<BoxDynError>,
    output: PhantomData<O>,
}

/// A statement whose rows are read column by column.
pub(crate) fn query(sql: &'static str) -> Query<Rows> {
    Query::new(sql)
}

/// A statement whose rows are single values.
pub(crate) fn query_scalar<T>(sql: &'static str) -> Query<Scalar<T>> {
    Query::new(sql)
}

/// A statement whose rows are tuples or `FromRow` structs.
pub(crate) fn query_as<T>(sql: &'static str) -> Query<As<T>> {
    Query::new(sql)
}

impl<O> Query<O> {
    fn new(sql: &'static str) -> Query<O> {
        Query {
            sql,
            sqlite: Vec::new(),
            postgres: PgArguments::default(),
            unencoded: None,
            output: PhantomData,
        }
    }

    /// Binds the next `$n` placeholder.
    pub(crate) fn bind<'t, T>(mut self, value: T) -> Query<O>
    where
        T: rusqlite::ToSql + Encode<'t, Postgres> + Type<Postgres>,
    {
        let added = lite::value(&value)
            .map(|value| self.sqlite.push(value))
            .map_err(BoxDynError::from)
            .and_then(|()| self.postgres.add(value));
        if let Err(error) = added {
            self.unencoded.get_or_insert(error);
        }
        self
    }

    /// The SQL and both argument sets, or the first encoding failure.
    fn arguments(self) -> sqlx::Result<(&'static str, Vec<Value>, PgArguments)> {
        match self.unencoded {
            Some(error) => Err(sqlx::Error::Encode(error)),
            None => Ok((self.sql, self.sqlite, self.postgres)),
        }
    }

    /// Runs the statement; the number of rows it changed.
    pub(crate) async fn execute(self, db: &mut impl Db) -> sqlx::Result<u64> {
        let (sql, sqlite, postgres) = self.arguments()?;
        Ok(match db.conn() {
            Conn::Sqlite(conn) => lite::execute(conn, sql, &sqlite)?,
            Conn::Postgres(conn) => sqlx::query_with(sql, postgres)
                .execute(conn)
                .await?
                .rows_affected(),
        })
    }
}

impl<O: Output> Query<O> {
    /// Every row.
    pub(crate) async fn fetch_all(self, db: &mut impl Db) -> sqlx::Result<Vec<O::Item>> {
        let (sql, sqlite, postgres) = self.arguments()?;
        match db.conn() {
            Conn::Sqlite(conn) => lite::fetch(conn, sql, &sqlite, usize::MAX, O::NAMED, O::sqlite),
            Conn::Postgres(conn) => sqlx::query_with(sql, postgres)
                .fetch_all(conn)
                .await?
                .into_iter()
                .map(O::postgres)
                .collect(),
        }
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional(self, db: &mut impl Db) -> sqlx::Result<Option<O::Item>> {
        let (sql, sqlite, postgres) = self.arguments()?;
        match db.conn() {
            Conn::Sqlite(conn) => {
                Ok(lite::fetch(conn, sql, &sqlite, 1, O::NAMED, O::sqlite)?.pop())
            }
            Conn::Postgres(conn) => sqlx::query_with(sql, postgres)
                .fetch_optional(conn)
                .await?
                .map(O::postgres)
                .transpose(),
        }
    }

    /// The first row; none is an error.
    pub(crate) async fn fetch_one(self, db: &mut impl Db) -> sqlx::Result<O::Item> {
        self.fetch_optional(db)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}
