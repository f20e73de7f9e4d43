//! `opm node add`: register a compute node in its groups. A node added
//! once the head node has assigned an opkg's client work gets its rows
//! right away (SPEC §1.4; the rule is `opm-plan`'s
//! `Cluster::late_assignments`).

use opm_engine::operate::Operator as _;
use opm_model::Name;
use opm_model::api::NodeAddBody;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm node add`.
pub fn run(
    name: Name,
    groups: Vec<Name>,
    image: Option<Name>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let body = NodeAddBody {
        name,
        groups,
        image,
    };
    let added = with_operator(settings, Needs::Store, async |op| {
        op.add_node(&body).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&added)?;
    } else {
        let groups: Vec<&str> = added.groups.iter().map(Name::as_str).collect();
        printer.line(format_args!(
            "added node {} (groups: {})",
            added.added,
            groups.join(", ")
        ));
        for change in &added.requests {
            printer.line(format_args!("  {change}"));
        }
    }
    Ok(Exit::Success)
}
