//! `opm node add|list|remove|token`: compute nodes, their groups and
//! their agents' tokens.

mod add;
mod list;
mod remove;
mod token;

use crate::cli::NodeCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm node ...`.
pub fn run(command: NodeCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        NodeCommand::Add { name, group, image } => add::run(name, group, image, settings, printer),
        NodeCommand::List => list::run(settings, printer),
        NodeCommand::Token { name } => token::run(name, settings, printer),
        NodeCommand::Remove { name, dry_run, yes } => {
            remove::run(name, dry_run, yes, settings, printer)
        }
    }
}
