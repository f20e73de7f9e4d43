//! `opm image add`: register a node image, whose root filesystem lives on
//! the head node. An image added after `opm install` gets rows for the
//! installed opkgs, as the images present at install time did.

use std::path::Path;

use opm_model::{Name, Stage, Target};
use opm_plan::RequestChange;
use opm_store::{AnyStore, Change, Image, OpenMode};

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::Settings;
use crate::state::{apply, block_on, load, request_error, requests};

/// Runs `opm image add`.
pub fn run(name: Name, path: &Path, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let root = image_root(path)?;
    let changes = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = add(&store, &name, &root).await;
        store.close().await;
        outcome
    })?;
    if printer.json() {
        printer.print_json(&serde_json::json!({
            "name": name,
            "path": root.display().to_string(),
            "requests": changes,
        }))?;
    } else {
        printer.line(format_args!("added image {name} at {}", root.display()));
        for change in &changes {
            printer.line(format_args!("  {change}"));
        }
    }
    Ok(Exit::Success)
}

/// Adds the image with a row for every opkg installed on the head node
/// (requested `finished`): `opm install` puts its opkgs into every image,
/// so an image added later gets them too.
async fn add(store: &AnyStore, name: &Name, root: &Path) -> anyhow::Result<Vec<RequestChange>> {
    let mut snapshot = load(store).await?;
    snapshot
        .cluster
        .images
        .insert(name.clone(), root.to_path_buf());
    let head = snapshot.head();
    let changes: Vec<RequestChange> = snapshot
        .cluster
        .rows_on(&head)
        .filter(|row| row.requested == Stage::Finished)
        .map(|row| RequestChange {
            target: Target::image(name.clone()),
            package: row.package.clone(),
            requested: Stage::Finished,
            create: true,
        })
        .collect();
    snapshot.apply_checked(&changes).map_err(request_error)?;
    let image = Change::AddImage(Image {
        name: name.clone(),
        root: root.to_path_buf(),
    });
    apply(
        store,
        std::iter::once(image).chain(requests(&changes)).collect(),
    )
    .await?;
    Ok(changes)
}

/// The image root as stored: an existing directory, made absolute so
/// every later command finds it whatever its working directory, and never
/// this machine's own `/` or a system directory (SPEC §9, trap 7).
fn image_root(path: &Path) -> anyhow::Result<std::path::PathBuf> {
    let root = std::fs::canonicalize(path).map_err(|e| {
        bad_input(format!(
            "image root {}: {e}; create the directory first",
            path.display()
        ))
    })?;
    if !root.is_dir() {
        return Err(bad_input(format!(
            "image root {} is not a directory",
            path.display()
        )));
    }
    opm_native::Root::image(path).map_err(|e| bad_input(e.to_string()))?;
    Ok(root)
}
