//! `opm install PKG... [--group G]`: request opkgs `finished` on the head
//! node and its images; compute nodes of the group follow at
//! run-script-post-clients (SPEC §1.4).

use opm_engine::operate::Operator as _;
use opm_model::api::InstallBody;

use super::request::print_changes;
use crate::cli::InstallArgs;
use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm install PKG... [--group G]`.
pub fn run(args: InstallArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let body = InstallBody {
        packages: args.packages,
        group: args.group,
        dry_run: args.dry_run,
        rollout: args.rollout.policy(settings.rollout),
    };
    let outcome = with_operator(settings, Needs::Store, async |op| {
        op.install(&body).await.map_err(failed)
    })?;
    print_changes(printer, &outcome, "already requested; nothing to change")?;
    Ok(Exit::Success)
}
