//! `opm conf check`: validate an opm.conf.

use std::path::PathBuf;

use opm_model::OpmConf;
use serde::Serialize;

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::runtime::read_capped;
use crate::settings::Settings;

#[derive(Serialize)]
struct ConfReport<'a> {
    role: &'a str,
    name: &'a str,
}

/// Runs `opm conf check [PATH]`.
pub fn run(path: Option<PathBuf>, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let path = path.unwrap_or_else(|| settings.conf.clone());
    let bytes = read_capped(&path)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let conf =
        OpmConf::parse_bytes(&bytes).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    if printer.json() {
        printer.print_json(&ConfReport {
            role: conf.role.name(),
            name: conf.name.as_str(),
        })?;
    } else {
        printer.line(format_args!("role: {}", conf.role));
        printer.line(format_args!("name: {}", conf.name));
    }
    Ok(Exit::Success)
}
