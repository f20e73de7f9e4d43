//! The SQLite backend's connections, kept by opm instead of an sqlx pool:
//! one writer behind an async mutex and a few readers. sqlx's pool pings
//! every connection as it comes back, which for SQLite is one more round
//! trip to the connection's thread (and a spawned task) per store call;
//! these go back as they are. Writers queue on the mutex instead of in
//! SQLite's busy handler, which sleeps. A connection whose call failed on
//! a database error is closed, and a new one opened when next needed.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

use crate::error::{Result, StoreError};

/// Readers open at once; with the writer, one more connection than the
/// sqlx pool this replaces had in all.
const READERS: usize = 4;

/// The connections of one SQLite database.
#[derive(Debug, Clone)]
pub(crate) struct Connections {
    /// Shared, as the options are large and every clone of the store
    /// carries them.
    options: Arc<SqliteConnectOptions>,
    writer: Arc<tokio::sync::Mutex<Option<SqliteConnection>>>,
    readers: Arc<Semaphore>,
    idle: Arc<Mutex<Vec<SqliteConnection>>>,
    closed: Arc<AtomicBool>,
}

impl Connections {
    /// Opens the writer now, so a database that cannot be opened says so
    /// at once; readers open as they are first needed.
    pub(crate) async fn open(options: SqliteConnectOptions) -> sqlx::Result<Connections> {
        let writer = SqliteConnection::connect_with(&options).await?;
        Ok(Connections {
            options: Arc::new(options),
            writer: Arc::new(tokio::sync::Mutex::new(Some(writer))),
            readers: Arc::new(Semaphore::new(READERS)),
            idle: Arc::new(Mutex::new(Vec::new())),
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A reader, waiting while all are in use.
    pub(crate) async fn reader(&self) -> Result<Held> {
        let permit = Arc::clone(&self.readers)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = self.idle_list().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        Ok(Held {
            conn: Some(conn),
            home: Home::Reader {
                idle: Arc::clone(&self.idle),
                closed: Arc::clone(&self.closed),
                _permit: permit,
            },
        })
    }

    /// The writer, waiting while another call writes.
    pub(crate) async fn writer(&self) -> Result<Held> {
        let mut slot = Arc::clone(&self.writer).lock_owned().await;
        let conn = match slot.take() {
            Some(conn) => conn,
            None => self.connect().await?,
        };
        Ok(Held {
            conn: Some(conn),
            home: Home::Writer(slot),
        })
    }

    async fn connect(&self) -> Result<SqliteConnection> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        Ok(SqliteConnection::connect_with(&self.options).await?)
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<SqliteConnection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes every connection not in use, and the others as they come
    /// back; later calls fail.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.readers.close();
        let writer = self.writer.lock().await.take();
        let idle: Vec<SqliteConnection> = self.idle_list().drain(..).collect();
        for conn in writer.into_iter().chain(idle) {
            // Closing checkpoints the WAL; a failure leaves the file as a
            // crash would, which SQLite recovers from on the next open, and
            // the caller is stopping: nothing to tell it.
            drop(conn.close().await);
        }
    }
}

/// Where a held connection goes back to.
#[derive(Debug)]
enum Home {
    /// The idle readers, its permit released after it is back.
    Reader {
        idle: Arc<Mutex<Vec<SqliteConnection>>>,
        closed: Arc<AtomicBool>,
        _permit: OwnedSemaphorePermit,
    },
    /// The writer's slot, unlocked after it is back.
    Writer(OwnedMutexGuard<Option<SqliteConnection>>),
}

/// A connection one store call holds.
#[derive(Debug)]
pub(crate) struct Held {
    conn: Option<SqliteConnection>,
    home: Home,
}

impl Held {
    /// Gives the connection back after a call, or closes it if the call
    /// failed on the database: whatever state the failure left it in is
    /// not passed on.
    pub(crate) fn settle<T>(mut self, result: &Result<T>) {
        if matches!(result, Err(StoreError::Busy(_) | StoreError::Database(_))) {
            self.conn = None;
        }
    }
}

impl Deref for Held {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        // Only `Drop` and `settle` empty it, and both end it.
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("a held connection was used after it closed"))
    }
}

impl DerefMut for Held {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a held connection was used after it closed"))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        match &mut self.home {
            Home::Reader { idle, closed, .. } => {
                if !closed.load(Ordering::Acquire) {
                    idle.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(conn);
                }
            }
            Home::Writer(slot) => **slot = Some(conn),
        }
    }
}
