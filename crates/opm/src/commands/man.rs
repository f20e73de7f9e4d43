//! `opm man --out DIR`: man pages generated from the clap definitions,
//! `opm.1` and one page per subcommand (`opm-node-add.1`, ...).

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::exit::Exit;

/// Runs `opm man`: writes the pages, prints nothing.
pub fn run(args: &ManArgs) -> anyhow::Result<Exit> {
    let out = &args.out;
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the man page directory {}", out.display()))?;
    clap_mangen::generate_to(Cli::command(), out)
        .with_context(|| format!("cannot write man pages into {}", out.display()))?;
    Ok(Exit::Success)
}
