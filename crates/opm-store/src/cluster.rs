//! Cluster-wide state: the install phase and the configuration values.

use crate::db::{self, Db};
use opm_model::{Name, Phase};

use crate::error::{Result, StoreError};
use crate::nodes::image_id;
use crate::opkgs::opkg_id;

/// The cluster's install phase.
pub(crate) async fn phase(conn: &mut impl Db) -> Result<Phase> {
    let name: String = db::query_scalar("SELECT phase FROM cluster WHERE id = 1")
        .fetch_one(conn)
        .await?;
    name.parse().map_err(|_| StoreError::Corrupt {
        what: "phase",
        value: name,
    })
}

/// Sets the cluster's install phase.
pub(crate) async fn set_phase(conn: &mut impl Db, phase: Phase, now_ms: i64) -> Result<()> {
    db::query("UPDATE cluster SET phase = $1, changed_ms = $2 WHERE id = 1")
        .bind(phase.name())
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets one configuration value of an opkg, opkg-wide or for one image.
pub(crate) async fn config_set(
    conn: &mut impl Db,
    opkg: &Name,
    image: Option<&Name>,
    key: &str,
    value: &str,
) -> Result<()> {
    let opkg = opkg_id(conn, opkg).await?;
    let image = match image {
        Some(image) => Some(image_id(conn, image).await?),
        None => None,
    };
    db::query("DELETE FROM config_values WHERE opkg_id = $1 AND image_id IS NOT DISTINCT FROM $2 AND name = $3")
        .bind(opkg)
        .bind(image)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    db::query("INSERT INTO config_values (opkg_id, image_id, name, value) VALUES ($1, $2, $3, $4)")
        .bind(opkg)
        .bind(image)
        .bind(key)
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}

/// The effective values of an opkg, by name: opkg-wide values, overridden
/// by the image's own when an image is given.
pub(crate) async fn config_values(
    conn: &mut impl Db,
    opkg: &Name,
    image: Option<&Name>,
) -> Result<Vec<(String, String)>> {
    // One statement that also says whether the opkg and the image exist
    // (no row; a NULL `image_found`): an engine reads this before every
    // stage, and on PostgreSQL each statement is a round trip. Per name,
    // the image's own value (image_id set) sorts first and is kept.
    let found: Vec<(Option<i64>, Option<String>, Option<String>)> = db::query_as(
        "SELECT (SELECT id FROM images WHERE name = $2) AS image_found, c.name, c.value \
         FROM opkgs o LEFT JOIN config_values c ON c.opkg_id = o.id \
             AND (c.image_id IS NULL OR c.image_id = (SELECT id FROM images WHERE name = $2)) \
         WHERE o.name = $1 ORDER BY c.name, c.image_id IS NULL",
    )
    .bind(opkg.as_str())
    .bind(image.map(Name::as_str))
    .fetch_all(conn)
    .await?;
    let Some((image_found, ..)) = found.first() else {
        return Err(StoreError::UnknownOpkg {
            name: opkg.to_string(),
        });
    };
    if let (Some(image), None) = (image, image_found) {
        return Err(StoreError::UnknownImage {
            name: image.to_string(),
        });
    }
    let mut values: Vec<(String, String)> = Vec::new();
    for (_, name, value) in found {
        if let (Some(name), Some(value)) = (name, value)
            && values.last().is_none_or(|(last, _)| *last != name)
        {
            values.push((name, value));
        }
    }
    Ok(values)
}
