//! `opm node token NAME`: a new API token for a node's agent.

use opm_model::Name;
use opm_store::TokenSubject;

use crate::commands::admin::token::issue;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm node token`.
pub fn run(name: Name, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    issue(TokenSubject::Node(name), settings, printer)
}
