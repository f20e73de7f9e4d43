//! `opm cluster phase [PHASE]`: show or set the cluster's install phase,
//! the gate every stage waits for (SPEC §1.2).

use opm_engine::operate::Operator as _;
use opm_model::Phase;
use opm_model::api::PhaseBody;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm cluster phase`: shows the phase, or sets it to `phase`
/// (warning when it moves backwards or skips phases).
pub fn run(
    phase: Option<Phase>,
    dry_run: bool,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let Some(phase) = phase else {
        let shown = with_operator(settings, Needs::Store, async |op| {
            op.phase().await.map_err(failed)
        })?;
        if printer.json() {
            printer.print_json(&shown)?;
        } else {
            printer.line(shown.phase);
        }
        return Ok(Exit::Success);
    };
    let set = with_operator(settings, Needs::Store, async |op| {
        op.set_phase(&PhaseBody { phase, dry_run })
            .await
            .map_err(failed)
    })?;
    if let Some(warning) = &set.warning {
        eprintln!("warning: {warning}");
    }
    if printer.json() {
        printer.print_json(&set)?;
    } else if set.dry_run {
        printer.line(format_args!("{} -> {}", set.previous, set.phase));
    } else {
        printer.line(set.phase);
    }
    if set.dry_run {
        eprintln!("dry run: nothing was changed");
    }
    Ok(Exit::Success)
}
