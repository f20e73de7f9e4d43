//! Compute nodes and images: list, add (with the rows SPEC §1.4 gives a
//! late comer, decided by `opm-plan`), remove.

use std::path::{Path, PathBuf};

use opm_model::api::{
    ImageAddBody, ImageAdded, ImageView, NodeAddBody, NodeAdded, NodeView, Removed, StatusRow,
};
use opm_model::{Name, Target};
use opm_store::{AuditAction, Change, Image, NewNode, Store, StoreError};

use super::audit::{Asked, image_subject, node_subject};
use super::hint::hinted;
use super::{OperateError, Result, changed};
use crate::requests::{Snapshot, default_group, requests};

/// `opm node list` (`GET /v1/nodes`).
///
/// # Errors
/// The store's failure.
pub async fn nodes<S: Store>(store: &S) -> Result<Vec<NodeView>> {
    Ok(store
        .nodes()
        .await?
        .into_iter()
        .map(|node| NodeView {
            name: node.name.to_string(),
            head: node.head,
            image: node.image.map(|image| image.to_string()),
            groups: node.groups.iter().map(Name::to_string).collect(),
            last_seen_ms: node.agent.as_ref().map(|agent| agent.seen_ms),
            address: node.agent.as_ref().map(|agent| agent.address.clone()),
            agent: node.agent.map(|agent| agent.version),
        })
        .collect())
}

/// `opm node add` (`POST /v1/nodes`): the node, and at once the rows of
/// the opkgs whose client work the head node has already assigned
/// ([`opm_plan::Cluster::late_assignments`]); everything is checked
/// before the first write.
///
/// # Errors
/// A conflict among its rows, a name taken, or the store's failure.
pub async fn add_node<S: Store>(store: &S, body: &NodeAddBody, asked: &Asked) -> Result<NodeAdded> {
    hinted(store, add_node_unhinted(store, body, asked).await).await
}

/// [`add_node`] before an unknown name's hint.
async fn add_node_unhinted<S: Store>(
    store: &S,
    body: &NodeAddBody,
    asked: &Asked,
) -> Result<NodeAdded> {
    let mut snapshot = Snapshot::load(store).await?;
    let joined: Vec<Name> = if body.groups.is_empty() {
        vec![default_group()]
    } else {
        body.groups.clone()
    };
    snapshot
        .cluster
        .nodes
        .insert(body.name.clone(), joined.iter().cloned().collect());
    let changes = snapshot.cluster.late_assignments(&body.name);
    snapshot.apply_checked(&changes)?;
    let node = Change::AddNode(NewNode {
        name: body.name.clone(),
        groups: body.groups.clone(),
        image: body.image.clone(),
    });
    let writes = std::iter::once(node).chain(requests(&changes));
    asked
        .apply(store, writes, AuditAction::NodeAdd, node_subject(body))
        .await?;
    Ok(NodeAdded {
        added: body.name.clone(),
        groups: joined,
        requests: changes.iter().map(changed).collect(),
    })
}

/// `opm node remove` (`DELETE /v1/nodes/NAME`): the node and its rows
/// (with `dry_run`, the rows that would go, nothing removed).
///
/// # Errors
/// An unknown node, the head node, or the store's failure.
pub async fn remove_node<S: Store>(
    store: &S,
    name: &Name,
    dry_run: bool,
    asked: &Asked,
) -> Result<Removed> {
    hinted(
        store,
        remove_node_unhinted(store, name, dry_run, asked).await,
    )
    .await
}

/// [`remove_node`] before an unknown name's hint.
async fn remove_node_unhinted<S: Store>(
    store: &S,
    name: &Name,
    dry_run: bool,
    asked: &Asked,
) -> Result<Removed> {
    if store.head_node().await?.as_ref() == Some(name) {
        return Err(StoreError::HeadNodeRemoval {
            name: name.to_string(),
        }
        .into());
    }
    let rows = rows_of(store, &Target::node(name.clone())).await?;
    if !dry_run {
        let remove = Change::RemoveNode(name.clone());
        asked
            .apply(store, [remove], AuditAction::NodeRemove, name.to_string())
            .await?;
    }
    Ok(Removed {
        removed: name.clone(),
        rows,
        dry_run,
    })
}

/// The rows of `target`, as the operator sees them.
async fn rows_of<S: Store>(store: &S, target: &Target) -> Result<Vec<StatusRow>> {
    Ok(store
        .rows_for_target(target)
        .await?
        .iter()
        .map(|stored| StatusRow::of(&stored.row, stored.wanted_version.as_deref()))
        .collect())
}

/// `opm image list` (`GET /v1/images`).
///
/// # Errors
/// The store's failure.
pub async fn images<S: Store>(store: &S) -> Result<Vec<ImageView>> {
    Ok(store
        .images()
        .await?
        .into_iter()
        .map(|image| ImageView {
            name: image.name.to_string(),
            path: image.root.display().to_string(),
        })
        .collect())
}

/// `opm image add` (`POST /v1/images`): the image, at a root directory of
/// the machine this runs on (the head node), with a row for every opkg
/// installed on the head node ([`opm_plan::Cluster::image_rows`]).
///
/// # Errors
/// A root that is no directory or a system one, a conflict, a name taken,
/// or the store's failure.
pub async fn add_image<S: Store>(
    store: &S,
    body: &ImageAddBody,
    asked: &Asked,
) -> Result<ImageAdded> {
    let root = image_root(Path::new(&body.path))?;
    let mut snapshot = Snapshot::load(store).await?;
    snapshot
        .cluster
        .images
        .insert(body.name.clone(), root.clone());
    let changes = snapshot.cluster.image_rows(&body.name);
    snapshot.apply_checked(&changes)?;
    let image = Change::AddImage(Image {
        name: body.name.clone(),
        root: root.clone(),
    });
    let writes = std::iter::once(image).chain(requests(&changes));
    asked
        .apply(store, writes, AuditAction::ImageAdd, image_subject(body))
        .await?;
    Ok(ImageAdded {
        name: body.name.clone(),
        path: root.display().to_string(),
        requests: changes.iter().map(changed).collect(),
    })
}

/// The image root as stored: an existing directory, made absolute so
/// every later command finds it whatever its working directory, and never
/// this machine's own `/` or a system directory (SPEC §9, trap 7).
fn image_root(path: &Path) -> Result<PathBuf> {
    let bad = |message: String| OperateError::BadInput(message);
    let root = std::fs::canonicalize(path).map_err(|e| {
        bad(format!(
            "image root {}: {e}; create the directory first",
            path.display()
        ))
    })?;
    if !root.is_dir() {
        return Err(bad(format!(
            "image root {} is not a directory",
            path.display()
        )));
    }
    opm_native::Root::image(path).map_err(|e| bad(e.to_string()))?;
    Ok(root)
}

/// `opm image remove` (`DELETE /v1/images/NAME`): the image and its rows.
///
/// # Errors
/// An unknown image, one a node boots, or the store's failure.
pub async fn remove_image<S: Store>(store: &S, name: &Name, asked: &Asked) -> Result<Removed> {
    hinted(store, remove_image_unhinted(store, name, asked).await).await
}

/// [`remove_image`] before an unknown name's hint.
async fn remove_image_unhinted<S: Store>(store: &S, name: &Name, asked: &Asked) -> Result<Removed> {
    let rows = rows_of(store, &Target::image(name.clone())).await?;
    let remove = Change::RemoveImage(name.clone());
    asked
        .apply(store, [remove], AuditAction::ImageRemove, name.to_string())
        .await?;
    Ok(Removed {
        removed: name.clone(),
        rows,
        dry_run: false,
    })
}
