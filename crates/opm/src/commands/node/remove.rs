//! `opm node remove NAME`: a compute node and its rows go; its history
//! stays.

use opm_model::Name;
use opm_store::{OpenMode, Store};

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

/// Runs `opm node remove`.
pub fn run(name: Name, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = store.remove_node(&name).await.map_err(store_error);
        store.close().await;
        outcome?;
        if printer.json() {
            printer.print_json(&serde_json::json!({ "removed": name }))?;
        } else {
            printer.line(format_args!("removed node {name} and its rows"));
        }
        Ok(Exit::Success)
    })
}
