//! `opm node list`: the nodes, head node first, with their images and
//! groups.

use opm_model::Name;
use opm_store::{OpenMode, Store};
use serde::Serialize;

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

#[derive(Serialize)]
struct NodeEntry {
    name: String,
    head: bool,
    image: Option<String>,
    groups: Vec<String>,
}

/// Runs `opm node list`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let nodes = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let nodes = store.nodes().await.map_err(store_error);
        store.close().await;
        nodes
    })?;
    let entries: Vec<NodeEntry> = nodes
        .into_iter()
        .map(|n| NodeEntry {
            name: n.name.to_string(),
            head: n.head,
            image: n.image.map(|i| i.to_string()),
            groups: n.groups.iter().map(Name::to_string).collect(),
        })
        .collect();
    if printer.json() {
        printer.print_json(&entries)?;
    } else {
        printer.table(
            &["name", "role", "image", "groups"],
            entries
                .into_iter()
                .map(|e| {
                    vec![
                        e.name,
                        if e.head { "head" } else { "compute" }.to_owned(),
                        e.image.unwrap_or_else(|| "-".to_owned()),
                        e.groups.join(","),
                    ]
                })
                .collect(),
            "no nodes; run 'opm init' on the head node first",
        );
    }
    Ok(Exit::Success)
}
