//! `opm node add`: register a compute node in its groups (and with
//! `--enroll FILE` write its agent's enrolment file, see `enroll.rs`). A
//! node added once the head node has assigned an opkg's client work gets
//! its rows right away (SPEC §1.4; the rule is `opm-plan`'s
//! `Cluster::late_assignments`).

use opm_api::remote::AnyOperator;
use opm_engine::operate::Operator as _;
use opm_model::Name;
use opm_model::api::NodeAddBody;

use crate::commands::node::enroll::{Planned, issue, say};
use crate::exit::{Exit, bad_input};
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm node add`.
pub fn run(
    name: Name,
    groups: Vec<Name>,
    image: Option<Name>,
    enrolment: Option<Planned>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let body = NodeAddBody {
        name,
        groups,
        image,
    };
    let (added, issued) = with_operator(settings, Needs::Store, async |op| {
        // An enrolment token is written into the database the head node's
        // server reads: only where that database is.
        if enrolment.is_some() && matches!(op, AnyOperator::Remote(_)) {
            return Err(bad_input(
                "--enroll writes a token into the database: run 'opm node add --enroll' on the \
                 head node, without --remote",
            ));
        }
        let added = op.add_node(&body).await.map_err(failed)?;
        let issued = match (op, &enrolment) {
            (AnyOperator::Local(local), Some(planned)) => {
                Some(issue(local.store.as_ref(), planned).await?)
            }
            _ => None,
        };
        Ok((added, issued))
    })?;
    if printer.json() {
        let mut report = serde_json::to_value(&added)?;
        if let Some(issued) = &issued {
            report["enrolment"] = serde_json::to_value(issued)?;
        }
        printer.print_json(&report)?;
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
        if let Some(issued) = &issued {
            say(issued, printer);
        }
    }
    Ok(Exit::Success)
}
