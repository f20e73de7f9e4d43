//! `opm bench ...`: the benchmarks' helpers (see bench/run).

mod agents;
mod populate;
mod rollout;
mod upgrade;
mod verify;

use crate::cli::BenchCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm bench ...`.
pub fn run(command: BenchCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        BenchCommand::Populate {
            nodes,
            opkgs,
            stage,
            behind,
        } => populate::run(nodes, opkgs, stage, behind, settings, printer),
        BenchCommand::Agents(args) => agents::run(args, settings, printer),
        BenchCommand::Verify { db_root } => verify::run(&db_root, settings, printer),
        BenchCommand::Upgrade(args) => upgrade::run(args, settings, printer),
        BenchCommand::Rollout(args) => rollout::run(args, settings, printer),
    }
}
