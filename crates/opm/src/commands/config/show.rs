//! `opm config show`: an opkg's configuration: its configurator defaults
//! and the values set, opkg-wide or as one image sees them.

use opm_engine::operate::Operator as _;
use opm_model::Name;
use opm_model::api::ConfigQuery;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm config show`.
pub fn run(
    package: Name,
    image: Option<Name>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let query = ConfigQuery { package, image };
    let view = with_operator(settings, Needs::Store, async |op| {
        op.config_show(&query).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&view)?;
        return Ok(Exit::Success);
    }
    printer.table(
        &["name", "value", "default", "origin"],
        view.values
            .iter()
            .map(|v| {
                vec![
                    v.name.clone(),
                    v.value.clone(),
                    v.default.join(","),
                    if v.set.is_some() { "set" } else { "default" }.to_owned(),
                ]
            })
            .collect(),
        &format!("{} has no configuration values", view.package),
    );
    Ok(Exit::Success)
}
