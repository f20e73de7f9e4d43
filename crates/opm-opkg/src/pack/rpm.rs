//! The `.rpm` writer, through the `rpm` crate (payload and headers; no
//! signing, no scriptlets: opm runs the opkg scripts itself).

use std::path::{Path, PathBuf};

use ::rpm::{Dependency, FileOptions, PackageBuilder};

use super::deb::deb_version;
use super::error::PackError;
use super::spec::{Content, PackageSpec, rpm_arch};
use crate::{Rel, Relation, Version};

/// Writes `spec` as `<out_dir>/<name>-<version>-<release>.<arch>.rpm` and
/// returns the path.
pub fn write_rpm(spec: &PackageSpec, out_dir: &Path) -> Result<PathBuf, PackError> {
    let bytes = rpm_bytes(spec)?;
    let path = out_dir.join(rpm_file_name(spec));
    std::fs::write(&path, bytes).map_err(PackError::io(&path))?;
    Ok(path)
}

/// The release rpm gets: the changelog's, or `0` when none is written.
pub fn rpm_release(version: &Version) -> &str {
    version.release.as_deref().unwrap_or("0")
}

/// `name-version-release.arch.rpm`, as rpmbuild names it.
pub fn rpm_file_name(spec: &PackageSpec) -> String {
    format!(
        "{}-{}-{}.{}.rpm",
        spec.name,
        spec.version.upstream,
        rpm_release(&spec.version),
        rpm_arch(spec.arch.as_deref())
    )
}

/// `name >= 1.2`, as rpm prints a requirement.
pub fn rpm_relation(relation: &Relation) -> String {
    match &relation.constraint {
        Some((rel, version)) => format!("{} {rel} {version}", relation.name),
        None => relation.name.clone(),
    }
}

fn dependency(relation: &Relation) -> Dependency {
    let name = relation.name.clone();
    match &relation.constraint {
        None => Dependency::any(name),
        Some((Rel::Greater, version)) => Dependency::greater(name, version),
        Some((Rel::GreaterOrEqual, version)) => Dependency::greater_eq(name, version),
        Some((Rel::Less, version)) => Dependency::less(name, version),
        Some((Rel::LessOrEqual, version)) => Dependency::less_eq(name, version),
        Some((Rel::Equal, version)) => Dependency::eq(name, version),
    }
}

/// The whole package, in memory.
pub fn rpm_bytes(spec: &PackageSpec) -> Result<Vec<u8>, PackError> {
    spec.check()?;
    let failed = |source| PackError::Rpm {
        package: spec.name.clone(),
        source,
    };
    let config = ::rpm::BuildConfig::default()
        .compression(::rpm::CompressionWithLevel::Gzip(9))
        // opm does not sign packages: no 4 KiB of room for a signature.
        .reserved_space(None)
        .source_date(::rpm::Timestamp(spec.mtime));
    let mut builder = PackageBuilder::new(
        &spec.name,
        &spec.version.upstream,
        &spec.license,
        &rpm_arch(spec.arch.as_deref()),
        spec.summary.trim(),
    );
    builder
        .using_config(config)
        .release(rpm_release(&spec.version))
        .description(spec.description_lines().join("\n"))
        .packager(&spec.maintainer)
        .group(&spec.group)
        .build_host("opm");
    if let Some(homepage) = &spec.homepage {
        builder.url(homepage);
    }
    if let Some(epoch) = spec.version.epoch {
        builder.epoch(epoch);
    }
    for relation in spec.depends.iter().chain(&spec.rpm_requires) {
        builder.requires(dependency(relation));
    }
    for change in &spec.changelog {
        let version = deb_version(&change.version);
        let items: Vec<String> = change
            .items
            .iter()
            .map(|item| format!("- {item}"))
            .collect();
        builder.add_changelog_entry(
            format!("{} - {version}", change.author),
            items.join("\n"),
            ::rpm::Timestamp(change.time),
        );
    }
    for relation in &spec.conflicts {
        builder.conflicts(dependency(relation));
    }
    for relation in &spec.provides {
        builder.provides(dependency(relation));
    }
    let mut entries: Vec<_> = spec.files.iter().collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    for entry in entries {
        // rpm keeps permission bits in a u16 next to the file type.
        let permissions = (entry.mode & 0o7777) as u16;
        match &entry.content {
            Content::File(bytes) => {
                let options = FileOptions::new(&entry.path).permissions(permissions);
                // Everything below /usr/share/doc is %doc, as rpmbuild flags
                // what a spec lists under %doc.
                let options = if entry.is_doc() {
                    options.doc()
                } else {
                    options
                };
                builder
                    .with_file_contents(bytes.clone(), options)
                    .map_err(failed)?;
            }
            Content::Link(target) => {
                builder
                    .with_symlink(FileOptions::symlink(&entry.path, target))
                    .map_err(failed)?;
            }
            Content::Dir => {
                builder
                    .with_dir_entry(FileOptions::dir(&entry.path).permissions(permissions))
                    .map_err(failed)?;
            }
        }
    }
    let package = builder.build().map_err(failed)?;
    let mut bytes = Vec::new();
    package.write(&mut bytes).map_err(failed)?;
    Ok(bytes)
}
