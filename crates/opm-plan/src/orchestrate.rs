//! The server's orchestration outputs (SPEC §1.4, §1.5): which other rows
//! to create or re-request. Plain data: the engine writes them in one
//! transaction, then decides again.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use opm_model::{Name, Row, Stage, Target, TargetKind};
use serde::Serialize;

/// Set `requested` on a row, creating the row when it does not exist.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RequestChange {
    /// The row's target.
    pub target: Target,
    /// The row's opkg.
    pub package: Name,
    /// The stage to request.
    pub requested: Stage,
    /// Whether the row has to be created (it did not exist).
    pub create: bool,
}

impl fmt::Display for RequestChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request {} on {} / {}",
            self.requested, self.target, self.package
        )?;
        if self.create {
            f.write_str(" (new row)")?;
        }
        Ok(())
    }
}

/// The rows to create or re-request when the server completes
/// `run-script-post-clients` for `package` (SPEC §1.4 "assign work to
/// clients"): every compute node in one of `selected_groups` gets
/// `requested = finished`.
///
/// `nodes` maps each compute node (not the head node) to its groups;
/// `existing` are the rows of `package` (rows of other opkgs and image rows
/// are ignored). Rows already requested `finished` are left alone, so
/// calling this again changes nothing.
pub fn assign_clients(
    package: &Name,
    selected_groups: &BTreeSet<Name>,
    nodes: &BTreeMap<Name, BTreeSet<Name>>,
    existing: &[Row],
) -> Vec<RequestChange> {
    nodes
        .iter()
        .filter(|(_, groups)| !groups.is_disjoint(selected_groups))
        .filter_map(|(node, _)| {
            let row = existing.iter().find(|row| {
                &row.package == package
                    && row.target.kind == TargetKind::Node
                    && &row.target.name == node
            });
            let create = row.is_none();
            let wanted = row.is_none_or(|row| row.requested != Stage::Finished);
            wanted.then(|| RequestChange {
                target: Target::node(node.clone()),
                package: package.clone(),
                requested: Stage::Finished,
                create,
            })
        })
        .collect()
}

/// The uninstall fan-out of a server row (SPEC §1.5): every client and
/// image row of the opkg still requested above `should_not_be_installed`
/// is requested down to it.
pub fn request_down<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Vec<RequestChange> {
    let mut changes: Vec<RequestChange> = rows
        .into_iter()
        .filter(|row| row.requested != Stage::ShouldNotBeInstalled)
        .map(|row| RequestChange {
            target: row.target.clone(),
            package: row.package.clone(),
            requested: Stage::ShouldNotBeInstalled,
            create: false,
        })
        .collect();
    changes.sort();
    changes
}
