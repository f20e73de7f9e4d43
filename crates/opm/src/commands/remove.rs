//! `opm remove PKG... [--with-dependents]`: request opkgs
//! `should_not_be_installed` everywhere they are; refused while other
//! opkgs depend on them unless their dependents go too. On a terminal
//! it shows the rows that would go and asks first (`-y` does not ask).

use opm_engine::operate::Operator as _;
use opm_model::api::RemoveBody;

use super::confirm;
use super::request::print_changes;
use crate::cli::RemoveArgs;
use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm remove PKG... [--with-dependents]`.
pub fn run(args: RemoveArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let mut body = RemoveBody {
        packages: args.packages,
        with_dependents: args.with_dependents,
        dry_run: true,
        rollout: args.rollout.policy(settings.rollout),
    };
    let ask = !args.dry_run && !args.yes && confirm::on_terminal();
    let outcome = with_operator(settings, Needs::Store, async |op| {
        if ask {
            let would = op.remove(&body).await.map_err(failed)?;
            if would.changes.is_empty() {
                return Ok(would);
            }
            for change in &would.changes {
                eprintln!("  {change}");
            }
            confirm::ask(&format!(
                "request these {} rows down (their packages are uninstalled)?",
                would.changes.len()
            ))?;
        }
        body.dry_run = args.dry_run;
        op.remove(&body).await.map_err(failed)
    })?;
    print_changes(
        printer,
        &outcome,
        "not installed or requested; nothing to change",
    )?;
    Ok(Exit::Success)
}
