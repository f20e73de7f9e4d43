//! `opm rollout resume [ID]`: a paused rollout goes on once its failed
//! nodes are cleared (`opm retry`); refused (exit 2, nothing changed)
//! while they are not, or when the rollout is done or aborted.

use opm_engine::operate::Operator as _;
use opm_model::api::RolloutBody;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm rollout resume [ID]`.
pub fn run(id: Option<i64>, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let body = RolloutBody { id };
    let line = with_operator(settings, Needs::Store, async |op| {
        op.rollout_resume(&body).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&line)?;
    } else {
        printer.line(format_args!("{}", super::describe(&line)));
    }
    Ok(Exit::Success)
}
