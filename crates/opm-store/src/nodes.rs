//! Nodes (the head node and compute nodes), images, and group membership.

use std::path::{Path, PathBuf};

use crate::db::{self, Db};
use opm_model::{Name, NameKind, Target, TargetKind};

use crate::error::{Result, StoreError};

/// The group every node joins unless told otherwise (SPEC §1.4).
pub const DEFAULT_GROUP: &str = "oscar_clients";

/// A registered node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its name.
    pub name: Name,
    /// True for the head node (registered by `opm init`).
    pub head: bool,
    /// The image it is built from, if any.
    pub image: Option<Name>,
    /// The groups it belongs to, by name.
    pub groups: Vec<Name>,
    /// Its agent as the server last heard from it, if ever.
    pub agent: Option<AgentContact>,
}

/// A node's agent as the server heard from it at a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentContact {
    /// When, ms since the epoch.
    pub seen_ms: i64,
    /// The agent's opm version (its User-Agent), empty when it said none.
    pub version: String,
    /// The address it called from.
    pub address: String,
}

/// A compute node to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    /// Its name.
    pub name: Name,
    /// The groups it joins; empty means [`DEFAULT_GROUP`]. Missing groups are created.
    pub groups: Vec<Name>,
    /// The image it is built from; must exist.
    pub image: Option<Name>,
}

/// A registered node image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Its name.
    pub name: Name,
    /// Where its root filesystem lives on the head node.
    pub root: PathBuf,
}

/// Reads a stored name back, refusing what opm would never have written.
pub(crate) fn stored_name(kind: NameKind, value: &str) -> Result<Name> {
    Name::new(kind, value).map_err(|_| StoreError::Corrupt {
        what: "name",
        value: value.to_owned(),
    })
}

/// The node id of a node name.
pub(crate) async fn node_id(conn: &mut impl Db, name: &Name) -> Result<i64> {
    db::query_scalar("SELECT id FROM nodes WHERE name = $1")
        .bind(name.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::UnknownNode {
            name: name.to_string(),
        })
}

/// The image id of an image name.
pub(crate) async fn image_id(conn: &mut impl Db, name: &Name) -> Result<i64> {
    db::query_scalar("SELECT id FROM images WHERE name = $1")
        .bind(name.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::UnknownImage {
            name: name.to_string(),
        })
}

/// A target's (node_id, image_id) column pair; exactly one is set.
pub(crate) type TargetIds = (Option<i64>, Option<i64>);

/// The (node_id, image_id) column pair of a target; exactly one is set.
pub(crate) async fn target_ids(conn: &mut impl Db, target: &Target) -> Result<TargetIds> {
    Ok(match target.kind {
        TargetKind::Node => (Some(node_id(conn, &target.name).await?), None),
        TargetKind::Image => (None, Some(image_id(conn, &target.name).await?)),
    })
}

/// The target named by a (node name, image name) column pair of a join.
pub(crate) fn target_from(node: Option<String>, image: Option<String>) -> Result<Target> {
    match (node, image) {
        (Some(node), None) => Ok(Target::node(stored_name(NameKind::Node, &node)?)),
        (None, Some(image)) => Ok(Target::image(stored_name(NameKind::Image, &image)?)),
        _ => Err(StoreError::Corrupt {
            what: "row target",
            value: "neither or both of node and image".to_owned(),
        }),
    }
}

/// Registers the head node; running it again with the same name is a no-op.
pub(crate) async fn register_head(conn: &mut impl Db, name: &Name) -> Result<()> {
    let existing: Option<(String, i64)> = db::query_as(
        "SELECT name, head FROM nodes WHERE head = 1 OR name = $1 ORDER BY head DESC LIMIT 1",
    )
    .bind(name.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match existing {
        Some((existing, 1)) if existing == name.as_str() => Ok(()),
        Some((existing, 1)) => Err(StoreError::HeadNodeMismatch {
            existing,
            given: name.to_string(),
        }),
        Some(_) => Err(StoreError::AlreadyExists {
            kind: "node",
            name: name.to_string(),
        }),
        None => {
            db::query("INSERT INTO nodes (name, head) VALUES ($1, 1)")
                .bind(name.as_str())
                .execute(conn)
                .await?;
            Ok(())
        }
    }
}

/// The group id of a group name, created when missing.
async fn ensure_group(conn: &mut impl Db, name: &str) -> Result<i64> {
    db::query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    Ok(db::query_scalar("SELECT id FROM groups WHERE name = $1")
        .bind(name)
        .fetch_one(conn)
        .await?)
}

/// The group id of an existing group.
pub(crate) async fn group_id(conn: &mut impl Db, name: &Name) -> Result<i64> {
    db::query_scalar("SELECT id FROM groups WHERE name = $1")
        .bind(name.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::UnknownGroup {
            name: name.to_string(),
        })
}

/// Adds a compute node and its group memberships.
pub(crate) async fn add_node(conn: &mut impl Db, node: &NewNode) -> Result<()> {
    let taken: Option<i64> = db::query_scalar("SELECT id FROM nodes WHERE name = $1")
        .bind(node.name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some() {
        return Err(StoreError::AlreadyExists {
            kind: "node",
            name: node.name.to_string(),
        });
    }
    let image = match &node.image {
        Some(image) => Some(image_id(conn, image).await?),
        None => None,
    };
    let id: i64 =
        db::query_scalar("INSERT INTO nodes (name, image_id) VALUES ($1, $2) RETURNING id")
            .bind(node.name.as_str())
            .bind(image)
            .fetch_one(&mut *conn)
            .await?;
    let groups: Vec<&str> = if node.groups.is_empty() {
        vec![DEFAULT_GROUP]
    } else {
        node.groups.iter().map(Name::as_str).collect()
    };
    for group in groups {
        let group = ensure_group(conn, group).await?;
        db::query(
            "INSERT INTO group_members (group_id, node_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(group)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Removes a compute node; its rows, memberships and lease go with it.
pub(crate) async fn remove_node(conn: &mut impl Db, name: &Name) -> Result<()> {
    let id = node_id(conn, name).await?;
    let head: i64 = db::query_scalar("SELECT head FROM nodes WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    if head == 1 {
        return Err(StoreError::HeadNodeRemoval {
            name: name.to_string(),
        });
    }
    db::query("DELETE FROM nodes WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The head node's name, if `opm init` registered one: one indexed row,
/// where [`nodes`] reads the whole cluster.
pub(crate) async fn head_node(conn: &mut impl Db) -> Result<Option<Name>> {
    let name: Option<String> = db::query_scalar("SELECT name FROM nodes WHERE head = 1")
        .fetch_optional(conn)
        .await?;
    name.map(|name| stored_name(NameKind::Node, &name))
        .transpose()
}

/// Every node, head node first, then by name.
/// Notes that `node`'s agent polled (see [`AgentContact`]).
pub(crate) async fn record_agent_contact(
    conn: &mut impl Db,
    node: &Name,
    contact: &AgentContact,
) -> Result<()> {
    let updated = db::query(
        "UPDATE nodes SET agent_seen_ms = $1, agent_version = $2, agent_address = $3 \
         WHERE name = $4",
    )
    .bind(contact.seen_ms)
    .bind(&contact.version)
    .bind(&contact.address)
    .bind(node.as_str())
    .execute(conn)
    .await?;
    if updated == 0 {
        return Err(StoreError::UnknownNode {
            name: node.to_string(),
        });
    }
    Ok(())
}

pub(crate) async fn nodes(conn: &mut impl Db) -> Result<Vec<Node>> {
    let rows = db::query(
        "SELECT n.name, n.head, i.name AS image, \
                n.agent_seen_ms, n.agent_version, n.agent_address, \
                (SELECT string_agg(g.name, ' ') FROM group_members m \
                   JOIN groups g ON g.id = m.group_id WHERE m.node_id = n.id) AS groups \
         FROM nodes n LEFT JOIN images i ON i.id = n.image_id \
         ORDER BY n.head DESC, n.name",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let image: Option<String> = row.try_get("image")?;
            let groups: Option<String> = row.try_get("groups")?;
            let mut groups = groups
                .unwrap_or_default()
                .split_whitespace()
                .map(|g| stored_name(NameKind::Group, g))
                .collect::<Result<Vec<_>>>()?;
            groups.sort();
            let seen: Option<i64> = row.try_get("agent_seen_ms")?;
            let agent = match seen {
                Some(seen_ms) => Some(AgentContact {
                    seen_ms,
                    version: row
                        .try_get::<Option<String>, _>("agent_version")?
                        .unwrap_or_default(),
                    address: row
                        .try_get::<Option<String>, _>("agent_address")?
                        .unwrap_or_default(),
                }),
                None => None,
            };
            Ok(Node {
                name: stored_name(NameKind::Node, &row.try_get::<String, _>("name")?)?,
                head: row.try_get::<i64, _>("head")? == 1,
                image: image
                    .map(|i| stored_name(NameKind::Image, &i))
                    .transpose()?,
                groups,
                agent,
            })
        })
        .collect()
}

/// The members of a group, by name.
pub(crate) async fn group_members(conn: &mut impl Db, group: &Name) -> Result<Vec<Name>> {
    let id = group_id(conn, group).await?;
    let names: Vec<String> = db::query_scalar(
        "SELECT n.name FROM group_members m JOIN nodes n ON n.id = m.node_id \
         WHERE m.group_id = $1 ORDER BY n.name",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    names
        .iter()
        .map(|n| stored_name(NameKind::Node, n))
        .collect()
}

/// A path as stored text.
pub(crate) fn path_text(path: &Path) -> Result<&str> {
    path.to_str().ok_or_else(|| StoreError::NonUtf8Path {
        path: path.to_owned(),
    })
}

/// Adds an image.
pub(crate) async fn add_image(conn: &mut impl Db, image: &Image) -> Result<()> {
    let root = path_text(&image.root)?;
    let taken: Option<i64> = db::query_scalar("SELECT id FROM images WHERE name = $1")
        .bind(image.name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some() {
        return Err(StoreError::AlreadyExists {
            kind: "image",
            name: image.name.to_string(),
        });
    }
    db::query("INSERT INTO images (name, root) VALUES ($1, $2)")
        .bind(image.name.as_str())
        .bind(root)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes an image no node uses; its rows, values and lease go with it.
pub(crate) async fn remove_image(conn: &mut impl Db, name: &Name) -> Result<()> {
    let id = image_id(conn, name).await?;
    let users: Vec<String> =
        db::query_scalar("SELECT name FROM nodes WHERE image_id = $1 ORDER BY name")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    if !users.is_empty() {
        return Err(StoreError::ImageInUse {
            image: name.to_string(),
            nodes: users.join(", "),
        });
    }
    db::query("DELETE FROM images WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every image, by name.
pub(crate) async fn images(conn: &mut impl Db) -> Result<Vec<Image>> {
    let rows: Vec<(String, String)> = db::query_as("SELECT name, root FROM images ORDER BY name")
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|(name, root)| {
            Ok(Image {
                name: stored_name(NameKind::Image, &name)?,
                root: PathBuf::from(root),
            })
        })
        .collect()
}
