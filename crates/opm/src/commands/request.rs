//! `opm request`: set the stage rows should reach; with the row-change
//! printing `opm install` and `opm remove` share. The changes come from the planner's own rules (`opm-plan`'s
//! [`Cluster`](opm_plan::Cluster)), are checked in full against a snapshot
//! (unknown names, conflicts, dependents), and only then written, so a
//! refused command changes nothing.

use opm_engine::requests;
use opm_model::{Stage, Target};
use opm_plan::RequestChange;
use opm_store::{AnyStore, OpenMode};
use serde::Serialize;

use crate::cli::{RequestArgs, RequestTarget};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::Settings;
use crate::state::{Snapshot, block_on, load, now_ms, request_error};

/// One row change as printed with `--json`.
#[derive(Serialize)]
struct ChangeEntry {
    target: String,
    kind: &'static str,
    package: String,
    requested: Stage,
    created: bool,
}

/// Prints the row changes a request made, or `none` when there are none.
pub fn print_changes(
    printer: Printer,
    changes: &[RequestChange],
    none: &str,
) -> anyhow::Result<()> {
    if printer.json() {
        let entries: Vec<ChangeEntry> = changes
            .iter()
            .map(|c| ChangeEntry {
                target: c.target.name.to_string(),
                kind: c.target.kind.name(),
                package: c.package.to_string(),
                requested: c.requested,
                created: c.create,
            })
            .collect();
        printer.print_json(&entries)?;
    } else if changes.is_empty() {
        printer.line(none);
    } else {
        for change in changes {
            printer.line(change);
        }
    }
    Ok(())
}

/// Opens the store, runs `body` and closes the store whatever happened.
pub fn with_store<T>(
    settings: &Settings,
    body: impl AsyncFnOnce(&AnyStore) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = body(&store).await;
        store.close().await;
        outcome
    })
}

/// Runs `opm request PKG --stage STAGE (--node N | --image I | --group G | --server)`.
pub fn run(args: RequestArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let changes = with_store(settings, async |store| {
        let mut snapshot = load(store).await?;
        let targets = targets(&snapshot, &args.target)?;
        requests::request(
            store,
            &mut snapshot,
            &targets,
            &args.package,
            args.stage,
            now_ms(),
        )
        .await
        .map_err(request_error)
    })?;
    print_changes(printer, &changes, "nothing to request")?;
    Ok(Exit::Success)
}

/// The targets a request names (the engine checks that each exists).
fn targets(snapshot: &Snapshot, target: &RequestTarget) -> anyhow::Result<Vec<Target>> {
    if target.server {
        return Ok(vec![snapshot.head()]);
    }
    if let Some(node) = &target.node {
        return Ok(vec![Target::node(node.clone())]);
    }
    if let Some(image) = &target.image {
        return Ok(vec![Target::image(image.clone())]);
    }
    if let Some(group) = &target.group {
        let members: Vec<Target> = snapshot
            .cluster
            .nodes
            .iter()
            .filter(|(_, groups)| groups.contains(group))
            .map(|(node, _)| Target::node(node.clone()))
            .collect();
        if members.is_empty() {
            return Err(bad_input(format!(
                "group '{group}' has no nodes; add some with 'opm node add NAME --group {group}'"
            )));
        }
        return Ok(members);
    }
    // clap requires exactly one of the four.
    Err(bad_input(
        "say which rows: --node N, --image I, --group G or --server",
    ))
}
