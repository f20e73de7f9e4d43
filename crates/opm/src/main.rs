//! `opm`, the OSCAR Package Manager command line.
//!
//! Raw arguments are parsed by [`cli`], resolved into [`settings::Settings`]
//! (flags beat environment beats settings file beats defaults), then handed
//! to one module of [`commands`]. Data goes to stdout, diagnostics to stderr,
//! and the exit code follows SPEC §4 (see [`exit`]).

mod actor;
mod cli;
mod commands;
mod exit;
mod logging;
mod operator;
mod printer;
mod progress;
mod report;
mod runtime;
mod sd_notify;
mod settings;
mod state;

use std::process::ExitCode;

use clap::FromArgMatches as _;

fn main() -> ExitCode {
    let parsed = cli::command()
        .try_get_matches()
        .and_then(|matches| cli::Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help/version to stdout and usage errors to stderr.
            let code = if error.use_stderr() {
                exit::Exit::BadInput
            } else {
                exit::Exit::Success
            };
            if error.use_stderr() {
                eprint!("{}", exit::cut_long_values(&error.render().to_string()));
            } else {
                let _ = error.print();
            }
            return code.into();
        }
    };
    exit::report(commands::dispatch(cli))
}
