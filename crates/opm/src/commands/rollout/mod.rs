//! `opm rollout status|resume|abort`: the rollouts that spread work on
//! compute nodes out (SPEC §1.10); the rules are `opm_plan`'s, the
//! actions `opm_engine::operate`'s.

mod abort;
mod resume;
mod status;

use opm_model::RolloutState;
use opm_model::api::RolloutLine;

use crate::cli::RolloutCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm rollout ...`.
pub fn run(command: RolloutCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        RolloutCommand::Status => status::run(settings, printer),
        RolloutCommand::Resume { id } => resume::run(id, settings, printer),
        RolloutCommand::Abort { id } => abort::run(id, settings, printer),
    }
}

/// One line about a rollout: "rollout 3 (motd 1:3.2-1, max-parallel 1):
/// paused, 1 of 3 nodes finished, 1 failed: rollout of motd ... paused: ...".
pub fn describe(line: &RolloutLine) -> String {
    let mut text = format!(
        "rollout {} ({}, {}): {}, {} of {} nodes finished",
        line.id, line.label, line.policy, line.state, line.finished, line.nodes
    );
    for (count, what) in [
        (line.running, "running"),
        (line.waiting, "waiting"),
        (line.failed, "failed"),
    ] {
        if count > 0 {
            text.push_str(&format!(", {count} {what}"));
        }
    }
    if line.replaced {
        text.push_str(" (replaced by a later command)");
    }
    if line.state == RolloutState::Paused && !line.message.is_empty() {
        text.push_str(&format!("\n  {}", line.message));
    }
    text
}
