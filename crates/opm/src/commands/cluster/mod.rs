//! `opm cluster ...`: the cluster as a whole.

mod phase;

use crate::cli::ClusterCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm cluster ...`.
pub fn run(command: ClusterCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        ClusterCommand::Phase { phase, dry_run } => phase::run(phase, dry_run, settings, printer),
    }
}
