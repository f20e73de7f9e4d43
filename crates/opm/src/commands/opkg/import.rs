//! `opm opkg import`: register opkg sources in the database.
//!
//! Import checks every source first; one invalid source means nothing is
//! imported. Opkg-to-opkg relations (SPEC §1.4) are resolved over the new
//! sources together with the already imported ones (re-read from their
//! recorded source), so an opkg that requires a capability of one imported
//! later gets its dependency when that one arrives. Relations under
//! `<dist>`/`<arch>` filters count for the `--dist`/`--arch` given, as in
//! `opm opkg show`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use opm_model::Name;
use opm_opkg::{Dist, Graph, Opkg, OpkgError, config_path};
use opm_store::{Change, OpenMode, OpkgImport, Store};
use serde::Serialize;

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::{apply, block_on, now_ms};

/// One source read and checked.
struct Source {
    opkg: Opkg,
    /// The source directory, absolute.
    dir: PathBuf,
}

#[derive(Serialize)]
struct ImportReport {
    name: String,
    version: String,
    source: String,
    depends: Vec<String>,
    conflicts: Vec<String>,
    /// False when the opkg was imported before and only its relations changed.
    given: bool,
}

/// The cluster's (dist, arch) that relation filters are judged by.
pub type Platform = (Option<Dist>, Option<String>);

/// Runs `opm opkg import [--dist D] [--arch A] PATH...`.
pub fn run(
    paths: &[PathBuf],
    platform: &Platform,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let sources = read_all(paths)?;
    let reports = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let stored = store.opkgs().await.map_err(store_error)?;
        let mut known: BTreeMap<Name, Source> = BTreeMap::new();
        for old in &stored {
            let name = &old.import.name;
            if sources.iter().any(|s| &s.opkg.name == name) {
                continue;
            }
            match Opkg::from_path(&old.import.source) {
                Ok(loaded) if &loaded.opkg.name == name => {
                    known.insert(
                        name.clone(),
                        Source {
                            opkg: loaded.opkg,
                            dir: PathBuf::from(&old.import.source),
                        },
                    );
                }
                _ => eprintln!(
                    "warning: cannot re-read {} (source of imported opkg {name}); \
                     relations to it are left as they were; re-import it to refresh them",
                    old.import.source
                ),
            }
        }
        let all: Vec<&Source> = sources.iter().chain(known.values()).collect();
        let parsed: Vec<Opkg> = all.iter().map(|s| s.opkg.clone()).collect();
        let graph = Graph::of(&parsed, platform.0.as_ref(), platform.1.as_deref());
        let depends_on: BTreeMap<Name, BTreeSet<Name>> = parsed
            .iter()
            .map(|opkg| {
                let depends = graph.depends_on(&opkg.name).into_iter().cloned();
                (opkg.name.clone(), depends.collect())
            })
            .collect();
        if let Some(cycle) = opm_plan::first_cycle(&depends_on) {
            store.close().await;
            return Err(bad_input(format!(
                "the opkgs' dependencies form a cycle ({cycle}): none of them could ever be \
                 installed first; drop one of the requires\nnothing was imported"
            )));
        }
        let now = now_ms();
        let mut reports = Vec::new();
        let mut changes = Vec::new();
        for source in &all {
            let name = &source.opkg.name;
            let import = OpkgImport {
                name: name.clone(),
                version: source.opkg.version.to_string(),
                summary: source.opkg.summary.clone(),
                source: source.dir.display().to_string(),
                depends: graph.depends_on(name).into_iter().cloned().collect(),
                conflicts: conflicts_of(&graph, name),
            };
            let given = sources.iter().any(|s| &s.opkg.name == name);
            let before = stored.iter().find(|o| &o.import.name == name);
            let changed = before.is_none_or(|b| {
                b.import.depends != sorted(&import.depends)
                    || b.import.conflicts != sorted(&import.conflicts)
            });
            if !given && !changed {
                continue;
            }
            // An opkg re-resolved only because of a newcomer keeps its import time.
            let at = match before {
                Some(before) if !given => before.imported_at_ms,
                _ => now,
            };
            reports.push(ImportReport {
                name: name.to_string(),
                version: import.version.clone(),
                source: import.source.clone(),
                depends: import.depends.iter().map(Name::to_string).collect(),
                conflicts: import.conflicts.iter().map(Name::to_string).collect(),
                given,
            });
            changes.push(Change::Import {
                opkg: import,
                at_ms: at,
            });
        }
        let outcome = apply(&store, changes).await;
        store.close().await;
        outcome.map(|()| reports)
    })?;
    if printer.json() {
        printer.print_json(&reports)?;
    } else {
        for report in &reports {
            let verb = if report.given { "imported" } else { "updated" };
            let mut line = format!("{verb} {} {}", report.name, report.version);
            if report.given {
                line.push_str(&format!(" from {}", report.source));
            }
            if !report.depends.is_empty() {
                line.push_str(&format!("; depends on {}", report.depends.join(", ")));
            }
            if !report.conflicts.is_empty() {
                line.push_str(&format!("; conflicts with {}", report.conflicts.join(", ")));
            }
            printer.line(line);
        }
    }
    Ok(Exit::Success)
}

/// Reads and checks every source; any error fails the whole import before
/// the database is opened. Warnings go to stderr.
fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut sources: Vec<Source> = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match read_one(path) {
            Ok(source) => {
                if let Some(first) = sources.iter().find(|s| s.opkg.name == source.opkg.name) {
                    errors.push(format!(
                        "{}: opkg {} is also given as {}; give each opkg once",
                        path.display(),
                        source.opkg.name,
                        first.dir.display()
                    ));
                } else {
                    sources.push(source);
                }
            }
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        return Ok(sources);
    }
    for error in &errors[..errors.len() - 1] {
        eprintln!("error: {error}");
    }
    let last = errors.last().cloned().unwrap_or_default();
    Err(bad_input(format!(
        "{last}\nnothing was imported; fix the source{} above and import again",
        if errors.len() == 1 { "" } else { "s" }
    )))
}

/// One source: every error diagnostic in one message, warnings on stderr.
fn read_one(path: &Path) -> Result<Source, String> {
    let config = config_path(path).map_err(|e| e.to_string())?;
    let dir = config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir =
        std::fs::canonicalize(dir).map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    match Opkg::from_path(&config) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("{warning}");
            }
            Ok(Source {
                opkg: loaded.opkg,
                dir,
            })
        }
        Err(OpkgError::Invalid { diagnostics }) => Err(diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")),
        Err(other) => Err(other.to_string()),
    }
}

/// The opkgs `name` conflicts with, whichever side declares it.
fn conflicts_of(graph: &Graph, name: &Name) -> Vec<Name> {
    let mut out: Vec<Name> = graph
        .edges
        .iter()
        .filter(|e| e.kind == opm_opkg::EdgeKind::Conflicts && &e.from == name)
        .map(|e| e.to.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn sorted(names: &[Name]) -> Vec<Name> {
    let mut names = names.to_vec();
    names.sort();
    names.dedup();
    names
}
