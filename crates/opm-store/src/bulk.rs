//! A synthetic cluster in bulk, for benchmarks (`opm bench populate`):
//! nodes `bench-n<i>` in the default group, opkgs `bench-p<j>` selected
//! for it (at version 1.0-1), and a row for every node (the head node
//! too) × opkg at one stage, written by a few set-based statements in one
//! transaction.

use opm_model::{Phase, Stage};

use crate::db::{self, Db};
use crate::error::Result;
use crate::locks;
use crate::nodes::DEFAULT_GROUP;

/// `1..=$1` as a derived table `s(i)`, in SQL both dialects read (the
/// outer filter makes `$1 = 0` empty: the recursion starts at 1).
macro_rules! numbers {
    () => {
        "(WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1) \
         SELECT i FROM seq WHERE i <= $1) AS s"
    };
}

/// What to populate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Population {
    /// Compute nodes to add.
    pub nodes: u32,
    /// Opkgs to add.
    pub opkgs: u32,
    /// The stage every row is requested at.
    pub stage: Stage,
    /// Rows one stage behind (`current` the stage before), so each needs
    /// one stage; else converged (`current = requested`).
    pub behind: bool,
}

/// Adds the population; the number of rows written. The cluster phase
/// becomes `complete`, so no gate holds anything back.
pub(crate) async fn populate(
    conn: &mut impl Db,
    population: &Population,
    now_ms: i64,
) -> Result<u64> {
    let current = if population.behind {
        Stage::from_id(population.stage.id().saturating_sub(1)).unwrap_or(population.stage)
    } else {
        population.stage
    };
    db::query(concat!(
        "INSERT INTO nodes (name) SELECT 'bench-n' || i FROM ",
        numbers!()
    ))
    .bind(i64::from(population.nodes))
    .execute(&mut *conn)
    .await?;
    db::query(
        "INSERT INTO group_members (group_id, node_id) \
         SELECT g.id, n.id FROM groups g, nodes n \
         WHERE g.name = $1 AND n.name LIKE 'bench-n%'",
    )
    .bind(DEFAULT_GROUP)
    .execute(&mut *conn)
    .await?;
    db::query(concat!(
        "INSERT INTO opkgs (name, version, summary, source, imported_at_ms, wanted_version) \
         SELECT 'bench-p' || i, '1.0-1', 'a benchmark opkg', 'opm bench populate', $2, '1.0-1' \
         FROM ",
        numbers!()
    ))
    .bind(i64::from(population.opkgs))
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    db::query(
        "INSERT INTO opkg_versions (opkg_id, version, summary, source, imported_at_ms) \
         SELECT id, version, summary, source, imported_at_ms FROM opkgs WHERE name LIKE 'bench-p%'",
    )
    .execute(&mut *conn)
    .await?;
    db::query(
        "INSERT INTO selections (opkg_id, group_id) \
         SELECT o.id, g.id FROM opkgs o, groups g \
         WHERE g.name = $1 AND o.name LIKE 'bench-p%'",
    )
    .bind(DEFAULT_GROUP)
    .execute(&mut *conn)
    .await?;
    // Rows past the bottom were reached with the one version there is.
    let rows = db::query(
        "INSERT INTO rows (node_id, opkg_id, requested, current, status, updated_ms, \
         version, work_version) \
         SELECT n.id, o.id, $1, $2, 'ok', $3, \
         CASE WHEN $2 > 1 THEN o.version END, CASE WHEN $2 > 1 THEN o.version END \
         FROM nodes n CROSS JOIN opkgs o \
         WHERE o.name LIKE 'bench-p%' AND (n.head = 1 OR n.name LIKE 'bench-n%')",
    )
    .bind(i64::from(population.stage.id()))
    .bind(i64::from(current.id()))
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    db::query("UPDATE cluster SET phase = $1, changed_ms = $2 WHERE id = 1")
        .bind(Phase::Complete.name())
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(rows)
}

/// Fresh statistics after a bulk load, so the planner keeps using the
/// pending-row indexes on a suddenly large table. SQLite keeps only the
/// row counts (`sqlite_stat1`): its `sqlite_stat4` samples make it plan a
/// statement again whenever a bound value changes, which cost every
/// point query of an agent's request more than running it did (measured
/// with B4). Connections opened later read the statistics kept.
pub(crate) async fn analyze(conn: &mut impl Db) -> Result<()> {
    db::query("ANALYZE").execute(&mut *conn).await?;
    if locks::is_postgres(conn) {
        return Ok(());
    }
    let stat4: Option<String> = db::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat4'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    if stat4.is_some() {
        db::query("DELETE FROM sqlite_stat4").execute(conn).await?;
    }
    Ok(())
}
