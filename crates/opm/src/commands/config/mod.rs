//! `opm config set|show`: configuration values of an opkg (SPEC §1.8). The
//! form defaults come from the configurator.html of the imported source;
//! values set here override them at run-configurator.

mod set;
mod show;

use std::path::Path;

use opm_model::Name;
use opm_opkg::{Configurator, Field};
use opm_store::{AnyStore, Store};

use crate::cli::ConfigCommand;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};

/// Runs `opm config ...`.
pub fn run(command: ConfigCommand, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    match command {
        ConfigCommand::Set {
            package,
            values,
            image,
        } => set::run(package, &values, image, settings, printer),
        ConfigCommand::Show { package, image } => show::run(package, image, settings, printer),
    }
}

/// The form fields of an imported opkg, when its source still has a
/// configurator.html; `None` when it has none or it cannot be read.
async fn fields(store: &AnyStore, package: &Name) -> anyhow::Result<(String, Option<Vec<Field>>)> {
    let opkgs = store.opkgs().await.map_err(store_error)?;
    let opkg = opkgs
        .into_iter()
        .find(|o| &o.import.name == package)
        .ok_or_else(|| {
            bad_input(format!(
                "unknown opkg '{package}'; import it first with 'opm opkg import'"
            ))
        })?;
    let form = Path::new(&opkg.import.source).join("configurator.html");
    let fields = form
        .is_file()
        .then(|| Configurator::from_path(&form).ok())
        .flatten();
    Ok((opkg.import.source, fields))
}
