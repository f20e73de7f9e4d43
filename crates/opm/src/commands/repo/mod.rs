//! `opm repo ...`: package repositories made from built packages.

mod index;

use crate::cli::RepoCommand;
use crate::exit::Exit;
use crate::printer::Printer;

/// Runs `opm repo ...`.
pub fn run(command: RepoCommand, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        RepoCommand::Index { dir, sign } => index::run(&dir, sign.as_deref(), printer),
    }
}
