//! `opm opkg check`: validate opkg sources and say, per finding, where
//! (SPEC §2). The work is done by `opm-opkg`; this module picks the level,
//! formats the results and sets the exit code.

use std::path::{Path, PathBuf};

use opm_opkg::pack::review_dir;
use opm_opkg::{Diagnostic, Inventory, Level, Opkg, OpkgError, Severity};
use serde::Serialize;

use crate::exit::Exit;
use crate::printer::Printer;

/// The outcome of checking one input.
#[derive(Serialize)]
struct CheckReport {
    /// The path as given.
    path: String,
    /// Whether opm can use the source (warnings allowed).
    ok: bool,
    /// The opkg's name, when it could be read.
    name: Option<String>,
    /// Its version, when it could be read.
    version: Option<String>,
    /// Every finding, in file order.
    diagnostics: Vec<Diagnostic>,
}

/// Runs `opm opkg check`.
pub fn run(paths: &[PathBuf], strict: bool, printer: Printer) -> anyhow::Result<Exit> {
    let level = if strict {
        Level::Strict
    } else {
        Level::Default
    };
    let reports: Vec<CheckReport> = paths.iter().map(|path| check_one(path, level)).collect();
    let failed = reports.iter().filter(|r| !r.ok).count();
    if printer.json() {
        printer.print_json(&reports)?;
    } else {
        for report in &reports {
            for diagnostic in &report.diagnostics {
                printer.line(diagnostic);
            }
            let warnings = report
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .count();
            let errors = report.diagnostics.len() - warnings;
            let counts = match (errors, warnings) {
                (0, 0) => String::new(),
                (0, w) => format!(", {w} {}", plural(w, "warning")),
                (e, 0) => format!(" ({e} {})", plural(e, "error")),
                (e, w) => format!(
                    " ({e} {}, {w} {})",
                    plural(e, "error"),
                    plural(w, "warning")
                ),
            };
            match (&report.name, &report.version) {
                (Some(name), Some(version)) if report.ok => {
                    printer.line(format_args!(
                        "{}: ok ({name} {version}{counts})",
                        report.path
                    ));
                }
                _ => printer.line(format_args!("{}: invalid{counts}", report.path)),
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "error: {failed} of {} {} cannot be used; fix the errors above",
            reports.len(),
            plural(reports.len(), "opkg source")
        );
        Ok(Exit::BadInput)
    } else {
        Ok(Exit::Success)
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        noun.to_owned()
    } else {
        format!("{noun}s")
    }
}

fn check_one(path: &Path, level: Level) -> CheckReport {
    let shown = path.display().to_string();
    let mut report = CheckReport {
        path: shown.clone(),
        ok: false,
        name: None,
        version: None,
        diagnostics: Vec::new(),
    };
    match Opkg::from_path_with(path, level) {
        Ok(loaded) => {
            report.ok = true;
            report.name = Some(loaded.opkg.name.to_string());
            report.version = Some(loaded.opkg.version.to_string());
            report.diagnostics = loaded.warnings;
            // A source directory also ships scripts: say which hook files
            // opm would never run, and whether scripts/ can be read at all;
            // then whatever opm pack would warn about or refuse.
            if path.is_dir() {
                let review = review_dir(path, &loaded.opkg);
                report.ok &= review.iter().all(|d| d.severity == Severity::Warning);
                report.diagnostics.extend(review);
                match Inventory::of_dir(path) {
                    Ok(inventory) => report
                        .diagnostics
                        .extend(inventory.warnings(&path.join("scripts"))),
                    Err(error) => {
                        report.ok = false;
                        report.diagnostics.push(Diagnostic {
                            file: error.path.display().to_string(),
                            line: 1,
                            column: 1,
                            severity: Severity::Error,
                            message: error.to_string(),
                        });
                    }
                }
            }
        }
        Err(OpkgError::Invalid { diagnostics }) => report.diagnostics = diagnostics,
        Err(other) => report.diagnostics.push(Diagnostic {
            file: shown,
            line: 1,
            column: 1,
            severity: Severity::Error,
            message: other.to_string(),
        }),
    }
    report
}
