//! `opm conf ...`: this machine's opm.conf.

mod check;

use crate::cli::ConfCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm conf ...`.
pub fn run(command: ConfCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        ConfCommand::Check { path } => check::run(path, settings, printer),
    }
}
