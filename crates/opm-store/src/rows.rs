//! Rows: one per (target, opkg), what is requested, what is done, and the
//! status; found by the partial `rows_pending*` indexes so a pass costs what
//! there is to do, not what the cluster holds.

use std::collections::HashMap;

use crate::db::{self, Conn, Db, DbRow};
use opm_model::Name;
use opm_model::{
    Lease, NameKind, Row, RowVersion, Stage, Status, Step, Target, TargetKind, Unfinished,
    legal_step,
};

use crate::error::{Result, StoreError};
use crate::history::{self, AttemptResult, Event};
use crate::leases::lease_from;
use crate::nodes::{stored_name, target_from, target_ids};
use crate::opkgs::opkg_id;

/// The stable id of a row, for the engine's calls that follow a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowId(pub i64);

/// A row with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    /// Its id.
    pub id: RowId,
    /// The row itself.
    pub row: Row,
    /// The version its opkg's rows should have now (the pin, else the
    /// newest imported one): a row at another version is outdated.
    pub wanted_version: Option<String>,
}

/// Which rows a pending query looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every target (the head node orchestrates all of them).
    All,
    /// One node or image (a client agent, an image run).
    Target(Target),
}

/// One page of rows; pass `next` back as `after` for the following page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPage {
    /// The rows, by id.
    pub rows: Vec<StoredRow>,
    /// Where the next page starts; `None` when this was the last one.
    pub next: Option<RowId>,
}

/// A compute node with rows its agent may have work in (pending, not in
/// error), and when the newest of those rows last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNode {
    /// The node.
    pub node: Name,
    /// The newest `updated_ms` among those rows: a waiting poll that saw
    /// this value already has nothing new to look at in them.
    pub changed_ms: i64,
}

/// The SELECT every row read shares, with a tail of WHERE/ORDER/LIMIT.
macro_rules! select_rows {
    ($tail:literal) => {
        select_rows!("", "", $tail)
    };
    ($columns:expr, $joins:expr, $tail:expr) => {
        concat!(
            "SELECT r.id, n.name AS node, i.name AS image, o.name AS opkg, r.requested, \
             r.current, r.status, r.message, r.lease_owner, r.lease_token, r.lease_expires_ms, \
             r.node_id, r.image_id, r.version, \
             COALESCE(r.work_version, NULLIF(o.wanted_version, '')) AS work_version, \
             r.upgrade_from, NULLIF(o.wanted_version, '') AS opkg_wanted_version",
            $columns,
            " FROM rows r LEFT JOIN nodes n ON n.id = r.node_id \
             LEFT JOIN images i ON i.id = r.image_id JOIN opkgs o ON o.id = r.opkg_id ",
            $joins,
            $tail
        )
    };
}

/// [`select_rows!`] with the current lease of each row's target, as
/// `held_owner`, `held_token` and `held_expires_ms` (NULL when none).
macro_rules! select_leased_rows {
    ($columns:expr, $joins:expr, $tail:expr) => {
        select_rows!(
            concat!(
                ", COALESCE(ln.owner, li.owner) AS held_owner, \
                 COALESCE(ln.token, li.token) AS held_token, \
                 COALESCE(ln.expires_ms, li.expires_ms) AS held_expires_ms",
                $columns
            ),
            concat!(
                "LEFT JOIN leases ln ON ln.node_id = r.node_id \
                 LEFT JOIN leases li ON li.image_id = r.image_id ",
                $joins
            ),
            $tail
        )
    };
}

/// The pending-rows queries. The WHERE repeats the partial index predicate
/// verbatim: SQLite uses a partial index only when the query's WHERE holds
/// its predicate as a term. Every `LIMIT` of a bound value in this crate
/// is written `CAST($n AS BIGINT)`: SQLite plans a bare `LIMIT $n` with the
/// value bound at the time, so binding it again makes it prepare the
/// statement anew on each run (B4: 11% of the SQLite threads' time).
macro_rules! pending_sql {
    (all) => {
        select_rows!(
            "WHERE (r.status <> 'ok' OR r.current IS NULL OR r.requested <> r.current) \
             AND r.id > $1 ORDER BY r.id LIMIT CAST($2 AS BIGINT)"
        )
    };
    (node) => {
        select_rows!(
            "WHERE (r.status <> 'ok' OR r.current IS NULL OR r.requested <> r.current) \
             AND r.node_id = (SELECT id FROM nodes WHERE name = $1) AND r.id > $2 \
             ORDER BY r.id LIMIT CAST($3 AS BIGINT)"
        )
    };
    (image) => {
        select_rows!(
            "WHERE (r.status <> 'ok' OR r.current IS NULL OR r.requested <> r.current) \
             AND r.image_id = (SELECT id FROM images WHERE name = $1) AND r.id > $2 \
             ORDER BY r.id LIMIT CAST($3 AS BIGINT)"
        )
    };
}

/// A stored stage id read back.
pub(crate) fn stored_stage(id: i64) -> Result<Stage> {
    u8::try_from(id)
        .ok()
        .and_then(Stage::from_id)
        .ok_or_else(|| StoreError::Corrupt {
            what: "stage id",
            value: id.to_string(),
        })
}

/// A lease token as stored (SQLite integers are signed).
pub(crate) fn token_value(token: u64) -> Result<i64> {
    i64::try_from(token).map_err(|_| StoreError::Corrupt {
        what: "lease token",
        value: token.to_string(),
    })
}

fn decode(row: &DbRow) -> Result<StoredRow> {
    let status: String = row.try_get("status")?;
    let status = match status.as_str() {
        "ok" => Status::Ok,
        "error" => Status::Error {
            message: row.try_get("message")?,
        },
        "drifted" => Status::Drifted {
            message: row.try_get("message")?,
        },
        "running" => {
            let owner: Option<String> = row.try_get("lease_owner")?;
            let token: Option<i64> = row.try_get("lease_token")?;
            let expires_at_ms: Option<i64> = row.try_get("lease_expires_ms")?;
            match (
                owner,
                token.and_then(|t| u64::try_from(t).ok()),
                expires_at_ms,
            ) {
                (Some(owner), Some(token), Some(expires_at_ms)) => Status::Running {
                    lease: Lease {
                        owner,
                        token,
                        expires_at_ms,
                    },
                },
                _ => {
                    return Err(StoreError::Corrupt {
                        what: "running row without a lease",
                        value: row.try_get::<i64, _>("id")?.to_string(),
                    });
                }
            }
        }
        other => {
            return Err(StoreError::Corrupt {
                what: "row status",
                value: other.to_owned(),
            });
        }
    };
    let current: Option<i64> = row.try_get("current")?;
    Ok(StoredRow {
        id: RowId(row.try_get("id")?),
        row: Row {
            target: target_from(row.try_get("node")?, row.try_get("image")?)?,
            package: stored_name(NameKind::Opkg, &row.try_get::<String, _>("opkg")?)?,
            requested: stored_stage(row.try_get("requested")?)?,
            current: current.map(stored_stage).transpose()?,
            status,
            version: RowVersion {
                reached: row.try_get("version")?,
                work: row.try_get("work_version")?,
                upgrade_from: row.try_get("upgrade_from")?,
            },
        },
        wanted_version: row.try_get("opkg_wanted_version")?,
    })
}

fn decode_all(rows: &[DbRow]) -> Result<Vec<StoredRow>> {
    rows.iter().map(decode).collect()
}

/// A page from rows fetched with `limit + 1`, so the extra one says "more".
fn page(mut rows: Vec<StoredRow>, limit: u32) -> RowPage {
    let limit = limit as usize;
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    RowPage { rows, next }
}

/// One row by id.
pub(crate) async fn row_by_id(conn: &mut impl Db, id: RowId) -> Result<StoredRow> {
    let row = db::query(select_rows!("WHERE r.id = $1"))
        .bind(id.0)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::UnknownRowId { id: id.0 })?;
    decode(&row)
}

/// A row read for a lease-checked write, with its target's current lease,
/// in one query.
pub(crate) struct LeasedRow {
    /// The row.
    pub(crate) stored: StoredRow,
    /// The target's current lease, if any.
    pub(crate) lease: Option<Lease>,
}

/// A [`LeasedRow`] from a row [`select_leased_rows!`] fetched.
pub(crate) fn decode_leased(row: &DbRow) -> Result<LeasedRow> {
    let owner: Option<String> = row.try_get("held_owner")?;
    let lease = match owner {
        Some(owner) => Some(lease_from(
            owner,
            row.try_get("held_token")?,
            row.try_get("held_expires_ms")?,
        )?),
        None => None,
    };
    Ok(LeasedRow {
        stored: decode(row)?,
        lease,
    })
}

/// Row `id` with its target's lease (see [`LeasedRow`]).
pub(crate) async fn leased_row(conn: &mut impl Db, id: RowId) -> Result<LeasedRow> {
    let row = db::query(select_leased_rows!("", "", "WHERE r.id = $1"))
        .bind(id.0)
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::UnknownRowId { id: id.0 })?;
    decode_leased(&row)
}

/// A row as an attempt begins on it: with its target's lease and what its
/// newest attempt left unfinished.
pub(crate) async fn row_to_begin(
    conn: &mut impl Db,
    id: RowId,
) -> Result<(LeasedRow, Option<Unfinished>)> {
    let row = db::query(select_leased_rows!(
        last_attempt_columns!(),
        "",
        "WHERE r.id = $1"
    ))
    .bind(id.0)
    .fetch_optional(conn)
    .await?
    .ok_or(StoreError::UnknownRowId { id: id.0 })?;
    Ok((decode_leased(&row)?, decode_unfinished(&row)?))
}

/// What the newest attempt of a row fetched with
/// [`last_attempt_columns!`] left unfinished.
pub(crate) fn decode_unfinished(row: &DbRow) -> Result<Option<Unfinished>> {
    let stage: Option<i64> = row.try_get("last_stage")?;
    let result: Option<String> = row.try_get("last_result")?;
    Ok(match (stage, result) {
        (Some(stage), Some(result)) => {
            Unfinished::after(stored_stage(stage)?, result == AttemptResult::Passed.name())
        }
        _ => None,
    })
}

/// A leased row with its attempt's result and lease token.
pub(crate) type LeasedAttempt = (LeasedRow, Option<String>, Option<i64>);

/// The columns [`leased_row_of_attempt`]'s query reads, after the SELECT
/// of [`select_leased_rows!`], and the join they come from.
macro_rules! attempt_columns {
    () => {
        ", h.result, h.lease_token AS attempt_token"
    };
}
macro_rules! attempt_join {
    () => {
        "JOIN history h ON h.row_id = r.id "
    };
}
/// The stage and result of a row's newest attempt, as `last_stage` and
/// `last_result` (NULL when it has none), after the SELECT of
/// [`select_leased_rows!`]: what [`opm_model::legal_step`] needs to know
/// whether that attempt left work unfinished.
macro_rules! last_attempt_columns {
    () => {
        ", (SELECT la.stage FROM history la WHERE la.row_id = r.id AND la.event = 'attempt' \
             ORDER BY la.id DESC LIMIT 1) AS last_stage, \
         (SELECT la.result FROM history la WHERE la.row_id = r.id AND la.event = 'attempt' \
             ORDER BY la.id DESC LIMIT 1) AS last_result"
    };
}
pub(crate) use {
    attempt_columns, attempt_join, last_attempt_columns, select_leased_rows, select_rows,
};

/// The row of stage attempt `attempt` with its target's lease, and the
/// attempt's result and lease token; `None` when no such attempt (or its
/// row) exists.
pub(crate) async fn leased_row_of_attempt(
    conn: &mut impl Db,
    attempt: i64,
) -> Result<Option<LeasedAttempt>> {
    let row = db::query(select_leased_rows!(
        attempt_columns!(),
        attempt_join!(),
        "WHERE h.id = $1 AND h.event = 'attempt'"
    ))
    .bind(attempt)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(decode_leased_attempt).transpose()
}

/// A [`LeasedAttempt`] from a row with [`attempt_columns!`].
pub(crate) fn decode_leased_attempt(row: &DbRow) -> Result<LeasedAttempt> {
    Ok((
        decode_leased(row)?,
        row.try_get("result")?,
        row.try_get("attempt_token")?,
    ))
}

/// The row id of (target, opkg), if the row exists.
async fn find(conn: &mut impl Db, target: &Target, opkg: &Name) -> Result<Option<i64>> {
    let ids = target_ids(conn, target).await?;
    let opkg = opkg_id(conn, opkg).await?;
    // By the target's one set column, so the (target, opkg) index serves:
    // `IS NOT DISTINCT FROM` a pair made SQLite scan every row.
    Ok(match ids {
        (Some(node), _) => {
            db::query_scalar("SELECT id FROM rows WHERE node_id = $1 AND opkg_id = $2").bind(node)
        }
        (None, image) => {
            db::query_scalar("SELECT id FROM rows WHERE image_id = $1 AND opkg_id = $2").bind(image)
        }
    }
    .bind(opkg)
    .fetch_optional(conn)
    .await?)
}

/// One row by (target, opkg).
pub(crate) async fn row(conn: &mut impl Db, target: &Target, opkg: &Name) -> Result<StoredRow> {
    // One query by names; only a miss looks further, to say which name is
    // unknown.
    let found = match target.kind {
        TargetKind::Node => db::query(select_rows!("WHERE n.name = $1 AND o.name = $2")),
        TargetKind::Image => db::query(select_rows!("WHERE i.name = $1 AND o.name = $2")),
    }
    .bind(target.name.as_str())
    .bind(opkg.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(found) = found {
        return decode(&found);
    }
    let id = find(conn, target, opkg)
        .await?
        .ok_or_else(|| StoreError::UnknownRow {
            target: target.clone(),
            opkg: opkg.to_string(),
        })?;
    row_by_id(conn, RowId(id)).await
}

/// A row that would now look converged (ok, `current == requested`) while
/// its newest attempt left work the ladder still asks for (an uninstall cut
/// short, then requested back up; an install from the bottom cut short,
/// then requested down) gets `current` unknown: the pending index holds a
/// row with an unknown current, so the engine sees it until an attempt
/// passes (issue 16). Otherwise such a row showed converged and ok with
/// its packages half removed or left behind.
async fn keep_pending(conn: &mut impl Db, mut stored: StoredRow) -> Result<StoredRow> {
    let row = &stored.row;
    if row.status != Status::Ok || row.current != Some(row.requested) {
        return Ok(stored);
    }
    let newest = db::query(
        "SELECT stage AS last_stage, result AS last_result FROM history \
         WHERE row_id = $1 AND event = 'attempt' ORDER BY id DESC LIMIT 1",
    )
    .bind(stored.id.0)
    .fetch_optional(&mut *conn)
    .await?;
    let unfinished = match newest {
        Some(newest) => decode_unfinished(&newest)?,
        None => None,
    };
    if matches!(
        legal_step(row.current, row.requested, unfinished),
        Step::Converged | Step::Ahead
    ) {
        return Ok(stored);
    }
    db::query("UPDATE rows SET current = NULL WHERE id = $1")
        .bind(stored.id.0)
        .execute(&mut *conn)
        .await?;
    stored.row.current = None;
    Ok(stored)
}

/// Sets `requested`, creating the row (current = should_not_be_installed)
/// when there is none; never a duplicate.
pub(crate) async fn request(
    conn: &mut impl Db,
    target: &Target,
    opkg: &Name,
    stage: Stage,
    now_ms: i64,
) -> Result<StoredRow> {
    let id = match find(conn, target, opkg).await? {
        Some(id) => {
            db::query("UPDATE rows SET requested = $1, updated_ms = $2 WHERE id = $3")
                .bind(i64::from(stage.id()))
                .bind(now_ms)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            id
        }
        None => {
            let (node, image) = target_ids(conn, target).await?;
            let opkg = opkg_id(conn, opkg).await?;
            db::query_scalar(
                "INSERT INTO rows (node_id, image_id, opkg_id, requested, current, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(node)
            .bind(image)
            .bind(opkg)
            .bind(i64::from(stage.id()))
            .bind(i64::from(Stage::FIRST.id()))
            .bind(now_ms)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let stored = row_by_id(conn, RowId(id)).await?;
    keep_pending(conn, stored).await
}

/// Rows that need work or wait in error or running, in id order after `after`.
pub(crate) async fn pending(
    conn: &mut impl Db,
    scope: &Scope,
    after: Option<RowId>,
    limit: u32,
) -> Result<RowPage> {
    let after = after.map_or(0, |a| a.0);
    let fetch = i64::from(limit) + 1;
    let rows = match scope {
        Scope::All => {
            db::query(pending_sql!(all))
                .bind(after)
                .bind(fetch)
                .fetch_all(conn)
                .await?
        }
        Scope::Target(target) => {
            // The target by name within the query; only an empty answer
            // looks further, to tell an unknown target from one at rest.
            let rows = match target.kind {
                TargetKind::Node => db::query(pending_sql!(node)),
                TargetKind::Image => db::query(pending_sql!(image)),
            }
            .bind(target.name.as_str())
            .bind(after)
            .bind(fetch)
            .fetch_all(&mut *conn)
            .await?;
            if rows.is_empty() {
                target_ids(conn, target).await?;
            }
            rows
        }
    };
    Ok(page(decode_all(&rows)?, limit))
}

/// Every node with rows its agent may have work in, by name. The WHERE
/// holds the pending index's predicate, so this reads pending rows only.
/// A row in error waits for an operator and a drifted one for a repair:
/// neither is work for the agent.
pub(crate) async fn nodes_with_work(conn: &mut impl Db) -> Result<Vec<PendingNode>> {
    let found: Vec<(String, i64)> = db::query_as(
        "SELECT n.name, MAX(r.updated_ms) FROM rows r JOIN nodes n ON n.id = r.node_id \
         WHERE (r.status <> 'ok' OR r.current IS NULL OR r.requested <> r.current) \
         AND r.status NOT IN ('error', 'drifted') AND n.head = 0 \
         GROUP BY n.name ORDER BY n.name",
    )
    .fetch_all(conn)
    .await?;
    found
        .into_iter()
        .map(|(name, changed_ms)| {
            Ok(PendingNode {
                node: stored_name(NameKind::Node, &name)?,
                changed_ms,
            })
        })
        .collect()
}

/// Every row of one opkg.
pub(crate) async fn for_opkg(conn: &mut impl Db, opkg: &Name) -> Result<Vec<StoredRow>> {
    let id = opkg_id(conn, opkg).await?;
    let rows = db::query(select_rows!("WHERE r.opkg_id = $1 ORDER BY r.id"))
        .bind(id)
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

/// Every row of the opkgs named, by id. The names cross as one JSON array,
/// which each dialect unpacks as a table: one statement for any number of
/// opkgs, where one query per opkg cost a round trip each (an engine pass
/// over 2,000 opkgs with work on the head node: 4,000 statements).
pub(crate) async fn for_opkgs(conn: &mut impl Db, opkgs: &[Name]) -> Result<Vec<StoredRow>> {
    if opkgs.is_empty() {
        return Ok(Vec::new());
    }
    let query = match conn.conn() {
        Conn::Sqlite(_) => db::query(select_rows!(
            "WHERE o.name IN (SELECT value FROM json_each($1)) ORDER BY r.id"
        )),
        Conn::Postgres(_) => db::query(select_rows!(
            "WHERE o.name IN (SELECT json_array_elements_text(CAST($1 AS json))) ORDER BY r.id"
        )),
    };
    let rows = query
        .bind(json_strings(opkgs.iter().map(Name::as_str)))
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

/// A JSON array of strings.
fn json_strings<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut json = String::from("[");
    for (index, value) in values.enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push('"');
        for c in value.chars() {
            match c {
                '"' => json.push_str("\\\""),
                '\\' => json.push_str("\\\\"),
                c if u32::from(c) < 0x20 => json.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => json.push(c),
            }
        }
        json.push('"');
    }
    json.push(']');
    json
}

/// Every row of one target.
pub(crate) async fn for_target(conn: &mut impl Db, target: &Target) -> Result<Vec<StoredRow>> {
    let rows = match target.kind {
        TargetKind::Node => db::query(select_rows!("WHERE n.name = $1 ORDER BY r.id")),
        TargetKind::Image => db::query(select_rows!("WHERE i.name = $1 ORDER BY r.id")),
    }
    .bind(target.name.as_str())
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        // No rows, or no such target: the lookup tells which.
        target_ids(conn, target).await?;
    }
    decode_all(&rows)
}

/// One page of rows as one text value, `id,node,image,opkg,requested,
/// current,ok` per row joined by `;` (0 for NULL), in the dialect's string
/// aggregate: one value crosses the driver instead of a row each.
macro_rules! packed_page {
    ($aggregate:literal) => {
        concat!(
            "SELECT ",
            $aggregate,
            "(id || ',' || coalesce(node_id, 0) || ',' || coalesce(image_id, 0) || ',' \
               || opkg_id || ',' || requested || ',' || coalesce(current, 0) || ',' \
               || (CASE WHEN status = 'ok' THEN 1 ELSE 0 END), ';') \
             FROM (SELECT * FROM rows WHERE id > $1 ORDER BY id LIMIT CAST($2 AS BIGINT)) page"
        )
    };
}

/// A row of a packed page: ids and stage numbers, 0 for NULL.
struct Bare {
    id: i64,
    node: i64,
    image: i64,
    opkg: i64,
    requested: i64,
    current: i64,
    ok: bool,
}

/// Reads a packed page back, in id order (an aggregate promises none).
fn unpack_page(packed: Option<String>) -> Result<Vec<Bare>> {
    let corrupt = |value: &str| StoreError::Corrupt {
        what: "packed row page",
        value: value.to_owned(),
    };
    let Some(packed) = packed else {
        return Ok(Vec::new());
    };
    let mut rows = packed
        .split(';')
        .map(|entry| {
            let mut fields = entry.split(',').map(str::parse::<i64>);
            let mut next = || {
                fields
                    .next()
                    .and_then(std::result::Result::ok)
                    .ok_or_else(|| corrupt(entry))
            };
            Ok(Bare {
                id: next()?,
                node: next()?,
                image: next()?,
                opkg: next()?,
                requested: next()?,
                current: next()?,
                ok: next()? == 1,
            })
        })
        .collect::<Result<Vec<Bare>>>()?;
    rows.sort_unstable_by_key(|row| row.id);
    Ok(rows)
}

/// The names behind the ids one page of rows refers to.
async fn page_names(
    conn: &mut impl Db,
    sql: &'static str,
    kind: NameKind,
    after: i64,
    fetch: i64,
) -> Result<HashMap<i64, Name>> {
    let pairs: Vec<(i64, String)> = db::query_as(sql)
        .bind(after)
        .bind(fetch)
        .fetch_all(conn)
        .await?;
    pairs
        .into_iter()
        .map(|(id, name)| Ok((id, stored_name(kind, &name)?)))
        .collect()
}

/// Every row, one page at a time.
///
/// Whole-cluster reads (`opm plan` and `opm status` on the head node) walk
/// every row, so a page is read as bare numbers, its few distinct names
/// once each, and only rows not `ok` (which carry a message or a lease) in
/// full: decoding the joined names and lease columns per row cost several
/// times as much.
pub(crate) async fn all(conn: &mut impl Db, after: Option<RowId>, limit: u32) -> Result<RowPage> {
    /// The page's ids, written once for the three name lookups.
    macro_rules! in_page {
        ($column:literal) => {
            concat!(
                "(SELECT ",
                $column,
                " FROM rows WHERE id > $1 ORDER BY id LIMIT CAST($2 AS BIGINT))"
            )
        };
    }
    let after = after.map_or(0, |a| a.0);
    let fetch = i64::from(limit) + 1;
    let packed = match conn.conn() {
        Conn::Sqlite(_) => db::query_scalar(packed_page!("group_concat")),
        Conn::Postgres(_) => db::query_scalar(packed_page!("string_agg")),
    }
    .bind(after)
    .bind(fetch)
    .fetch_one(&mut *conn)
    .await?;
    let mut bare = unpack_page(packed)?;
    // The extra row only says "more"; `next` comes from the bare page, so
    // a row left out below cannot end the walk early.
    let more = bare.len() > limit as usize;
    bare.truncate(limit as usize);
    let Some(last) = bare.last().map(|row| row.id) else {
        return Ok(RowPage {
            rows: Vec::new(),
            next: None,
        });
    };
    let nodes = page_names(
        conn,
        concat!(
            "SELECT id, name FROM nodes WHERE id IN ",
            in_page!("node_id")
        ),
        NameKind::Node,
        after,
        fetch,
    )
    .await?;
    let images = page_names(
        conn,
        concat!(
            "SELECT id, name FROM images WHERE id IN ",
            in_page!("image_id")
        ),
        NameKind::Image,
        after,
        fetch,
    )
    .await?;
    let opkgs = page_names(
        conn,
        concat!(
            "SELECT id, name FROM opkgs WHERE id IN ",
            in_page!("opkg_id")
        ),
        NameKind::Opkg,
        after,
        fetch,
    )
    .await?;
    let wanted: HashMap<i64, String> = db::query_as(concat!(
        "SELECT id, wanted_version FROM opkgs WHERE wanted_version <> '' AND id IN ",
        in_page!("opkg_id")
    ))
    .bind(after)
    .bind(fetch)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    // Versions are text, so they stay out of the packed page; ok rows
    // carry them in a second read of the page's rows.
    type Versions = (i64, Option<String>, Option<String>, Option<String>);
    let mut versions: HashMap<i64, RowVersion> = db::query_as::<Versions>(
        "SELECT id, version, work_version, upgrade_from FROM rows \
         WHERE id > $1 AND id <= $2 AND status = 'ok' \
         AND (version IS NOT NULL OR work_version IS NOT NULL OR upgrade_from IS NOT NULL)",
    )
    .bind(after)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|(id, reached, work, upgrade_from)| {
        (
            id,
            RowVersion {
                reached,
                work,
                upgrade_from,
            },
        )
    })
    .collect();
    let mut full: HashMap<i64, StoredRow> = HashMap::new();
    if bare.iter().any(|row| !row.ok) {
        let rows = db::query(select_rows!(
            "WHERE r.status <> 'ok' AND r.id > $1 AND r.id <= $2 ORDER BY r.id"
        ))
        .bind(after)
        .bind(last)
        .fetch_all(&mut *conn)
        .await?;
        for stored in decode_all(&rows)? {
            full.insert(stored.id.0, stored);
        }
    }
    // A name or row missing here was removed between the queries: the row
    // went with it (ON DELETE CASCADE), so it is left out as if read later.
    let mut rows = Vec::with_capacity(bare.len());
    for Bare {
        id,
        node,
        image,
        opkg,
        requested,
        current,
        ok,
    } in bare
    {
        if !ok {
            rows.extend(full.remove(&id));
            continue;
        }
        let target = match (node, image) {
            (node, 0) if node != 0 => nodes.get(&node).cloned().map(Target::node),
            (0, image) if image != 0 => images.get(&image).cloned().map(Target::image),
            _ => {
                return Err(StoreError::Corrupt {
                    what: "row target",
                    value: "neither or both of node and image".to_owned(),
                });
            }
        };
        let (Some(target), Some(package)) = (target, opkgs.get(&opkg).cloned()) else {
            continue;
        };
        let wanted_version = wanted.get(&opkg).cloned();
        let mut version = versions.remove(&id).unwrap_or_default();
        if version.work.is_none() {
            version.work = wanted_version.clone();
        }
        rows.push(StoredRow {
            id: RowId(id),
            row: Row {
                target,
                package,
                requested: stored_stage(requested)?,
                current: (current != 0).then(|| stored_stage(current)).transpose()?,
                status: Status::Ok,
                version,
            },
            wanted_version,
        });
    }
    Ok(RowPage {
        rows,
        next: more.then_some(RowId(last)),
    })
}

/// Clears an error so the failed stage runs again (resumed at its failed
/// step, or from its first with `whole_stage`); the reason goes to history.
pub(crate) async fn retry(
    conn: &mut impl Db,
    target: &Target,
    opkg: &Name,
    reason: &str,
    whole_stage: bool,
    now_ms: i64,
) -> Result<StoredRow> {
    let stored = row(conn, target, opkg).await?;
    if !matches!(stored.row.status, Status::Error { .. }) {
        return Err(StoreError::NotInError {
            target: target.clone(),
            opkg: opkg.to_string(),
            status: stored.row.status.kind().to_string(),
        });
    }
    db::query("UPDATE rows SET status = 'ok', message = '', updated_ms = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(stored.id.0)
        .execute(&mut *conn)
        .await?;
    history::record_event(
        conn,
        &stored,
        Event::Retry,
        None,
        reason,
        whole_stage,
        now_ms,
    )
    .await?;
    let stored = row_by_id(conn, stored.id).await?;
    keep_pending(conn, stored).await
}

/// Sets `current` back so that `from` and the stages after it run again.
pub(crate) async fn rerun(
    conn: &mut impl Db,
    target: &Target,
    opkg: &Name,
    from: Stage,
    now_ms: i64,
) -> Result<StoredRow> {
    let stored = row(conn, target, opkg).await?;
    if matches!(stored.row.status, Status::Running { .. }) {
        return Err(StoreError::RowBusy {
            target: target.clone(),
            opkg: opkg.to_string(),
        });
    }
    let current = stored.row.effective_current();
    let back = match from.previous() {
        Some(back) if from <= current => back,
        _ => {
            return Err(StoreError::InvalidRerun {
                target: target.clone(),
                opkg: opkg.to_string(),
                from,
                current,
            });
        }
    };
    db::query(
        "UPDATE rows SET current = $1, status = 'ok', message = '', updated_ms = $2 WHERE id = $3",
    )
    .bind(i64::from(back.id()))
    .bind(now_ms)
    .bind(stored.id.0)
    .execute(&mut *conn)
    .await?;
    let note = format!("from {from}");
    history::record_event(
        conn,
        &stored,
        Event::Rerun,
        Some(from),
        &note,
        false,
        now_ms,
    )
    .await?;
    row_by_id(conn, stored.id).await
}

/// The plan the database picks for the pending query of a scope, one line
/// per step (SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's `EXPLAIN`).
pub(crate) async fn explain_pending(conn: &mut impl Db, scope: &Scope) -> Result<Vec<String>> {
    let postgres = matches!(conn.conn(), Conn::Postgres(_));
    macro_rules! explain {
        ($which:tt) => {
            if postgres {
                db::query(concat!("EXPLAIN ", pending_sql!($which)))
            } else {
                db::query(concat!("EXPLAIN QUERY PLAN ", pending_sql!($which)))
            }
        };
    }
    let query = match scope {
        Scope::All => explain!(all),
        Scope::Target(target) => match target.kind {
            TargetKind::Node => explain!(node).bind(target.name.as_str()),
            TargetKind::Image => explain!(image).bind(target.name.as_str()),
        },
    };
    // SQLite's plan text is its `detail` column, PostgreSQL's the only one.
    let column: usize = if postgres { 0 } else { 3 };
    let plan = query.bind(0_i64).bind(100_i64).fetch_all(conn).await?;
    plan.iter()
        .map(|step| Ok(step.try_get::<String, _>(column)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::json_strings;

    #[test]
    fn json_strings_escape_what_json_needs() {
        assert_eq!(json_strings([].into_iter()), "[]");
        assert_eq!(
            json_strings(["slurm", "a\"b\\c\u{1}"].into_iter()),
            r#"["slurm","a\"b\\c\u0001"]"#
        );
    }
}
