//! `opm image add|list|remove`: node images, whose root filesystems live
//! on the head node.

use std::path::Path;

use opm_model::Name;
use opm_store::{Image, OpenMode, Store};
use serde::Serialize;

use crate::cli::ImageCommand;
use crate::commands::state::block_on;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};

/// Runs `opm image ...`.
pub fn run(command: ImageCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        ImageCommand::Add { name, path } => {
            let root = image_root(&path)?;
            block_on(async {
                let store = settings.open_store(OpenMode::Existing).await?;
                let image = Image {
                    name: name.clone(),
                    root: root.clone(),
                };
                let outcome = store.add_image(&image).await.map_err(store_error);
                store.close().await;
                outcome
            })?;
            if printer.json() {
                printer.print_json(&ImageEntry {
                    name: name.to_string(),
                    path: root.display().to_string(),
                })?;
            } else {
                printer.line(format_args!("added image {name} at {}", root.display()));
            }
            Ok(Exit::Success)
        }
        ImageCommand::List => list(settings, printer),
        ImageCommand::Remove { name } => {
            block_on(async {
                let store = settings.open_store(OpenMode::Existing).await?;
                let outcome = store.remove_image(&name).await.map_err(store_error);
                store.close().await;
                outcome
            })?;
            if printer.json() {
                printer.print_json(&serde_json::json!({ "removed": name }))?;
            } else {
                printer.line(format_args!("removed image {name} and its rows"));
            }
            Ok(Exit::Success)
        }
    }
}

/// The image root as stored: an existing directory, made absolute so
/// every later command finds it whatever its working directory.
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
    Ok(root)
}

#[derive(Serialize)]
struct ImageEntry {
    name: String,
    path: String,
}

fn list(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let images = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let images = store.images().await.map_err(store_error);
        store.close().await;
        images
    })?;
    let entries: Vec<ImageEntry> = images
        .into_iter()
        .map(|i| ImageEntry {
            name: Name::to_string(&i.name),
            path: i.root.display().to_string(),
        })
        .collect();
    if printer.json() {
        printer.print_json(&entries)?;
    } else {
        printer.table(
            &["name", "path"],
            entries.into_iter().map(|e| vec![e.name, e.path]).collect(),
            "no images; add one with 'opm image add NAME --path DIR'",
        );
    }
    Ok(Exit::Success)
}
