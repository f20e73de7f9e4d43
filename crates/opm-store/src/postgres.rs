//! The PostgreSQL backend (`--db postgres://…`): connecting (and refusing
//! a database that holds another program's tables), embedded migrations,
//! and the shared `Store` implementation. Every write transaction first
//! takes the database's advisory lock: a cluster change alone, as SQLite's
//! `BEGIN IMMEDIATE` makes every writer; a lease or attempt write shared,
//! then its target's lock (see `locks.rs`), so a lease check and the write
//! it guards can never interleave with another process's grant.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection as _, Postgres, Transaction};

use crate::conns::{Connections, Held};
use crate::db;
use crate::error::{Result, StoreError};
use crate::facts::FactsCache;
use crate::locks::{self, BEGIN_ALONE, TargetLock};
use crate::redact::redact_url;
use crate::rows::{self, Scope};
use crate::schema::{self, OpenMode};

/// The PostgreSQL migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// How long opening a connection waits for the server before it reports
/// it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections open at once.
const CONNECTIONS: usize = 16;

/// The PostgreSQL state store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    conns: Connections<PgConnection>,
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
        let place = PathBuf::from(redact_url(url));
        let options =
            PgConnectOptions::from_str(url).map_err(|error| StoreError::NotOpmDatabase {
                path: place.clone(),
                reason: format!("it is not a PostgreSQL URL ({error})"),
            })?;
        // A connection that broke while idle (a server restart) fails its
        // next call as transient trouble and is closed; the call after
        // opens a new one.
        let conns = Connections::open(options, CONNECTIONS, CONNECT_TIMEOUT)
            .await
            .map_err(|error| StoreError::NotWritable {
                path: place.clone(),
                reason: format!("cannot connect ({error}); check the URL and that the server runs"),
            })?;
        let store = PostgresStore {
            conns,
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
        self.conns.close().await;
    }

    /// What the database holds, judged by the tables of its current schema.
    async fn inspect(&self) -> Result<schema::Found> {
        let mut conn = self.reader().await?;
        let tables: sqlx::Result<Vec<String>> = db::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY 1",
        )
        .fetch_all(&mut *conn)
        .await;
        let found = match tables {
            Ok(tables) => schema::classify(&mut *conn, &tables, &MIGRATOR, &self.place).await,
            Err(error) => Err(error.into()),
        };
        conn.settle(&found);
        found
    }

    /// Whether the database answers and has every migration of this opm
    /// (`/readyz`).
    pub(crate) async fn check_ready(&self) -> Result<()> {
        let found = self.inspect().await?;
        schema::check_mode(&found, OpenMode::Existing, &MIGRATOR, &self.place)
    }

    /// A connection for reads.
    pub(crate) async fn reader(&self) -> Result<Held<PgConnection>> {
        self.conns.get().await
    }

    /// A connection for a write transaction.
    pub(crate) async fn writer(&self) -> Result<Held<PgConnection>> {
        self.reader().await
    }

    /// The migrations, under sqlx's advisory lock of the session. A
    /// failed run's connection is closed, lock and all.
    pub(crate) async fn run_migrations(&self) -> Result<()> {
        let mut conn = self.writer().await?;
        MIGRATOR.run_direct(None, &mut *conn, false).await?;
        conn.give_back();
        Ok(())
    }

    /// A write transaction holding the database's lock alone, taken before
    /// anything is read.
    pub(crate) async fn begin_write<'c>(
        &self,
        writer: &'c mut Held<PgConnection>,
    ) -> Result<Transaction<'c, Postgres>> {
        Ok((**writer).begin_with(BEGIN_ALONE).await?)
    }

    /// A lease or attempt write of one target: the database's lock shared
    /// and the target's lock `lock` names, before anything is read.
    pub(crate) async fn begin_write_target<'c>(
        &self,
        writer: &'c mut Held<PgConnection>,
        lock: TargetLock,
    ) -> Result<Transaction<'c, Postgres>> {
        Ok(match locks::begin_shared(lock) {
            Cow::Borrowed(begin) => (**writer).begin_with(begin).await?,
            Cow::Owned(begin) => (**writer).begin_with(AssertSqlSafe(begin)).await?,
        })
    }

    /// The plan PostgreSQL picks for a pending-rows query, for tests and
    /// benchmarks that prove the partial indexes are used.
    pub async fn explain_pending(&self, scope: &Scope) -> Result<Vec<String>> {
        let mut conn = self.reader().await?;
        let plan = rows::explain_pending(&mut *conn, scope).await;
        conn.settle(&plan);
        plan
    }
}

crate::store_impl::impl_store!(PostgresStore);
