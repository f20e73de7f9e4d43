//! `opm rerun PKG --node N|--image I --from STAGE`: set a row's current
//! stage back so stages that passed run again, recorded in the history.

use opm_engine::operate::Operator as _;
use opm_model::Stage;
use opm_model::api::RerunBody;

use super::retry::row_target;
use crate::cli::RerunArgs;
use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm rerun PKG --node N|--image I --from STAGE`.
pub fn run(args: RerunArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let target = row_target(&args.target)?;
    let body = RerunBody {
        target: target.clone(),
        package: args.package,
        from: args.from,
        rollout: args.rollout.policy(settings.rollout),
    };
    let row = with_operator(settings, Needs::Store, async |op| {
        op.rerun(&body).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&row)?;
    } else {
        printer.line(format_args!(
            "{target} / {}: current is now {}; stages from {} up to {} run again on the next 'opm run'",
            body.package,
            row.current.unwrap_or(Stage::ShouldNotBeInstalled),
            body.from,
            row.requested
        ));
    }
    Ok(Exit::Success)
}
