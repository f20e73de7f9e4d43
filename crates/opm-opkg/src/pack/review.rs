//! What `opm opkg check` says about a whole opkg source beyond its
//! config.xml: links, files that lose to others or are not installed,
//! dependency names a deb cannot satisfy, and, by packing in memory for
//! every target the opkg's own filters admit, whatever `opm pack` would
//! refuse. That keeps the invariant "check ok ⇒ pack ok".

use std::collections::BTreeSet;
use std::path::Path;

use super::deb::deb_bytes;
use super::error::PackError;
use super::opkg::{SourceFiles, TESTING_PARTS, Target, opkg_specs};
use super::rpm::rpm_bytes;
use super::spec::PackageSpec;
use crate::deps::DEB_DISTS;
use crate::{Diagnostic, Dist, Opkg, Severity};

/// One finding about a source, without a position (it is about files).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Warning (pack goes on) or error (pack refuses).
    pub severity: Severity,
    /// What is wrong, naming the file or package.
    pub message: String,
}

/// Which package formats a target dist is built as.
fn formats(dist: Option<&Dist>) -> (bool, bool) {
    match dist {
        None => (true, true),
        Some(dist) if DEB_DISTS.contains(&dist.name.as_str()) => (true, false),
        Some(_) => (false, true),
    }
}

/// The (dist, arch) pairs worth packing to know that every target the
/// opkg's filters admit packs: no dist or arch, `debian` and `rhel`, and
/// every dist (with and without its version) and arch any filter names.
pub fn admitted_targets(opkg: &Opkg) -> Vec<(Option<Dist>, Option<String>)> {
    let mut dists: BTreeSet<Option<(String, Option<String>)>> = BTreeSet::new();
    let mut arches: BTreeSet<Option<String>> = BTreeSet::new();
    dists.insert(None);
    arches.insert(None);
    for name in ["debian", "rhel"] {
        dists.insert(Some((name.to_owned(), None)));
    }
    let blocks = opkg
        .relations
        .iter()
        .chain(&opkg.server_deps)
        .chain(&opkg.client_deps)
        .chain(&opkg.common_deps)
        .chain(&opkg.api_deps);
    for filters in std::iter::once(&opkg.filters).chain(blocks.map(|block| &block.filters)) {
        for dist in &filters.dists {
            dists.insert(Some((dist.name.clone(), None)));
            if let Some((_, version)) = &dist.constraint {
                dists.insert(Some((dist.name.clone(), Some(version.clone()))));
            }
        }
        for arch in &filters.arches {
            arches.insert(Some(arch.clone()));
        }
    }
    let mut targets = Vec::new();
    for dist in &dists {
        let dist = dist.as_ref().map(|(name, version)| Dist {
            name: name.clone(),
            version: version.clone(),
        });
        for arch in &arches {
            if opkg.available_on(dist.as_ref(), arch.as_deref()) {
                targets.push((dist.clone(), arch.clone()));
            }
        }
    }
    targets
}

/// Whether `name` is a Debian package name: `[a-z0-9][a-z0-9+.-]+`.
pub fn is_deb_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

/// One warning per relation of `spec` whose name is not a Debian package
/// name: dpkg takes it into Depends, but no package can ever satisfy it.
/// (Names with parentheses are rpm capabilities, which the deb writer
/// refuses outright.)
pub fn deb_name_warnings(spec: &PackageSpec) -> Vec<String> {
    let kinds = [
        ("dependency", &spec.depends, "no deb can satisfy it"),
        ("conflict", &spec.conflicts, "it never matches a deb"),
        ("provide", &spec.provides, "no deb can depend on it"),
    ];
    let mut warnings = Vec::new();
    for (kind, relations, effect) in kinds {
        for relation in relations.iter() {
            if relation.name.contains(['(', ')']) || is_deb_name(&relation.name) {
                continue;
            }
            warnings.push(format!(
                "package {}: {kind} '{}' is not a valid Debian package name (lower-case letters, digits, '+', '-', '.'), so {effect}; limit it to rpm dists with <filters> or fix the name",
                spec.name, relation.name
            ));
        }
    }
    warnings
}

/// What is worth a warning in `files` whatever the target: links, a
/// scripts/ file that loses to a top-level one, testing/ files that are
/// not installed. `opm pack` prints these too.
pub fn source_warnings(files: &SourceFiles) -> Vec<String> {
    let mut warnings = files.notes.clone();
    let top: BTreeSet<&str> = files.top.iter().map(|entry| entry.path.as_str()).collect();
    for entry in &files.scripts {
        if !entry.path.contains('/')
            && (top.contains(entry.path.as_str()) || entry.path == "config.xml")
        {
            warnings.push(format!(
                "scripts/{} is also a top-level file; the top-level one is packaged, as opkgc does; remove one of them",
                entry.path
            ));
        }
    }
    for entry in &files.testing {
        if !entry.path.contains('/') && !TESTING_PARTS.contains(&entry.path.as_str()) {
            warnings.push(format!(
                "testing/{} is not installed: only testing/apitests.d, testing/tests.d and testing/data are, as opkgc installs them",
                entry.path
            ));
        }
    }
    warnings
}

/// Every finding about the source `files` of `opkg`, sorted, each once.
pub fn review(opkg: &Opkg, files: &SourceFiles) -> Vec<Finding> {
    let mut findings = BTreeSet::new();
    let mut warn = |message: String| {
        findings.insert(Finding {
            severity: Severity::Warning,
            message,
        });
    };
    for warning in source_warnings(files) {
        warn(warning);
    }
    let mut errors = BTreeSet::new();
    for (dist, arch) in admitted_targets(opkg) {
        let target = Target {
            dist: dist.clone(),
            arch: arch.clone(),
            mtime: 0,
        };
        let specs = match opkg_specs(opkg, files, &target) {
            Ok(specs) => specs,
            // Not a target at all, or one that needs --arch: no fault of the source.
            Err(PackError::Unavailable { .. } | PackError::NeedsArch { .. }) => continue,
            Err(error) => {
                errors.insert(error.to_string());
                continue;
            }
        };
        let (deb, rpm) = formats(dist.as_ref());
        for spec in &specs {
            if deb {
                for message in deb_name_warnings(spec) {
                    warn(message);
                }
                if let Err(error) = deb_bytes(spec) {
                    errors.insert(format!("{error} (as a deb for {})", shown(&target)));
                }
            }
            if rpm && let Err(error) = rpm_bytes(spec) {
                errors.insert(format!("{error} (as an rpm for {})", shown(&target)));
            }
        }
    }
    findings.extend(errors.into_iter().map(|message| Finding {
        severity: Severity::Error,
        message,
    }));
    findings.into_iter().collect()
}

fn shown(target: &Target) -> String {
    format!(
        "dist {}, arch {}",
        target
            .dist
            .as_ref()
            .map_or_else(|| "(none)".to_owned(), ToString::to_string),
        target.arch.as_deref().unwrap_or("(none)")
    )
}

/// [`review`] of the source directory `dir` as diagnostics naming `dir`;
/// a source whose files cannot be read (a link out of it, a FIFO) is one
/// error.
pub fn review_dir(dir: &Path, opkg: &Opkg) -> Vec<Diagnostic> {
    let diagnostic = |severity, message| Diagnostic {
        file: dir.display().to_string(),
        line: 1,
        column: 1,
        severity,
        message,
    };
    match SourceFiles::read(dir) {
        Ok(files) => review(opkg, &files)
            .into_iter()
            .map(|finding| diagnostic(finding.severity, finding.message))
            .collect(),
        Err(error) => vec![diagnostic(Severity::Error, error.to_string())],
    }
}
