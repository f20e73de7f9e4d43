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

/// Imports an opkg or replaces what an earlier import said about it; rows,
/// selections and values survive a re-import.
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
    type OpkgRecord = (i64, String, String, String, String, i64);
    let records: Vec<OpkgRecord> = db::query_as(
        "SELECT id, name, version, summary, source, imported_at_ms FROM opkgs ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
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
    for (id, name, version, summary, source, imported_at_ms) in records {
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
        });
    }
    Ok(out)
}
