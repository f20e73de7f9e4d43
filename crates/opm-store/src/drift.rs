//! Verify's findings (SPEC §1.9): a row's status set to `drifted` with
//! what differs, or back to `ok` when its packages are whole again, each
//! only while the row is still as the verify judged it. A verify reads the
//! rows, then the package database, then writes: a stage that started or
//! ended in between (an uninstall that removed the package, an install
//! that reached install-bin-pkgs) changed the row, and its finding is
//! dropped rather than written over newer truth.

use opm_model::{Stage, StatusKind};

use crate::db::{self, Db};
use crate::error::Result;
use crate::rows::RowId;

/// One row's verify finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftMark {
    /// The row.
    pub id: RowId,
    /// Its requested stage when judged.
    pub requested: Stage,
    /// Its current stage when judged.
    pub current: Stage,
    /// Its status when judged: `ok` or `drifted` (a verify judges no other).
    pub was: StatusKind,
    /// What differs (the row becomes `drifted`), or `None` (whole: it
    /// becomes `ok`).
    pub drift: Option<String>,
}

/// Writes the findings that still apply; returns how many rows changed.
pub(crate) async fn record(conn: &mut impl Db, marks: &[DriftMark], now_ms: i64) -> Result<usize> {
    let mut changed = 0;
    for mark in marks {
        let (status, message) = match &mark.drift {
            Some(message) => (StatusKind::Drifted, message.as_str()),
            None => (StatusKind::Ok, ""),
        };
        let done = db::query(
            "UPDATE rows SET status = $1, message = $2, updated_ms = $3 \
             WHERE id = $4 AND status = $5 AND requested = $6 AND current = $7 \
             AND (status <> $1 OR message <> $2)",
        )
        .bind(status.name())
        .bind(message)
        .bind(now_ms)
        .bind(mark.id.0)
        .bind(mark.was.name())
        .bind(i64::from(mark.requested.id()))
        .bind(i64::from(mark.current.id()))
        .execute(&mut *conn)
        .await?;
        changed += usize::try_from(done).unwrap_or(usize::MAX);
    }
    Ok(changed)
}
