//! `opm node add`: register a compute node in its groups.
//!
//! A node added once the head node has assigned an opkg's client work (its
//! row passed run-script-post-clients, or the phase is `complete`) gets
//! rows for the opkgs selected for its groups right away, requested
//! `finished`: that assignment will not run again for it (SPEC §1.4).

use opm_model::{Name, NameKind, Phase, Stage, Target};
use opm_plan::RequestChange;
use opm_store::{AnyStore, Change, DEFAULT_GROUP, NewNode, OpenMode};

use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;
use crate::state::{Snapshot, apply, block_on, load, request_error, requests};

/// Runs `opm node add`.
pub fn run(
    name: Name,
    groups: Vec<Name>,
    image: Option<Name>,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = add(&store, name, groups, image, printer).await;
        store.close().await;
        outcome
    })
}

async fn add(
    store: &AnyStore,
    name: Name,
    groups: Vec<Name>,
    image: Option<Name>,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let mut snapshot = load(store).await?;
    let joined: Vec<Name> = if groups.is_empty() {
        vec![Name::new(NameKind::Group, DEFAULT_GROUP)?]
    } else {
        groups.clone()
    };
    snapshot
        .cluster
        .nodes
        .insert(name.clone(), joined.iter().cloned().collect());
    // Everything is decided and checked before the first write.
    let changes = late_assignments(&snapshot, &name);
    snapshot.apply_checked(&changes).map_err(request_error)?;
    let node = Change::AddNode(NewNode {
        name: name.clone(),
        groups,
        image,
    });
    apply(
        store,
        std::iter::once(node).chain(requests(&changes)).collect(),
    )
    .await?;
    if printer.json() {
        printer.print_json(&serde_json::json!({
            "added": name,
            "groups": joined,
            "requests": changes,
        }))?;
    } else {
        let groups: Vec<&str> = joined.iter().map(Name::as_str).collect();
        printer.line(format_args!(
            "added node {name} (groups: {})",
            groups.join(", ")
        ));
        for change in &changes {
            printer.line(format_args!("  {change}"));
        }
    }
    Ok(Exit::Success)
}

/// The rows a node joining now must get: for every opkg installed on the
/// head node (requested `finished`) and selected for one of the node's
/// groups, once the cluster is `complete` or the head node has passed the
/// stage that assigns client work.
fn late_assignments(snapshot: &Snapshot, node: &Name) -> Vec<RequestChange> {
    let head = snapshot.head();
    let groups = snapshot.groups_of(node);
    let target = Target::node(node.clone());
    snapshot
        .cluster
        .selections
        .iter()
        .filter(|(_, selected)| !selected.is_disjoint(&groups))
        .filter_map(|(package, _)| {
            let head_row = snapshot.cluster.row(&head, package)?;
            let assigned = snapshot.cluster.phase == Phase::Complete
                || head_row.effective_current() >= Stage::RunScriptPostClients;
            (head_row.requested == Stage::Finished && assigned).then_some(package)
        })
        .flat_map(|package| snapshot.cluster.assign_clients(package))
        .filter(|change| change.target == target)
        .collect()
}
