//! `opm opkg show`: print what opm understands of one opkg source (SPEC
//! §2): its metadata, effective dependencies per native part, scripts and
//! configurator defaults.

use std::path::Path;

use opm_model::Part;
use opm_opkg::{
    Configurator, Deps, Diagnostic, Dist, Field, HelperFile, Inventory, Loaded, Opkg, OpkgError,
    ScriptFile, config_path,
};
use serde::Serialize;

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;

/// Effective deps of each native part, in install order.
#[derive(Serialize)]
struct PartDeps {
    api: Deps,
    server: Deps,
    client: Deps,
}

/// Everything `opm opkg show --json` prints.
#[derive(Serialize)]
struct ShowReport<'a> {
    name: &'a str,
    version: String,
    class: Option<&'static str>,
    summary: &'a str,
    description: Option<&'a str>,
    license: Option<&'a str>,
    group: Option<&'a str>,
    uri: Option<&'a str>,
    authors: &'a [opm_opkg::Author],
    /// The dist and arch the deps are for; `null` = unknown (only blocks
    /// without a filter on it count).
    dist: Option<String>,
    arch: Option<&'a str>,
    /// Whether the package-wide filters allow this dist and arch.
    available: bool,
    deps: PartDeps,
    scripts: &'a [ScriptFile],
    helpers: &'a [HelperFile],
    configurator: Option<Vec<Field>>,
    changelog: Vec<String>,
    warnings: &'a [Diagnostic],
}

/// Runs `opm opkg show`.
pub fn run(
    path: &Path,
    dist: Option<Dist>,
    arch: Option<String>,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let Loaded { opkg, warnings } = match Opkg::from_path(path) {
        Ok(loaded) => loaded,
        Err(OpkgError::Invalid { diagnostics }) => {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}");
            }
            return Err(bad_input(format!(
                "{} is not a usable opkg source; run opm opkg check for details",
                path.display()
            )));
        }
        Err(other) => return Err(bad_input(other.to_string())),
    };
    let config = config_path(path).map_err(|e| bad_input(e.to_string()))?;
    // A config.xml given directly still belongs to its directory.
    let dir = config.parent().unwrap_or(Path::new(".")).to_owned();
    let inventory = Inventory::of_dir(&dir).map_err(|e| bad_input(e.to_string()))?;
    let html = dir.join("configurator.html");
    let configurator = if html.is_file() {
        Some(Configurator::from_path(&html).map_err(|e| bad_input(e.to_string()))?)
    } else {
        None
    };
    let deps_of = |part| opkg.effective_deps(part, dist.as_ref(), arch.as_deref());
    let deps = PartDeps {
        api: deps_of(Part::Api),
        server: deps_of(Part::Server),
        client: deps_of(Part::Client),
    };
    let report = ShowReport {
        name: opkg.name.as_str(),
        version: opkg.version.to_string(),
        class: opkg.class.map(|c| c.name()),
        summary: &opkg.summary,
        description: opkg.description.as_deref(),
        license: opkg.license.as_deref(),
        group: opkg.group(),
        uri: opkg.uri.as_deref(),
        authors: &opkg.authors,
        dist: dist.as_ref().map(ToString::to_string),
        arch: arch.as_deref(),
        available: opkg.available_on(dist.as_ref(), arch.as_deref()),
        deps,
        scripts: &inventory.scripts,
        helpers: &inventory.helpers,
        configurator,
        changelog: opkg
            .changelog
            .iter()
            .map(|e| e.version.to_string())
            .collect(),
        warnings: &warnings,
    };
    if printer.json() {
        printer.print_json(&report)?;
    } else {
        for warning in &warnings {
            eprintln!("{warning}");
        }
        print_text(&report, printer);
    }
    Ok(Exit::Success)
}

fn print_text(report: &ShowReport<'_>, printer: Printer) {
    let row = |key: &str, value: &str| printer.line(format_args!("{key:<18}{value}"));
    row("name:", report.name);
    row("version:", &report.version);
    row("class:", report.class.unwrap_or("-"));
    row("summary:", report.summary);
    row("license:", report.license.unwrap_or("-"));
    row("group:", report.group.unwrap_or("-"));
    row("uri:", report.uri.unwrap_or("-"));
    for author in report.authors {
        row("author:", &format!("{} <{}>", author.name, author.email));
    }
    let note = match (report.available, &report.dist, report.arch) {
        (true, _, _) => "",
        (false, Some(_), Some(_)) => " (excluded by the package-wide filters)",
        (false, _, _) => " (the package-wide filters name dists or arches: give --dist and --arch)",
    };
    let platform = format!(
        "{}/{}{note}",
        report.dist.as_deref().unwrap_or("any"),
        report.arch.unwrap_or("any"),
    );
    row("platform:", &platform);
    let parts = [
        ("api", &report.deps.api),
        ("server", &report.deps.server),
        ("client", &report.deps.client),
    ];
    for (part, deps) in parts {
        for (kind, list) in [
            ("requires", &deps.requires),
            ("conflicts", &deps.conflicts),
            ("provides", &deps.provides),
            ("suggests", &deps.suggests),
        ] {
            if !list.is_empty() {
                let names: Vec<String> = list.iter().map(ToString::to_string).collect();
                row(&format!("{part} {kind}:"), &names.join(", "));
            }
        }
    }
    for script in report.scripts {
        row(
            "script:",
            &format!("{} ({})", script.file_name, script.part),
        );
    }
    for helper in report.helpers {
        row(
            "helper:",
            &format!("{} ({})", helper.file_name, helper.part),
        );
    }
    for field in report.configurator.iter().flatten() {
        let defaults = if field.defaults.is_empty() {
            "(none)".to_owned()
        } else {
            field.defaults.join(", ")
        };
        row("config:", &format!("{} = {defaults}", field.name));
    }
}
