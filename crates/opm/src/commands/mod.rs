//! The command tree: one module per subcommand, one directory per
//! subcommand with subcommands of its own (`opkg/check.rs` is `opm opkg
//! check`); [`dispatch`] resolves the settings and routes. The wiring the
//! daemons and passes share lives in [`crate::runtime`], not here.

mod admin;
mod agent;
mod bench;
mod cluster;
mod completions;
mod conf;
mod config;
mod confirm;
mod demo;
mod history;
mod image;
mod init;
mod install;
mod logs;
mod man;
mod node;
mod opkg;
mod pack;
mod plan;
mod remove;
mod repair;
mod repo;
mod request;
mod rerun;
mod retry;
mod rollout;
mod run;
mod server;
mod settings;
mod status;
mod upgrade;
mod verify;

use crate::cli::{Cli, Command};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> anyhow::Result<Exit> {
    // These two only describe the command line: they must work wherever
    // opm is installed, even before (or despite) a broken settings file.
    match cli.command {
        Command::Completions(args) => return completions::run(&args),
        Command::Man(args) => return man::run(&args),
        _ => {}
    }
    let settings = Settings::resolve(&cli.global)?;
    let printer = Printer::new(settings.json);
    match cli.command {
        Command::Conf(command) => conf::run(command, &settings, printer),
        Command::Opkg(command) => opkg::run(command, &settings, printer),
        Command::Settings => settings::run(&settings, printer),
        Command::Pack(args) => pack::run(args, &settings, printer),
        Command::Repo(command) => repo::run(command, printer),
        Command::Init(args) => init::run(args, &settings, printer),
        Command::Node(command) => node::run(command, &settings, printer),
        Command::Image(command) => image::run(command, &settings, printer),
        Command::Request(args) => request::run(args, &settings, printer),
        Command::Install(args) => install::run(args, &settings, printer),
        Command::Remove(args) => remove::run(args, &settings, printer),
        Command::Cluster(command) => cluster::run(command, &settings, printer),
        Command::Status(args) => status::run(args, &settings, printer),
        Command::History(args) => history::run(args, &settings, printer),
        Command::Logs(args) => logs::run(args, &settings, printer),
        Command::Retry(args) => retry::run(args, &settings, printer),
        Command::Rerun(args) => rerun::run(args, &settings, printer),
        Command::Upgrade(args) => upgrade::run(args, &settings, printer),
        Command::Rollout(command) => rollout::run(command, &settings, printer),
        Command::Verify(args) => verify::run(args, &settings, printer),
        Command::Repair(args) => repair::run(args, &settings, printer),
        Command::Config(command) => config::run(command, &settings, printer),
        Command::Run(args) => run::run(args, &settings, printer),
        Command::Plan(args) => plan::run(&args, &settings, printer),
        Command::Server(args) => server::run(args, &settings, printer),
        Command::Agent(args) => agent::run(args, &settings, printer),
        Command::Admin(command) => admin::run(command, &settings, printer),
        Command::Bench(command) => bench::run(command, &settings, printer),
        Command::Demo(args) => demo::run(args, printer),
        Command::Completions(_) | Command::Man(_) => unreachable!("handled before settings"),
    }
}

/// An error of the demo and bench harness as the CLI reports it: what it
/// or the store calls bad input is exit 2, with its whole chain of context.
fn harness_error(error: anyhow::Error) -> anyhow::Error {
    let refused = error.downcast_ref::<opm_demo::BadInput>().is_some()
        || error
            .downcast_ref::<opm_store::StoreError>()
            .is_some_and(opm_store::StoreError::is_bad_input);
    if refused {
        bad_input(format!("{error:#}"))
    } else {
        error
    }
}
