//! Whether a database is opm's and fits this opm: both backends list their
//! tables their own way, then share the verdict (another program's tables,
//! a schema too old or too new) and the refusal for the open mode.

use std::collections::BTreeSet;
use std::path::Path;

use sqlx::migrate::Migrator;

use crate::db::{self, Db};
use crate::error::{Result, StoreError};

/// Whether opening may create a new database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `opm init`: create the database when missing; call [`crate::Store::migrate`] next.
    Create,
    /// Every other command: the database must exist and be fully migrated.
    Existing,
}

/// What an existing database turned out to hold.
pub(crate) enum Found {
    /// No database file.
    Missing,
    /// An empty file or a database without tables.
    Empty,
    /// An opm database with these migrations applied.
    Opm(BTreeSet<i64>),
}

/// Refuses what `mode` cannot open: nothing yet, or a schema older than
/// `migrator` outside `opm init`. `place` is the file or URL in messages.
pub(crate) fn check_mode(
    found: &Found,
    mode: OpenMode,
    migrator: &Migrator,
    place: &Path,
) -> Result<()> {
    match (found, mode) {
        (Found::Missing | Found::Empty, OpenMode::Existing) => Err(StoreError::NotInitialised {
            path: place.to_owned(),
        }),
        (Found::Opm(applied), OpenMode::Existing)
            if migrator.iter().any(|m| !applied.contains(&m.version)) =>
        {
            Err(StoreError::SchemaTooOld {
                path: place.to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// Tells an opm database from an empty one or another program's, given the
/// names of its tables (sorted).
pub(crate) async fn classify(
    conn: &mut impl Db,
    tables: &[String],
    migrator: &Migrator,
    place: &Path,
) -> Result<Found> {
    if tables.is_empty() {
        return Ok(Found::Empty);
    }
    let not_opm = |reason: String| StoreError::NotOpmDatabase {
        path: place.to_owned(),
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
        db::query_scalar("SELECT value FROM opm_meta WHERE key = 'application'")
            .fetch_optional(&mut *conn)
            .await?;
    if application.as_deref() != Some("opm") {
        return Err(not_opm("its opm_meta table does not name opm".to_owned()));
    }
    let applied: Vec<i64> = if tables.iter().any(|t| t == "_sqlx_migrations") {
        db::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await?
    } else {
        Vec::new()
    };
    if let Some(version) = applied
        .iter()
        .find(|v| !migrator.iter().any(|m| m.version == **v))
    {
        return Err(StoreError::SchemaTooNew {
            path: place.to_owned(),
            version: *version,
        });
    }
    Ok(Found::Opm(applied.into_iter().collect()))
}
