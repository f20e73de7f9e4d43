//! `opm demo`: the README's main job, carried out by the `opm-demo`
//! harness with this very binary's commands.

use anyhow::Context as _;

use super::harness_error;
use crate::cli::DemoArgs;
use crate::exit::Exit;
use crate::printer::Printer;

/// Runs `opm demo`.
pub fn run(args: DemoArgs, printer: Printer) -> anyhow::Result<Exit> {
    let opm = std::env::current_exe().context("cannot find the opm binary itself")?;
    let args = opm_demo::demo::DemoArgs {
        dir: args.dir,
        examples: args.examples,
        agents: args.agents,
    };
    opm_demo::demo::run(args, &opm, &|line: &str| printer.line(line)).map_err(harness_error)?;
    Ok(Exit::Success)
}
