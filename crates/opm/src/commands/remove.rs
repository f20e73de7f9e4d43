//! `opm remove PKG... [--with-dependents]`: request opkgs
//! `should_not_be_installed` everywhere they are; refused while other
//! opkgs depend on them unless their dependents go too.

use opm_engine::operate::Operator as _;
use opm_model::api::RemoveBody;

use super::request::print_changes;
use crate::cli::RemoveArgs;
use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm remove PKG... [--with-dependents]`.
pub fn run(args: RemoveArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let body = RemoveBody {
        packages: args.packages,
        with_dependents: args.with_dependents,
    };
    let outcome = with_operator(settings, Needs::Store, async |op| {
        op.remove(&body).await.map_err(failed)
    })?;
    print_changes(
        printer,
        &outcome,
        "not installed or requested; nothing to change",
    )?;
    Ok(Exit::Success)
}
