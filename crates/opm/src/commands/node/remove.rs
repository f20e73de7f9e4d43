//! `opm node remove NAME`: a compute node and its rows go; its history
//! stays.

use opm_engine::operate::Operator as _;
use opm_model::Name;

use crate::commands::confirm;
use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm node remove NAME [--dry-run] [-y]`: on a terminal it shows
/// the rows that would go and asks first.
pub fn run(
    name: Name,
    dry_run: bool,
    yes: bool,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let ask = !dry_run && !yes && confirm::on_terminal();
    let removed = with_operator(settings, Needs::Store, async |op| {
        if ask {
            let would = op.remove_node(&name, true).await.map_err(failed)?;
            for row in &would.rows {
                eprintln!("  node {} / {}", row.target, row.package);
            }
            confirm::ask(&format!(
                "remove node {name} and its {} rows?",
                would.rows.len()
            ))?;
        }
        op.remove_node(&name, dry_run).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&removed)?;
    } else if removed.dry_run {
        printer.line(format_args!(
            "would remove node {name} and its {} rows:",
            removed.rows.len()
        ));
        for row in &removed.rows {
            printer.line(format_args!("  node {} / {}", row.target, row.package));
        }
        eprintln!("dry run: nothing was changed");
    } else {
        printer.line(format_args!("removed node {name} and its rows"));
    }
    Ok(Exit::Success)
}
