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
    let opkg = opkg_id(conn, opkg).await?;
    let image = match image {
        Some(image) => Some(image_id(conn, image).await?),
        None => None,
    };
    // Per name, the image's own value (image_id set) sorts before the
    // opkg-wide one, and only the first per name is kept.
    Ok(db::query_as(
        "SELECT name, value FROM ( \
            SELECT name, value, row_number() OVER (PARTITION BY name ORDER BY image_id IS NULL) AS rank \
            FROM config_values WHERE opkg_id = $1 AND (image_id IS NULL OR image_id = $2)) AS ranked \
         WHERE rank = 1 ORDER BY name",
    )
    .bind(opkg)
    .bind(image)
    .fetch_all(conn)
    .await?)
}
