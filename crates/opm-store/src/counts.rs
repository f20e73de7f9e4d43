//! What a metrics scrape reads: how many rows are in each status and
//! stage, and how many leases are held, counted by the database in two
//! aggregate queries on one connection (never a read of the rows
//! themselves, so a scrape of 400,000 rows costs one index scan); and
//! each node's last agent contact as stored, the one record of it that
//! `opm node list` reads too.

use opm_model::{Name, NameKind, Stage, StatusKind};

use crate::db::{self, Db, DbRow};
use crate::error::{Result, StoreError};
use crate::nodes::stored_name;
use crate::rows::stored_stage;

/// The number of rows of one status at one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCount {
    /// Their status.
    pub status: StatusKind,
    /// The stage they last completed; `None` for a row that never said.
    pub stage: Option<Stage>,
    /// How many rows.
    pub rows: u64,
}

/// Every row counted, the leases held, and the agents' last contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// One entry per (status, stage) that has rows.
    pub rows: Vec<RowCount>,
    /// Leases not expired at the time asked about (one per target at work).
    pub leases: u64,
    /// Each node whose agent ever called, by name, with when it last did
    /// (ms since the epoch, as `Store::record_agent_contact` wrote it).
    pub contacts: Vec<(Name, i64)>,
}

/// Counts the rows by status and current stage, and the leases unexpired
/// at `now_ms`; reads the agents' last contacts.
pub(crate) async fn counts(conn: &mut impl Db, now_ms: i64) -> Result<RowCounts> {
    let grouped = db::query(
        "SELECT status, current, count(*) AS n FROM rows GROUP BY status, current \
         ORDER BY status, current",
    )
    .fetch_all(&mut *conn)
    .await?;
    let rows = grouped.iter().map(count_of).collect::<Result<Vec<_>>>()?;
    let leases: i64 = db::query_scalar(
        "SELECT count(DISTINCT lease_token) FROM rows \
         WHERE lease_token IS NOT NULL AND lease_expires_ms > $1",
    )
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    let seen: Vec<(String, i64)> = db::query_as(
        "SELECT name, agent_seen_ms FROM nodes WHERE agent_seen_ms IS NOT NULL ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let contacts = seen
        .into_iter()
        .map(|(name, seen_ms)| Ok((stored_name(NameKind::Node, &name)?, seen_ms)))
        .collect::<Result<Vec<_>>>()?;
    Ok(RowCounts {
        rows,
        leases: u64::try_from(leases).unwrap_or(0),
        contacts,
    })
}

/// One (status, stage, count) row of the aggregate.
fn count_of(row: &DbRow) -> Result<RowCount> {
    let status: String = row.try_get("status")?;
    let stage: Option<i64> = row.try_get("current")?;
    let n: i64 = row.try_get("n")?;
    let status = match status.as_str() {
        "ok" => StatusKind::Ok,
        "running" => StatusKind::Running,
        "error" => StatusKind::Error,
        _ => {
            return Err(StoreError::Corrupt {
                what: "row status",
                value: status,
            });
        }
    };
    Ok(RowCount {
        status,
        stage: stage.map(stored_stage).transpose()?,
        rows: u64::try_from(n).unwrap_or(0),
    })
}
