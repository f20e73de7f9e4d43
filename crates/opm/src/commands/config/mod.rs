//! `opm config set|show`: configuration values of an opkg (SPEC §1.8),
//! checked and read by `opm_engine::operate`.

mod set;
mod show;

use crate::cli::ConfigCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm config ...`.
pub fn run(command: ConfigCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        ConfigCommand::Set {
            package,
            values,
            image,
        } => set::run(package, values, image, settings, printer),
        ConfigCommand::Show { package, image } => show::run(package, image, settings, printer),
    }
}
