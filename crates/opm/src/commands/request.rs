//! `opm request`, `opm install` and `opm remove`: set what rows should
//! reach. The changes come from the planner's own rules (`opm-plan`'s
//! [`Cluster`](opm_plan::Cluster)), are checked in full against a snapshot
//! (unknown names, conflicts, dependents), and only then written, so a
//! refused command changes nothing.

use std::collections::BTreeSet;

use opm_model::{Name, NameKind, Row, Stage, Target};
use opm_plan::RequestChange;
use opm_store::{Change, DEFAULT_GROUP, OpenMode, SqliteStore};
use serde::Serialize;

use crate::cli::{InstallArgs, RemoveArgs, RequestArgs, RequestTarget};
use crate::commands::state::{Snapshot, apply, block_on, requests};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::Settings;

/// One row change as printed with `--json`.
#[derive(Serialize)]
struct ChangeEntry {
    target: String,
    kind: &'static str,
    package: String,
    requested: Stage,
    created: bool,
}

fn print_changes(printer: Printer, changes: &[RequestChange], none: &str) -> anyhow::Result<()> {
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
fn with_store<T>(
    settings: &Settings,
    body: impl AsyncFnOnce(&SqliteStore) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = body(&store).await;
        store.close().await;
        outcome
    })
}

/// Runs `opm request PKG --stage STAGE (--node N | --image I | --group G | --server)`.
pub fn request(args: RequestArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let changes = with_store(settings, async |store| {
        let mut snapshot = Snapshot::load(store).await?;
        snapshot.opkg(&args.package)?;
        let changes: Vec<RequestChange> = targets(&snapshot, &args.target)?
            .into_iter()
            .map(|target| RequestChange {
                create: snapshot.cluster.row(&target, &args.package).is_none(),
                target,
                package: args.package.clone(),
                requested: args.stage,
            })
            .collect();
        snapshot.apply_checked(&changes)?;
        apply(store, requests(&changes).collect()).await?;
        Ok(changes)
    })?;
    print_changes(printer, &changes, "nothing to request")?;
    Ok(Exit::Success)
}

/// The targets a request names; each must exist.
fn targets(snapshot: &Snapshot, target: &RequestTarget) -> anyhow::Result<Vec<Target>> {
    if target.server {
        return Ok(vec![snapshot.head()]);
    }
    if let Some(node) = &target.node {
        if *node != snapshot.cluster.head && !snapshot.cluster.nodes.contains_key(node) {
            return Err(bad_input(format!(
                "unknown node '{node}'; see 'opm node list'"
            )));
        }
        return Ok(vec![Target::node(node.clone())]);
    }
    if let Some(image) = &target.image {
        if !snapshot.cluster.images.contains_key(image) {
            return Err(bad_input(format!(
                "unknown image '{image}'; see 'opm image list'"
            )));
        }
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

/// Whether a group exists: the default one always does, others once a
/// node has joined them.
fn group_exists(snapshot: &Snapshot, group: &Name) -> bool {
    group.as_str() == DEFAULT_GROUP || snapshot.cluster.nodes.values().any(|g| g.contains(group))
}

/// Runs `opm install PKG... [--group G]`.
pub fn install(args: InstallArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let group = match args.group {
        Some(group) => group,
        None => Name::new(NameKind::Group, DEFAULT_GROUP)?,
    };
    let packages = unique(args.packages);
    let changes = with_store(settings, async |store| {
        let mut snapshot = Snapshot::load(store).await?;
        for package in &packages {
            snapshot.opkg(package)?;
        }
        if !group_exists(&snapshot, &group) {
            return Err(bad_input(format!(
                "unknown group '{group}'; a group exists once a node joins it \
                 ('opm node add NAME --group {group}')"
            )));
        }
        let mut changes = Vec::new();
        for package in &packages {
            snapshot
                .cluster
                .selections
                .entry(package.clone())
                .or_default()
                .insert(group.clone());
            let more = snapshot.cluster.install_requests(package);
            snapshot.apply_checked(&more)?;
            changes.extend(more);
        }
        let selections = packages.iter().map(|package| Change::Select {
            opkg: package.clone(),
            group: group.clone(),
        });
        apply(store, selections.chain(requests(&changes)).collect()).await?;
        warn_missing_dependencies(&snapshot, &packages);
        Ok(changes)
    })?;
    print_changes(printer, &changes, "already requested; nothing to change")?;
    Ok(Exit::Success)
}

/// Says on stderr when an installed opkg depends on one that is neither
/// installed nor requested on the head node: its rows would wait for it.
fn warn_missing_dependencies(snapshot: &Snapshot, packages: &[Name]) {
    let head = snapshot.head();
    for package in packages {
        for dependency in snapshot
            .cluster
            .depends_on
            .get(package)
            .into_iter()
            .flatten()
        {
            let wanted = snapshot
                .cluster
                .row(&head, dependency)
                .is_some_and(|row| row.requested > Stage::ShouldNotBeInstalled);
            if !wanted {
                eprintln!(
                    "warning: {package} depends on {dependency}, which is not requested; \
                     its stages wait until you run 'opm install {dependency}'"
                );
            }
        }
    }
}

/// Runs `opm remove PKG... [--with-dependents]`.
pub fn remove(args: RemoveArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let packages = unique(args.packages);
    let changes = with_store(settings, async |store| {
        let mut snapshot = Snapshot::load(store).await?;
        for package in &packages {
            snapshot.opkg(package)?;
        }
        let changes = removal(&mut snapshot, &packages, args.with_dependents)?;
        apply(store, requests(&changes).collect()).await?;
        Ok(changes)
    })?;
    print_changes(
        printer,
        &changes,
        "not installed or requested; nothing to change",
    )?;
    Ok(Exit::Success)
}

/// The requests that remove `packages`. Opkgs named together may depend
/// on each other; only a dependent outside the list refuses the removal
/// (unless `with_dependents`, which takes such dependents down too).
fn removal(
    snapshot: &mut Snapshot,
    packages: &[Name],
    with_dependents: bool,
) -> anyhow::Result<Vec<RequestChange>> {
    if !with_dependents {
        // Ask the planner's rule with the listed opkgs already gone from
        // the head node, so only outside dependents can refuse.
        let mut probe = snapshot.cluster.clone();
        let head = snapshot.head();
        for package in packages {
            if let Some(row) = probe.row(&head, package).cloned() {
                probe.upsert(Row {
                    requested: Stage::ShouldNotBeInstalled,
                    current: Some(Stage::ShouldNotBeInstalled),
                    ..row
                });
            }
        }
        for package in packages {
            if let Err(dependents) = probe.remove_requests(package, false) {
                return Err(refusal(package, &dependents));
            }
        }
    }
    let mut changes = Vec::new();
    for package in packages {
        let more = snapshot
            .cluster
            .remove_requests(package, true)
            .map_err(|dependents| refusal(package, &dependents))?;
        snapshot.apply_checked(&more)?;
        changes.extend(more);
    }
    Ok(changes)
}

fn refusal(package: &Name, dependents: &[Name]) -> anyhow::Error {
    let names: Vec<&str> = dependents.iter().map(Name::as_str).collect();
    let one = names.len() == 1;
    bad_input(format!(
        "cannot remove {package}: {} depend{} on it and {} installed or requested on the \
         head node; remove {} too, or pass --with-dependents (nothing was changed)",
        names.join(", "),
        if one { "s" } else { "" },
        if one { "is" } else { "are" },
        if one { "it" } else { "them" },
    ))
}

/// The names in order, each once.
fn unique(names: Vec<Name>) -> Vec<Name> {
    let mut seen = BTreeSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}
