//! `opm rollout status`: every rollout, newest first, with where its
//! nodes stand. Exit 0 (a paused rollout is shown, not failed: its failed
//! nodes' rows make `opm status` exit 1).

use opm_engine::operate::Operator as _;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm rollout status`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let lines = with_operator(settings, Needs::Store, async |op| {
        op.rollouts().await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&lines)?;
        return Ok(Exit::Success);
    }
    if lines.is_empty() {
        printer.line(format_args!(
            "no rollouts; give install, upgrade, remove or rerun --max-parallel, \
             --max-failures or --canary to start one"
        ));
    }
    for line in &lines {
        printer.line(format_args!("{}", super::describe(line)));
    }
    Ok(Exit::Success)
}
