//! Starting upgrades (SPEC §1.9): finished rows set back before
//! install-bin-pkgs with the version they go to, so the ladder runs that
//! stage and the later ones again; the rows' versions record the rest.

use crate::db::{self, Conn, Db};
use opm_model::Stage;

use crate::error::Result;
use crate::rows::RowId;

/// One row to upgrade, and the version it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowUpgrade {
    /// The row.
    pub row: RowId,
    /// The opkg version it goes to (`OPM_UPGRADE_TO`).
    pub to: String,
}

/// The UPDATE that sets rows back: $1 the ids as JSON, $2 the stage before
/// install-bin-pkgs, $3 the version, $4 now; `$within` picks the ids.
macro_rules! set_back {
    ($within:literal) => {
        concat!(
            "UPDATE rows SET current = $2, work_version = $3, \
             upgrade_from = COALESCE(upgrade_from, version), updated_ms = $4 WHERE ",
            $within,
            " AND status = 'ok' AND current > $2 AND requested > $2 \
             AND version IS NOT NULL RETURNING id"
        )
    };
}

/// The history entries of rows set back: $1 their ids as JSON, $2
/// install-bin-pkgs, $3 now.
macro_rules! record {
    ($within:literal) => {
        concat!(
            "INSERT INTO history (row_id, target_kind, target_name, opkg, event, stage, \
             started_ms, ended_ms, note) \
             SELECT r.id, CASE WHEN r.node_id IS NOT NULL THEN 'node' ELSE 'image' END, \
             COALESCE(n.name, i.name), o.name, 'rerun', $2, $3, $3, \
             'upgrade from ' || r.upgrade_from || ' to ' || r.work_version \
             FROM rows r LEFT JOIN nodes n ON n.id = r.node_id \
             LEFT JOIN images i ON i.id = r.image_id JOIN opkgs o ON o.id = r.opkg_id WHERE ",
            $within
        )
    };
}

/// Starts the upgrades, in one transaction with the caller's: each row
/// that is still at rest (ok, not running, past install-bin-pkgs) gets
/// `current` set back to the stage before install-bin-pkgs, its work
/// version set to `to` and the version it had kept as the one the upgrade
/// started from; history records it as a rerun from install-bin-pkgs. A
/// row that moved since the caller read it (running, in error, drifted,
/// requested down) is left as it is. The ids of the rows set back.
pub(crate) async fn start(
    conn: &mut impl Db,
    upgrades: &[RowUpgrade],
    now_ms: i64,
) -> Result<Vec<RowId>> {
    let back = Stage::InstallBinPkgs
        .previous()
        .map_or(1, |stage| i64::from(stage.id()));
    let mut started = Vec::new();
    // One statement pair per target version: an upgrade of 10,000 nodes to
    // one version is two statements, not 20,000.
    let mut versions: Vec<&str> = upgrades.iter().map(|u| u.to.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    for to in versions {
        let ids: Vec<i64> = upgrades
            .iter()
            .filter(|u| u.to == to)
            .map(|u| u.row.0)
            .collect();
        let ids = json_ids(&ids);
        let sqlite = matches!(conn.conn(), Conn::Sqlite(_));
        let moved: Vec<i64> = if sqlite {
            db::query_scalar(set_back!("id IN (SELECT value FROM json_each($1))"))
        } else {
            db::query_scalar(set_back!(
                "id IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST($1 AS json)) value)"
            ))
        }
        .bind(&ids)
        .bind(back)
        .bind(to)
        .bind(now_ms)
        .fetch_all(&mut *conn)
        .await?;
        if moved.is_empty() {
            continue;
        }
        if sqlite {
            db::query(record!("r.id IN (SELECT value FROM json_each($1))"))
        } else {
            db::query(record!(
                "r.id IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST($1 AS json)) value)"
            ))
        }
        .bind(json_ids(&moved))
        .bind(i64::from(Stage::InstallBinPkgs.id()))
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
        started.extend(moved.into_iter().map(RowId));
    }
    started.sort_unstable();
    Ok(started)
}

/// A JSON array of ids.
fn json_ids(ids: &[i64]) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("[{}]", ids.join(","))
}
