//! `opm rollout abort [ID]`: no new node of the rollout starts; started
//! nodes go on, finished ones stay as they are. Refused (exit 2) when it
//! is aborted or done already.

use opm_engine::operate::Operator as _;
use opm_model::api::RolloutBody;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm rollout abort [ID]`.
pub fn run(id: Option<i64>, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let body = RolloutBody { id };
    let line = with_operator(settings, Needs::Store, async |op| {
        op.rollout_abort(&body).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&line)?;
    } else {
        printer.line(format_args!("{}", super::describe(&line)));
    }
    Ok(Exit::Success)
}
