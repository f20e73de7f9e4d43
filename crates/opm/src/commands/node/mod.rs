//! `opm node add|enroll|list|remove|token`: compute nodes, their groups,
//! their agents' enrolment files and tokens.

mod add;
mod enroll;
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
        NodeCommand::Add {
            name,
            group,
            image,
            enroll,
            enrolment,
        } => {
            // The enrolment is checked before the node is added.
            let planned = match &enroll {
                Some(out) => Some(enroll::plan(name.clone(), out, &enrolment, settings)?),
                None if enrolment.server_url.is_some()
                    || enrolment.overwrite
                    || enrolment.expires != opm_model::DEFAULT_LIFETIME_MS =>
                {
                    return Err(crate::exit::bad_input(
                        "--server-url, --expires and --overwrite describe an enrolment file: \
                         pass --enroll FILE too",
                    ));
                }
                None => None,
            };
            add::run(name, group, image, planned, settings, printer)
        }
        NodeCommand::Enroll {
            name,
            out,
            enrolment,
        } => enroll::run(name, &out, &enrolment, settings, printer),
        NodeCommand::List => list::run(settings, printer),
        NodeCommand::Token { name } => token::run(name, settings, printer),
        NodeCommand::Remove { name, dry_run, yes } => {
            remove::run(name, dry_run, yes, settings, printer)
        }
    }
}
