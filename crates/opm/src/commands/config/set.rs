//! `opm config set PKG NAME=VALUE... [--image I]`: override configurator
//! defaults, opkg-wide or for one image.

use opm_engine::operate::Operator as _;
use opm_model::Name;
use opm_model::api::ConfigSetBody;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm config set`.
pub fn run(
    package: Name,
    values: Vec<String>,
    image: Option<Name>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let body = ConfigSetBody {
        package,
        image,
        values,
    };
    let set = with_operator(settings, Needs::Store, async |op| {
        op.config_set(&body).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&set)?;
        return Ok(Exit::Success);
    }
    let scope = set
        .image
        .as_ref()
        .map_or_else(|| "every target".to_owned(), |i| format!("image {i}"));
    for (name, value) in &set.set {
        printer.line(format_args!("{}: {name}={value} ({scope})", set.package));
    }
    Ok(Exit::Success)
}
