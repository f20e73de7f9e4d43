//! Every way a store call can fail, typed so the CLI can map bad input to
//! exit 2 and the engine can tell transient trouble from a refusal.

use std::path::PathBuf;

use opm_model::{Stage, Target};

/// Why a store call failed; the message names the thing and what to do next.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file does not exist yet (or holds no opm schema).
    #[error("{}: no opm database here; run 'opm init' first", .path.display())]
    NotInitialised {
        /// The database file.
        path: PathBuf,
    },
    /// The database was made by an older opm and needs its migrations.
    #[error("{}: the database schema is older than this opm; run 'opm init' to migrate it", .path.display())]
    SchemaTooOld {
        /// The database file.
        path: PathBuf,
    },
    /// The database was migrated by a newer opm than this one.
    #[error("{}: the database has schema version {version}, newer than this opm knows; upgrade opm", .path.display())]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The unknown applied migration.
        version: i64,
    },
    /// The file is not an opm database (a text file, another program's db).
    #[error("{}: not an opm database: {reason}; point --db at an opm database or a new path", .path.display())]
    NotOpmDatabase {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The database (or the directory that should hold it) cannot be written.
    #[error("{}: database is not writable: {reason}", .path.display())]
    NotWritable {
        /// The file.
        path: PathBuf,
        /// Why, as the system or SQLite said it.
        reason: String,
    },
    /// A path that cannot be stored as text.
    #[error("{}: path is not valid UTF-8; use a UTF-8 path", .path.display())]
    NonUtf8Path {
        /// The path.
        path: PathBuf,
    },
    /// No node with this name.
    #[error("unknown node '{name}'; see 'opm node list'")]
    UnknownNode {
        /// The name given.
        name: String,
    },
    /// No image with this name.
    #[error("unknown image '{name}'; see 'opm image list'")]
    UnknownImage {
        /// The name given.
        name: String,
    },
    /// No group with this name.
    #[error("unknown group '{name}'; a group exists once a node joins it")]
    UnknownGroup {
        /// The name given.
        name: String,
    },
    /// No imported opkg with this name.
    #[error("unknown opkg '{name}'; import it first with 'opm opkg import'")]
    UnknownOpkg {
        /// The name given.
        name: String,
    },
    /// The version was never imported for this opkg.
    #[error(
        "opkg '{opkg}' has no imported version '{version}' (imported: {}); import it first with 'opm opkg import'",
        .imported.join(", ")
    )]
    UnknownVersion {
        /// The opkg.
        opkg: String,
        /// The version given.
        version: String,
        /// The versions imported, oldest first.
        imported: Vec<String>,
    },
    /// No row for this target and opkg.
    #[error("no row for {target} / {opkg}; request it first with 'opm request'")]
    UnknownRow {
        /// The target.
        target: Target,
        /// The opkg.
        opkg: String,
    },
    /// A row id that does not exist (any more).
    #[error("row {id} does not exist (its node or image may have been removed)")]
    UnknownRowId {
        /// The id.
        id: i64,
    },
    /// An attempt id that does not exist.
    #[error("attempt {id} does not exist")]
    UnknownAttempt {
        /// The id.
        id: i64,
    },
    /// A node or image name already taken.
    #[error("{kind} '{name}' already exists")]
    AlreadyExists {
        /// `node` or `image`.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// `opm init` with a different head node name than the one registered.
    #[error(
        "the head node is already registered as '{existing}', not '{given}'; fix opm.conf or use another database"
    )]
    HeadNodeMismatch {
        /// The registered head node.
        existing: String,
        /// The name from opm.conf.
        given: String,
    },
    /// The head node cannot be removed like a compute node.
    #[error("'{name}' is the head node and cannot be removed")]
    HeadNodeRemoval {
        /// The head node.
        name: String,
    },
    /// An image still used by nodes.
    #[error("image '{image}' is used by node(s) {nodes}; remove or re-image them first")]
    ImageInUse {
        /// The image.
        image: String,
        /// The nodes using it, comma-separated.
        nodes: String,
    },
    /// Another owner holds an unexpired lease on the target.
    #[error(
        "{target} is leased by '{owner}' until {expires_at_ms} ms; wait or let the lease expire"
    )]
    LeaseHeld {
        /// The target.
        target: Target,
        /// The holder.
        owner: String,
        /// When the lease ends.
        expires_at_ms: i64,
    },
    /// A write carried a lease token that is no longer the target's current
    /// one (the lease expired and was granted again, or was released).
    #[error("{target}: lease token {token} is stale; the write was refused")]
    StaleToken {
        /// The target.
        target: Target,
        /// The token given.
        token: u64,
    },
    /// An attempt finished under the target's current lease that is no
    /// longer the row's running attempt under it: a later attempt took its
    /// place, it ended already, or it was begun under an earlier lease.
    #[error("{target} / {opkg}: attempt {attempt} {why}; its result was not recorded")]
    AttemptSuperseded {
        /// The target.
        target: Target,
        /// The opkg.
        opkg: String,
        /// The attempt's id.
        attempt: i64,
        /// What became of it.
        why: String,
    },
    /// `retry` on a row that is not in error.
    #[error("{target} / {opkg} is not in error (status {status}); nothing to retry")]
    NotInError {
        /// The target.
        target: Target,
        /// The opkg.
        opkg: String,
        /// Its status.
        status: String,
    },
    /// An attempt on a row in error: it waits for an operator (`opm retry`).
    #[error("{target} / {opkg} is in error; clear it with 'opm retry' first")]
    RowInError {
        /// The target.
        target: Target,
        /// The opkg.
        opkg: String,
    },
    /// The row is no longer where the attempt's decision saw it: another
    /// worker moved it meanwhile (or its request changed), so the stage is
    /// not begun; decide again.
    #[error("{target} / {opkg} has moved on since {stage} was decided for it; deciding again")]
    RowMoved {
        /// The target.
        target: Target,
        /// The opkg.
        opkg: String,
        /// The stage that was to begin.
        stage: Stage,
    },
    /// The row has a stage under way.
    #[error("{target} / {opkg} has a stage running; wait for it to finish")]
    RowBusy {
        /// The target.
        target: Target,
        /// The opkg.
        opkg: String,
    },
    /// `rerun --from` a stage the row has not completed (or stage 1).
    #[error(
        "{target} / {opkg}: cannot rerun from {from}: current is {current}; pick a stage from should_be_installed up to the current one"
    )]
    InvalidRerun {
        /// The target.
        target: Target,
        /// The opkg.
        opkg: String,
        /// The stage asked for.
        from: Stage,
        /// The row's current stage.
        current: Stage,
    },
    /// A step record that cannot be recorded as given.
    #[error("attempt {attempt}, step {position}: {reason}")]
    InvalidStep {
        /// The attempt.
        attempt: i64,
        /// The step's position.
        position: u32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value read back from the database is out of range: the file was
    /// edited by hand or by another program.
    #[error("database holds an invalid {what}: '{value}'")]
    Corrupt {
        /// What was read.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The database is busy or locked, or its connection dropped;
    /// transient, retry later.
    #[error("database is busy or its connection dropped: {}", brief(.0))]
    Busy(sqlx::Error),
    /// A migration failed.
    #[error("migrating the database failed: {}", brief_migration(.0))]
    Migrate(sqlx::migrate::MigrateError),
    /// Any other database failure.
    #[error("database error: {}", brief(.0))]
    Database(sqlx::Error),
}

// The sqlx errors are shown in the message and not handed on as the
// source: sqlx wraps a database's words ("error returned from database:
// database disk image is malformed") and hands the same words on as its
// source, and the driver's error its own again, so a message printed with
// its chain said the same thing three times (issue 16).

/// A database failure in the database's own words, once.
fn brief(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(db) => db.to_string(),
        other => other.to_string(),
    }
}

/// A failed migration, its database failure said once.
fn brief_migration(error: &sqlx::migrate::MigrateError) -> String {
    match error {
        sqlx::migrate::MigrateError::Execute(inner) => brief(inner),
        sqlx::migrate::MigrateError::ExecuteMigration(inner, version) => {
            format!("migration {version}: {}", brief(inner))
        }
        other => other.to_string(),
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(error)
    }
}

impl StoreError {
    /// True for trouble that goes away by retrying (SPEC §1.3 rule 7).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }

    /// True when the caller gave something wrong; the CLI exits 2.
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            StoreError::Busy(_)
                | StoreError::Database(_)
                | StoreError::Migrate(_)
                | StoreError::Corrupt { .. }
                | StoreError::LeaseHeld { .. }
                | StoreError::StaleToken { .. }
                | StoreError::AttemptSuperseded { .. }
                | StoreError::RowBusy { .. }
                | StoreError::RowInError { .. }
                | StoreError::RowMoved { .. }
        )
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        let transient = match &error {
            sqlx::Error::Database(db) => {
                match db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                    Some(pg) => postgres_transient(pg.code()),
                    // Extended SQLite codes carry the primary code in the
                    // low byte: 5 is SQLITE_BUSY, 6 is SQLITE_LOCKED.
                    None => db
                        .code()
                        .and_then(|code| code.parse::<i64>().ok())
                        .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
                }
            }
            // A dropped connection: the store closes it, so asking
            // again reaches the server on a new one.
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
            _ => false,
        };
        if transient {
            StoreError::Busy(error)
        } else {
            StoreError::Database(error)
        }
    }
}

/// Whether a PostgreSQL SQLSTATE is trouble that asking again cures: a
/// connection lost (class 08) or ended by the server (57P01-57P03, as in a
/// restart), a deadlock or serialization failure, too many connections.
fn postgres_transient(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P") || matches!(code, "40001" | "40P01" | "53300")
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
