//! `opm image list`: the images and where their roots are.

use opm_model::Name;
use opm_store::{OpenMode, Store};
use serde::Serialize;

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

#[derive(Serialize)]
struct ImageEntry {
    name: String,
    path: String,
}

/// Runs `opm image list`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
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
