//! `opm cluster phase [PHASE]`: show or set the cluster's install phase,
//! the gate every stage waits for (SPEC §1.2).

use opm_model::Phase;
use opm_store::{OpenMode, Store};
use serde::Serialize;

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::{block_on, now_ms};

#[derive(Serialize)]
struct PhaseReport {
    phase: Phase,
}

/// Runs `opm cluster phase`: shows the phase, or sets it to `phase`.
pub fn run(phase: Option<Phase>, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let phase = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = match phase {
            Some(phase) => store
                .set_phase(phase, now_ms())
                .await
                .map(|()| phase)
                .map_err(store_error),
            None => store.phase().await.map_err(store_error),
        };
        store.close().await;
        outcome
    })?;
    if printer.json() {
        printer.print_json(&PhaseReport { phase })?;
    } else {
        printer.line(phase);
    }
    Ok(Exit::Success)
}
