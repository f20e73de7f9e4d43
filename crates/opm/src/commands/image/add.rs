//! `opm image add`: register a node image, whose root filesystem lives on
//! the head node. An image added after `opm install` gets rows for the
//! installed opkgs, as the images present at install time did (the rule
//! is `opm-plan`'s `Cluster::image_rows`).

use std::path::Path;

use opm_engine::operate::Operator as _;
use opm_model::Name;
use opm_model::api::ImageAddBody;

use crate::exit::{Exit, bad_input};
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm image add`.
pub fn run(name: Name, path: &Path, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    // Through a server, absolute from here, so it resolves the path as
    // the operator meant; here as given, so messages name it as typed.
    let path = if settings.remote.is_some() {
        std::path::absolute(path)
            .map_err(|e| bad_input(format!("image root {}: {e}", path.display())))?
    } else {
        path.to_path_buf()
    };
    let body = ImageAddBody {
        name,
        path: path.display().to_string(),
    };
    let added = with_operator(settings, Needs::Store, async |op| {
        op.add_image(&body).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&added)?;
    } else {
        printer.line(format_args!("added image {} at {}", added.name, added.path));
        for change in &added.requests {
            printer.line(format_args!("  {change}"));
        }
    }
    Ok(Exit::Success)
}
