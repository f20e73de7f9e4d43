//! Database connections kept by opm instead of an sqlx pool, for both
//! backends (SQLite's are rusqlite's, PostgreSQL's sqlx's). sqlx's pool
//! pings every connection as it comes back, one more round trip per store
//! call. These go back as they are, and only when the call that held them
//! ended cleanly: a connection whose call failed on the database, or was
//! dropped midway (a client that hung up), is closed, so whatever state it
//! was left in (an open transaction holding locks, an answer not yet read)
//! goes with it; the next call opens a new one.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Result, StoreError};

/// A database connection that [`Connections`] opens and closes.
pub(crate) trait Connect: Sized + Send + 'static {
    /// What opening one takes.
    type Options: Send + Sync + 'static;
    /// Opens one.
    fn connect(options: &Self::Options) -> impl Future<Output = sqlx::Result<Self>> + Send;
    /// Closes it.
    fn close(self) -> impl Future<Output = ()> + Send;
}

impl Connect for sqlx::PgConnection {
    type Options = sqlx::postgres::PgConnectOptions;

    async fn connect(options: &Self::Options) -> sqlx::Result<Self> {
        <Self as sqlx::Connection>::connect_with(options).await
    }

    async fn close(self) {
        // The server ends the session either way; nothing to tell.
        drop(sqlx::Connection::close(self).await);
    }
}

/// Up to `size` connections to one database, handed out one call at a time.
pub(crate) struct Connections<C: Connect> {
    /// Shared, as the options are large and every clone of a store carries
    /// them.
    options: Arc<C::Options>,
    connect_timeout: Duration,
    permits: Arc<Semaphore>,
    idle: Arc<Mutex<Vec<C>>>,
    closed: Arc<AtomicBool>,
}

impl<C: Connect> Clone for Connections<C> {
    fn clone(&self) -> Self {
        Connections {
            options: Arc::clone(&self.options),
            connect_timeout: self.connect_timeout,
            permits: Arc::clone(&self.permits),
            idle: Arc::clone(&self.idle),
            closed: Arc::clone(&self.closed),
        }
    }
}

impl<C: Connect> std::fmt::Debug for Connections<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("available", &self.permits.available_permits())
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<C: Connect> Connections<C> {
    /// Opens one connection now, so a database that cannot be reached says
    /// so at once; the others open as they are first needed.
    pub(crate) async fn open(
        options: C::Options,
        size: usize,
        connect_timeout: Duration,
    ) -> sqlx::Result<Connections<C>> {
        let first = connect(&options, connect_timeout).await?;
        Ok(Connections {
            options: Arc::new(options),
            connect_timeout,
            permits: Arc::new(Semaphore::new(size)),
            idle: Arc::new(Mutex::new(vec![first])),
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A connection, waiting while all are in use.
    pub(crate) async fn get(&self) -> Result<Held<C>> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = self.idle_list().pop();
        let conn = match idle {
            Some(conn) => conn,
            None if self.closed.load(Ordering::Acquire) => {
                return Err(StoreError::Database(sqlx::Error::PoolClosed));
            }
            None => connect(self.options.as_ref(), self.connect_timeout).await?,
        };
        Ok(Held {
            conn: Some(conn),
            keep: false,
            idle: Arc::clone(&self.idle),
            closed: Arc::clone(&self.closed),
            _permit: permit,
        })
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<C>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes every connection not in use, and the others as their calls
    /// end; later calls fail.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.permits.close();
        let idle: Vec<C> = self.idle_list().drain(..).collect();
        for conn in idle {
            conn.close().await;
        }
    }
}

/// Opens a connection, giving up after `timeout` (a server that does not
/// answer) as transient trouble.
async fn connect<C: Connect>(options: &C::Options, timeout: Duration) -> sqlx::Result<C> {
    tokio::time::timeout(timeout, C::connect(options))
        .await
        .unwrap_or_else(|_| {
            Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", timeout.as_secs()),
            )))
        })
}

/// A connection one store call holds.
pub(crate) struct Held<C: Connect> {
    conn: Option<C>,
    /// Set when the call ended without trouble on the database.
    keep: bool,
    idle: Arc<Mutex<Vec<C>>>,
    closed: Arc<AtomicBool>,
    _permit: OwnedSemaphorePermit,
}

impl<C: Connect> Held<C> {
    /// Ends the call's hold: the connection goes back for the next call,
    /// unless the call failed on the database.
    pub(crate) fn settle<T>(self, result: &Result<T>) {
        if !matches!(result, Err(StoreError::Busy(_) | StoreError::Database(_))) {
            self.give_back();
        }
    }

    /// Ends the call's hold: the connection goes back for the next call.
    pub(crate) fn give_back(mut self) {
        self.keep = true;
    }
}

impl<C: Connect> Deref for Held<C> {
    type Target = C;

    fn deref(&self) -> &C {
        // Only `Drop` empties it.
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("a held connection was used after it closed"))
    }
}

impl<C: Connect> DerefMut for Held<C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a held connection was used after it closed"))
    }
}

impl<C: Connect> Drop for Held<C> {
    fn drop(&mut self) {
        // The permit is a field, released after this: a waiting call finds
        // the connection already back.
        if let Some(conn) = self.conn.take()
            && self.keep
            && !self.closed.load(Ordering::Acquire)
        {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }
}
