//! `opm opkg list`: the imported opkgs, with their relations and groups.

use opm_model::Name;
use opm_store::{OpenMode, Store};
use serde::Serialize;

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

#[derive(Serialize)]
struct ListEntry {
    name: String,
    version: String,
    summary: String,
    source: String,
    depends: Vec<String>,
    conflicts: Vec<String>,
    groups: Vec<String>,
}

/// Runs `opm opkg list`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let opkgs = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let opkgs = store.opkgs().await.map_err(store_error)?;
        store.close().await;
        Ok(opkgs)
    })?;
    let entries: Vec<ListEntry> = opkgs
        .into_iter()
        .map(|o| ListEntry {
            name: o.import.name.to_string(),
            version: o.import.version,
            summary: o.import.summary,
            source: o.import.source,
            depends: o.import.depends.iter().map(Name::to_string).collect(),
            conflicts: o.import.conflicts.iter().map(Name::to_string).collect(),
            groups: o.groups.iter().map(Name::to_string).collect(),
        })
        .collect();
    if printer.json() {
        printer.print_json(&entries)?;
    } else {
        printer.table(
            &[
                "name",
                "version",
                "depends",
                "conflicts",
                "groups",
                "summary",
            ],
            entries
                .into_iter()
                .map(|e| {
                    vec![
                        e.name,
                        e.version,
                        e.depends.join(","),
                        e.conflicts.join(","),
                        e.groups.join(","),
                        e.summary,
                    ]
                })
                .collect(),
            "no opkgs imported; import some with 'opm opkg import PATH'",
        );
    }
    Ok(Exit::Success)
}
