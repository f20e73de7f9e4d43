//! `opm node list`: the nodes, head node first, with their images,
//! groups, and when their agents last polled with which opm.

use opm_engine::clock::utc;
use opm_engine::operate::Operator as _;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm node list`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let nodes = with_operator(settings, Needs::Store, async |op| {
        op.nodes().await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&nodes)?;
    } else {
        printer.table(
            &["name", "role", "image", "groups", "last seen", "agent"],
            nodes
                .into_iter()
                .map(|node| {
                    vec![
                        node.name,
                        if node.head { "head" } else { "compute" }.to_owned(),
                        node.image.unwrap_or_else(|| "-".to_owned()),
                        node.groups.join(","),
                        node.last_seen_ms.map_or_else(|| "-".to_owned(), utc),
                        node.agent
                            .filter(|agent| !agent.is_empty())
                            .unwrap_or_else(|| "-".to_owned()),
                    ]
                })
                .collect(),
            "no nodes; run 'opm init' on the head node first",
        );
    }
    Ok(Exit::Success)
}
