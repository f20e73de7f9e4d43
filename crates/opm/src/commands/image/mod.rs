//! `opm image add|list|remove`: node images.

mod add;
mod list;
mod remove;

use crate::cli::ImageCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm image ...`.
pub fn run(command: ImageCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        ImageCommand::Add { name, path } => add::run(name, &path, settings, printer),
        ImageCommand::List => list::run(settings, printer),
        ImageCommand::Remove { name } => remove::run(name, settings, printer),
    }
}
