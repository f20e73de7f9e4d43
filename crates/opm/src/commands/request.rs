//! `opm request`: set the stage rows should reach; with the row-change
//! printing `opm install` and `opm remove` share. Decided and checked by
//! `opm_engine::operate` (local or through `opm server`); a refused
//! command changes nothing.

use opm_engine::operate::Operator as _;
use opm_model::Target;
use opm_model::api::{RequestBody, RequestOutcome};

use crate::cli::RequestArgs;
use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Prints the row changes a request made (`none` when there are none),
/// its warnings on stderr.
pub fn print_changes(printer: Printer, outcome: &RequestOutcome, none: &str) -> anyhow::Result<()> {
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    if printer.json() {
        printer.print_json(&outcome.changes)?;
    } else if outcome.changes.is_empty() {
        printer.line(none);
    } else {
        for change in &outcome.changes {
            printer.line(change);
        }
    }
    if outcome.dry_run {
        eprintln!("dry run: nothing was changed");
    }
    Ok(())
}

/// Runs `opm request PKG --stage STAGE (--node N | --image I | --group G | --server)`.
pub fn run(args: RequestArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let target = &args.target;
    let body = RequestBody {
        target: match (&target.node, &target.image) {
            (Some(node), _) => Some(Target::node(node.clone())),
            (None, Some(image)) => Some(Target::image(image.clone())),
            (None, None) => None,
        },
        group: target.group.clone(),
        server: target.server,
        package: args.package,
        stage: args.stage,
        dry_run: args.dry_run,
    };
    let outcome = with_operator(settings, Needs::Store, async |op| {
        op.request(&body).await.map_err(failed)
    })?;
    print_changes(printer, &outcome, "nothing to request")?;
    Ok(Exit::Success)
}
