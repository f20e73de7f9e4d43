//! `opm image list`: the images and where their roots are.

use opm_engine::operate::Operator as _;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm image list`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let images = with_operator(settings, Needs::Store, async |op| {
        op.images().await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&images)?;
    } else {
        printer.table(
            &["name", "path"],
            images
                .into_iter()
                .map(|image| vec![image.name, image.path])
                .collect(),
            "no images; add one with 'opm image add NAME --path DIR'",
        );
    }
    Ok(Exit::Success)
}
