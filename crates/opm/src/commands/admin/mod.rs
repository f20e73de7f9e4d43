//! `opm admin ...`: the tools' API.

pub mod token;

use crate::cli::AdminCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm admin ...`.
pub fn run(command: AdminCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        AdminCommand::Token => token::run(settings, printer),
    }
}
