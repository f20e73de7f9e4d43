//! `opm opkg pin P VERSION` / `opm opkg unpin P`: which version an opkg's
//! rows should have (SPEC §1.9); 'opm upgrade' brings them there.

use opm_model::Name;
use opm_store::{OpenMode, Store};
use serde::Serialize;

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

#[derive(Serialize)]
struct PinReport<'a> {
    name: &'a str,
    pinned: Option<&'a str>,
    wanted_version: &'a str,
}

/// Pins `package` to `version`, or unpins it (`None`).
pub fn run(
    package: &Name,
    version: Option<&str>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let wanted = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let wanted = store.pin_opkg(package, version).await;
        store.close().await;
        wanted.map_err(store_error)
    })?;
    if printer.json() {
        printer.print_json(&PinReport {
            name: package.as_str(),
            pinned: version,
            wanted_version: &wanted,
        })?;
    } else {
        match version {
            Some(version) => printer.line(format_args!(
                "{package} pinned at {version}; 'opm upgrade {package}' brings its rows there"
            )),
            None => printer.line(format_args!(
                "{package} unpinned: its rows should have {wanted}, the newest imported; \
                 'opm upgrade {package}' brings them there"
            )),
        }
    }
    Ok(Exit::Success)
}
