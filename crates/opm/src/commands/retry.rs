//! `opm retry`: clear a row's error so its failed stage runs again,
//! recorded in the history; with what `opm rerun` shares of it.

use opm_engine::operate::Operator as _;
use opm_model::api::RetryBody;
use opm_model::{Stage, Target};

use crate::cli::{RetryArgs, RowTarget};
use crate::exit::{Exit, bad_input};
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// The node or image a `--node N | --image I` pair names.
pub fn row_target(target: &RowTarget) -> anyhow::Result<Target> {
    match (&target.node, &target.image) {
        (Some(node), None) => Ok(Target::node(node.clone())),
        (None, Some(image)) => Ok(Target::image(image.clone())),
        // clap requires exactly one.
        _ => Err(bad_input("say which row: --node N or --image I")),
    }
}

/// Runs `opm retry PKG --node N|--image I [--reason TEXT] [--whole-stage]`.
pub fn run(args: RetryArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let target = row_target(&args.target)?;
    let body = RetryBody {
        target: target.clone(),
        package: args.package,
        reason: args.reason.unwrap_or_default(),
        whole_stage: args.whole_stage,
    };
    let row = with_operator(settings, Needs::Store, async |op| {
        op.retry(&body).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&row)?;
        return Ok(Exit::Success);
    }
    let from = if body.whole_stage {
        "from its first step"
    } else {
        "at the step that failed"
    };
    let next = row
        .current
        .unwrap_or(Stage::ShouldNotBeInstalled)
        .next()
        .filter(|next| *next <= row.requested);
    match next {
        Some(next) => printer.line(format_args!(
            "cleared the error of {target} / {}; {next} runs again {from} on the next 'opm run'",
            body.package
        )),
        None => printer.line(format_args!(
            "cleared the error of {target} / {}",
            body.package
        )),
    }
    Ok(Exit::Success)
}
