//! `opm cluster phase [PHASE]`: show or set the cluster's install phase,
//! the gate every stage waits for (SPEC §1.2).

use opm_engine::operate::Operator as _;
use opm_model::Phase;
use opm_model::api::PhaseBody;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm cluster phase`: shows the phase, or sets it to `phase`.
pub fn run(phase: Option<Phase>, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let shown = with_operator(settings, Needs::Store, async |op| {
        match phase {
            Some(phase) => op.set_phase(&PhaseBody { phase }).await,
            None => op.phase().await,
        }
        .map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&shown)?;
    } else {
        printer.line(shown.phase);
    }
    Ok(Exit::Success)
}
