//! `opm rerun PKG --node N|--image I --from STAGE`: set a row's current
//! stage back so stages that passed run again, recorded in the history.

use opm_store::Store;

use super::retry::{RowReport, change, row_target};
use crate::cli::RerunArgs;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;
use crate::state::now_ms;

/// Runs `opm rerun PKG --node N|--image I --from STAGE`.
pub fn run(args: RerunArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let target = row_target(&args.target)?;
    let stored = change(settings, &target, &args.package, async |store| {
        store
            .rerun(&target, &args.package, args.from, now_ms())
            .await
    })?;
    if printer.json() {
        printer.print_json(&RowReport::of(&stored))?;
    } else {
        printer.line(format_args!(
            "{target} / {}: current is now {}; stages from {} up to {} run again on the next 'opm run'",
            args.package,
            stored.row.effective_current(),
            args.from,
            stored.row.requested
        ));
    }
    Ok(Exit::Success)
}
