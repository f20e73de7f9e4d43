//! Imported opkgs, their resolved opkg-level relations, and the groups each
//! is selected for.

use std::collections::HashMap;

use crate::db::{self, Db};
use opm_model::{Name, NameKind};

use crate::error::{Result, StoreError};
use crate::nodes::{group_id, stored_name};

/// An opkg as `opm opkg import` registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpkgImport {
    /// Its name.
    pub name: Name,
    /// Its version, as config.xml spells it.
    pub version: String,
    /// The one-line summary.
    pub summary: String,
    /// Where the source or the packages came from (a path or a repository).
    pub source: String,
    /// Opkgs it depends on, already resolved from package names and capabilities.
    pub depends: Vec<Name>,
    /// Opkgs it conflicts with, already resolved.
    pub conflicts: Vec<Name>,
}

/// An imported opkg read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opkg {
    /// What was imported last.
    pub import: OpkgImport,
    /// When it was imported last.
    pub imported_at_ms: i64,
    /// The groups it is selected for, by name.
    pub groups: Vec<Name>,
    /// Every version ever imported, oldest first by version order.
    pub versions: Vec<String>,
    /// The version it is pinned to (`opm opkg pin`), if it is.
    pub pinned: Option<String>,
    /// The version its rows should have: the pin, else the newest imported.
    pub wanted_version: String,
}

/// The opkg id of an imported opkg.
pub(crate) async fn opkg_id(conn: &mut impl Db, name: &Name) -> Result<i64> {
    db::query_scalar("SELECT id FROM opkgs WHERE name = $1")
        .bind(name.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::UnknownOpkg {
            name: name.to_string(),
        })
}

/// Keeps `opkgs.wanted_version` (the pin, else the newest imported
/// version by opm's order) in step with the versions and the pin of opkg
/// `id`; SQL cannot order versions as dpkg does, so it is computed here.
async fn settle_wanted(conn: &mut impl Db, id: i64) -> Result<String> {
    let versions: Vec<String> =
        db::query_scalar("SELECT version FROM opkg_versions WHERE opkg_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let pinned: Option<String> = db::query_scalar("SELECT pinned FROM opkgs WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let wanted = opm_model::version::wanted(versions.iter().map(String::as_str), pinned.as_deref())
        .unwrap_or_default()
        .to_owned();
    db::query("UPDATE opkgs SET wanted_version = $1 WHERE id = $2 AND wanted_version <> $1")
        .bind(&wanted)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(wanted)
}

/// Pins an opkg to one of its imported versions, or unpins it (`None`);
/// the version its rows should have now.
pub(crate) async fn pin(conn: &mut impl Db, name: &Name, version: Option<&str>) -> Result<String> {
    let id = opkg_id(conn, name).await?;
    if let Some(version) = version {
        let known: Option<i64> = db::query_scalar(
            "SELECT opkg_id FROM opkg_versions WHERE opkg_id = $1 AND version = $2",
        )
        .bind(id)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?;
        if known.is_none() {
            let versions: Vec<String> =
                db::query_scalar("SELECT version FROM opkg_versions WHERE opkg_id = $1")
                    .bind(id)
                    .fetch_all(&mut *conn)
                    .await?;
            return Err(StoreError::UnknownVersion {
                opkg: name.to_string(),
                version: version.to_owned(),
                imported: sorted_versions(versions),
            });
        }
    }
    db::query("UPDATE opkgs SET pinned = $1 WHERE id = $2")
        .bind(version)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    settle_wanted(conn, id).await
}

/// Versions in opm's order, oldest first.
fn sorted_versions(mut versions: Vec<String>) -> Vec<String> {
    versions.sort_by(|left, right| opm_model::version::compare(left, right));
    versions
}

/// Imports an opkg or replaces what an earlier import said about it; rows,
/// selections and values survive a re-import, and every version imported
/// is kept (SPEC §1.9).
pub(crate) async fn import(conn: &mut impl Db, opkg: &OpkgImport, now_ms: i64) -> Result<()> {
    let id: i64 = db::query_scalar(
        "INSERT INTO opkgs (name, version, summary, source, imported_at_ms) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, summary = excluded.summary, \
         source = excluded.source, imported_at_ms = excluded.imported_at_ms RETURNING id",
    )
    .bind(opkg.name.as_str())
    .bind(&opkg.version)
    .bind(&opkg.summary)
    .bind(&opkg.source)
    .bind(now_ms)
    .fetch_one(&mut *conn)
    .await?;
    db::query(
        "INSERT INTO opkg_versions (opkg_id, version, summary, source, imported_at_ms) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (opkg_id, version) DO UPDATE SET \
         summary = excluded.summary, source = excluded.source, imported_at_ms = excluded.imported_at_ms",
    )
    .bind(id)
    .bind(&opkg.version)
    .bind(&opkg.summary)
    .bind(&opkg.source)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    settle_wanted(conn, id).await?;
    db::query("DELETE FROM opkg_relations WHERE opkg_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let relations = opkg
        .depends
        .iter()
        .map(|other| ("depends", other))
        .chain(opkg.conflicts.iter().map(|other| ("conflicts", other)));
    for (kind, other) in relations {
        db::query(
            "INSERT INTO opkg_relations (opkg_id, kind, other) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(kind)
        .bind(other.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Selects an opkg for a group (idempotent).
pub(crate) async fn select(conn: &mut impl Db, opkg: &Name, group: &Name) -> Result<()> {
    let opkg = opkg_id(conn, opkg).await?;
    let group = group_id(conn, group).await?;
    db::query("INSERT INTO selections (opkg_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(opkg)
        .bind(group)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every imported opkg, by name.
pub(crate) async fn opkgs(conn: &mut impl Db) -> Result<Vec<Opkg>> {
    // Three queries whatever the number of opkgs: an agent's poll reads
    // them all, so one query per opkg would grow with the site's catalogue.
    type OpkgRecord = (
        i64,
        String,
        String,
        String,
        String,
        i64,
        Option<String>,
        String,
    );
    let records: Vec<OpkgRecord> = db::query_as(
        "SELECT id, name, version, summary, source, imported_at_ms, pinned, wanted_version \
         FROM opkgs ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let imported: Vec<(i64, String)> =
        db::query_as("SELECT opkg_id, version FROM opkg_versions ORDER BY opkg_id")
            .fetch_all(&mut *conn)
            .await?;
    let mut versions: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, version) in imported {
        versions.entry(id).or_default().push(version);
    }
    let relations: Vec<(i64, String, String)> = db::query_as(
        "SELECT opkg_id, kind, other FROM opkg_relations ORDER BY opkg_id, kind, other",
    )
    .fetch_all(&mut *conn)
    .await?;
    let selections: Vec<(i64, String)> = db::query_as(
        "SELECT s.opkg_id, g.name FROM selections s JOIN groups g ON g.id = s.group_id \
         ORDER BY s.opkg_id, g.name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut related: HashMap<i64, (Vec<Name>, Vec<Name>)> = HashMap::new();
    for (id, kind, other) in relations {
        let other = stored_name(NameKind::Opkg, &other)?;
        let (depends, conflicts) = related.entry(id).or_default();
        if kind == "depends" {
            depends.push(other);
        } else {
            conflicts.push(other);
        }
    }
    let mut groups: HashMap<i64, Vec<Name>> = HashMap::new();
    for (id, group) in selections {
        groups
            .entry(id)
            .or_default()
            .push(stored_name(NameKind::Group, &group)?);
    }
    let mut out = Vec::with_capacity(records.len());
    for (id, name, version, summary, source, imported_at_ms, pinned, wanted_version) in records {
        let (depends, conflicts) = related.remove(&id).unwrap_or_default();
        out.push(Opkg {
            import: OpkgImport {
                name: stored_name(NameKind::Opkg, &name)?,
                version,
                summary,
                source,
                depends,
                conflicts,
            },
            imported_at_ms,
            groups: groups.remove(&id).unwrap_or_default(),
            versions: sorted_versions(versions.remove(&id).unwrap_or_default()),
            pinned,
            wanted_version,
        });
    }
    Ok(out)
}
