//! `opm opkg ...`: validate opkg sources, show what opm makes of them,
//! register them in the database and list them.

mod check;
mod import;
mod list;
mod show;

use opm_opkg::Dist;

use crate::cli::OpkgCommand;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm opkg ...`.
pub fn run(command: OpkgCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        OpkgCommand::Import { dist, arch, paths } => {
            let platform = (dist.as_deref().map(Dist::parse), arch);
            import::run(&paths, &platform, settings, printer)
        }
        OpkgCommand::List => list::run(settings, printer),
        OpkgCommand::Check { strict, paths } => check::run(&paths, strict, printer),
        OpkgCommand::Show { dist, arch, path } => {
            show::run(&path, dist.as_deref().map(Dist::parse), arch, printer)
        }
    }
}
