//! `opm image remove NAME`: an image no node uses goes, with its rows.

use opm_engine::operate::Operator as _;
use opm_model::Name;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm image remove`.
pub fn run(name: Name, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let removed = with_operator(settings, Needs::Store, async |op| {
        op.remove_image(&name).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&removed)?;
    } else {
        printer.line(format_args!("removed image {name} and its rows"));
    }
    Ok(Exit::Success)
}
