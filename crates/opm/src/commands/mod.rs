//! One module per subcommand; [`dispatch`] resolves settings and routes.

mod conf;
mod opkg;
mod pack;
mod repo;
mod settings;

use crate::cli::{Cli, Command};
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    let settings = Settings::resolve(&cli.global)?;
    let printer = Printer::new(settings.json);
    match cli.command {
        Command::Conf(command) => conf::run(command, &settings, printer),
        Command::Opkg(command) => opkg::run(command, printer),
        Command::Settings => settings::run(&settings, printer),
        Command::Pack(args) => pack::run(args, &settings, printer),
        Command::Repo(command) => repo::run(command, printer),
    }
}
