//! `opm image remove NAME`: an image no node uses goes, with its rows.

use opm_model::Name;
use opm_store::{OpenMode, Store};

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

/// Runs `opm image remove`.
pub fn run(name: Name, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
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
