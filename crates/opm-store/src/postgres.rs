//! The PostgreSQL backend (`--db postgres://…`): connecting (and refusing
//! a database that holds another program's tables), embedded migrations,
//! and the shared `Store` implementation. Every write transaction first
//! takes the database's advisory lock: a cluster change alone, as SQLite's
//! `BEGIN IMMEDIATE` makes every writer; a lease or attempt write shared,
//! then its target's lock (see `locks.rs`), so a lease check and the write
//! it guards can never interleave with another process's grant.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Postgres, Transaction};

use crate::db;
use crate::error::{Result, StoreError};
use crate::facts::FactsCache;
use crate::locks::DATABASE_KEY;
use crate::rows::{self, Scope};
use crate::schema::{self, OpenMode};

/// The PostgreSQL migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long opening waits for the server before it reports it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL state store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    facts: FactsCache,
    /// The URL without its password, for messages.
    place: PathBuf,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`).
    /// With [`OpenMode::Existing`] it must be a fully migrated opm database;
    /// with [`OpenMode::Create`] it may also be empty (call
    /// [`crate::Store::migrate`] next). Another program's database is refused
    /// before anything is written to it.
    pub async fn open(url: &str, mode: OpenMode) -> Result<PostgresStore> {
        let place = PathBuf::from(redact(url));
        let options =
            PgConnectOptions::from_str(url).map_err(|error| StoreError::NotOpmDatabase {
                path: place.clone(),
                reason: format!("it is not a PostgreSQL URL ({error})"),
            })?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // sqlx pings a connection as it goes back to the pool (and
            // drops a broken one); a ping before each use as well would be
            // a second round trip per store call. A connection that broke
            // while idle fails its next call as transient instead.
            .test_before_acquire(false)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|error| StoreError::NotWritable {
                path: place.clone(),
                reason: format!("cannot connect ({error}); check the URL and that the server runs"),
            })?;
        let store = PostgresStore {
            pool,
            facts: FactsCache::default(),
            place,
        };
        let found = store.inspect().await?;
        schema::check_mode(&found, mode, &MIGRATOR, &store.place)?;
        Ok(store)
    }

    /// The URL it was opened with, password left out.
    pub fn place(&self) -> &Path {
        &self.place
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// What the database holds, judged by the tables of its current schema.
    async fn inspect(&self) -> Result<schema::Found> {
        let mut conn = self.pool.acquire().await?;
        let tables: Vec<String> = db::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY 1",
        )
        .fetch_all(&mut *conn)
        .await?;
        schema::classify(&mut *conn, &tables, &MIGRATOR, &self.place).await
    }

    /// A connection for reads.
    pub(crate) async fn reader(&self) -> Result<PoolConnection<Postgres>> {
        Ok(self.pool.acquire().await?)
    }

    /// A connection for a write transaction.
    pub(crate) async fn writer(&self) -> Result<PoolConnection<Postgres>> {
        self.reader().await
    }

    /// The migrations, run on the pool.
    pub(crate) async fn run_migrations(&self) -> Result<()> {
        Ok(MIGRATOR.run(&self.pool).await?)
    }

    /// A write transaction holding the database's lock alone, taken before
    /// anything is read.
    pub(crate) async fn begin_write<'c>(
        &self,
        writer: &'c mut PoolConnection<Postgres>,
    ) -> Result<Transaction<'c, Postgres>> {
        self.begin_locked(writer, "SELECT pg_advisory_xact_lock($1)")
            .await
    }

    /// A lease or attempt write of one target: the database's lock shared;
    /// the write itself takes its target's lock before it reads.
    pub(crate) async fn begin_write_target<'c>(
        &self,
        writer: &'c mut PoolConnection<Postgres>,
    ) -> Result<Transaction<'c, Postgres>> {
        self.begin_locked(writer, "SELECT pg_advisory_xact_lock_shared($1)")
            .await
    }

    async fn begin_locked<'c>(
        &self,
        writer: &'c mut PoolConnection<Postgres>,
        lock: &'static str,
    ) -> Result<Transaction<'c, Postgres>> {
        let mut tx = (**writer).begin().await?;
        db::query(lock).bind(DATABASE_KEY).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// Ends a store call's hold of its connection: the pool tests it as it
    /// goes back.
    pub(crate) fn settle<T>(&self, conn: PoolConnection<Postgres>, _result: &Result<T>) {
        drop(conn);
    }

    /// The plan PostgreSQL picks for a pending-rows query, for tests and
    /// benchmarks that prove the partial indexes are used.
    pub async fn explain_pending(&self, scope: &Scope) -> Result<Vec<String>> {
        let mut conn = self.reader().await?;
        rows::explain_pending(&mut *conn, scope).await
    }
}

/// `url` with any password replaced, safe to print.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority
        .rsplit_once('@')
        .and_then(|(user, host)| Some((user.split_once(':')?.0, host)))
    {
        Some((name, host)) => format!("{scheme}://{name}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

crate::store_impl::impl_store!(PostgresStore);

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://opm:secret@db.example:5432/opm"),
            "postgres://opm:***@db.example:5432/opm"
        );
        assert_eq!(
            redact("postgres://127.0.0.1/opm"),
            "postgres://127.0.0.1/opm"
        );
        assert_eq!(
            redact("postgres://opm@127.0.0.1/opm"),
            "postgres://opm@127.0.0.1/opm"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
