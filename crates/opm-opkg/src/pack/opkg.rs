//! From an opkg source to its three native packages (SPEC §1.7, §3):
//! `opkg-<p>` (config.xml, configurator.html, api scripts, doc/, testing/),
//! `opkg-<p>-server` (`server-*` scripts) and `opkg-<p>-client`
//! (`client-*` scripts), each with the dependencies that hold on the
//! target (dist, arch). [`SourceFiles::read`] is the only I/O; [`opkg_specs`]
//! is pure.

use std::collections::BTreeMap;
use std::path::Path;

use opm_model::Part;

use super::error::PackError;
use super::spec::{Entry, PackageSpec};
use crate::{AuthorCategory, Dist, Inventory, Opkg};

/// Where installed opkgs keep their files; `<p>/` below it.
pub const PACKAGES_DIR: &str = "/usr/lib/oscar/packages";
/// Where installed opkgs keep their tests; `<p>/` below it.
pub const TESTING_DIR: &str = "/usr/lib/oscar/testing";

/// A file or directory of a source tree, relative to the tree's top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// `/`-separated path below the tree (`lib/Helper.pm`).
    pub path: String,
    /// Whether any execute bit is set on the source file.
    pub executable: bool,
    /// The bytes, or `None` for a directory.
    pub bytes: Option<Vec<u8>>,
}

/// The files of an opkg source that go into its packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFiles {
    /// `config.xml`.
    pub config: Vec<u8>,
    /// `configurator.html`, when there is one.
    pub configurator: Option<Vec<u8>>,
    /// Everything under `scripts/`.
    pub scripts: Vec<TreeEntry>,
    /// Everything under `doc/`.
    pub doc: Vec<TreeEntry>,
    /// Everything under `testing/`.
    pub testing: Vec<TreeEntry>,
}

impl SourceFiles {
    /// Reads the source directory `dir`. Names starting with `.`
    /// (version-control leftovers) are skipped, as [`Inventory`] skips them.
    pub fn read(dir: &Path) -> Result<SourceFiles, PackError> {
        let config_path = dir.join("config.xml");
        let config = std::fs::read(&config_path).map_err(PackError::io(&config_path))?;
        let configurator_path = dir.join("configurator.html");
        let configurator = if configurator_path.is_file() {
            Some(std::fs::read(&configurator_path).map_err(PackError::io(&configurator_path))?)
        } else {
            None
        };
        Ok(SourceFiles {
            config,
            configurator,
            scripts: read_tree(&dir.join("scripts"))?,
            doc: read_tree(&dir.join("doc"))?,
            testing: read_tree(&dir.join("testing"))?,
        })
    }
}

/// Every entry below `top`, sorted by path; empty when `top` is missing.
fn read_tree(top: &Path) -> Result<Vec<TreeEntry>, PackError> {
    let mut entries = Vec::new();
    if top.is_dir() {
        walk(top, "", &mut entries)?;
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<TreeEntry>) -> Result<(), PackError> {
    for entry in std::fs::read_dir(dir).map_err(PackError::io(dir))? {
        let entry = entry.map_err(PackError::io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(PackError::Unreadable {
                path: entry.path(),
                reason: "its name is not UTF-8, which neither package format can carry".to_owned(),
            });
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        // Follow symlinks: the package carries what the link points at.
        let metadata = std::fs::metadata(&path).map_err(PackError::io(&path))?;
        if metadata.is_dir() {
            out.push(TreeEntry {
                path: relative.clone(),
                executable: true,
                bytes: None,
            });
            walk(&path, &format!("{relative}/"), out)?;
        } else {
            let bytes = std::fs::read(&path).map_err(PackError::io(&path))?;
            out.push(TreeEntry {
                path: relative,
                executable: std::os::unix::fs::PermissionsExt::mode(&metadata.permissions())
                    & 0o111
                    != 0,
                bytes: Some(bytes),
            });
        }
    }
    Ok(())
}

/// What to build for: the target distribution and architecture, and the
/// time stamped on every file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The distribution, as the `<dist>` filters spell it.
    pub dist: Option<Dist>,
    /// The architecture, as the `<arch>` filters spell it.
    pub arch: Option<String>,
    /// Seconds since 1970 for file times (`SOURCE_DATE_EPOCH` style).
    pub mtime: u32,
}

/// The three packages of `opkg` (api, server, client, in that order) for
/// `target`, with the files of `files`.
pub fn opkg_specs(
    opkg: &Opkg,
    files: &SourceFiles,
    target: &Target,
) -> Result<Vec<PackageSpec>, PackError> {
    let name = opkg.name.as_str();
    let dist = target.dist.as_ref();
    let arch = target.arch.as_deref();
    if !opkg.available_on(dist, arch) {
        return Err(PackError::Unavailable {
            opkg: name.to_owned(),
            dist: dist.map_or_else(|| "(none)".to_owned(), ToString::to_string),
            arch: arch.unwrap_or("(none)").to_owned(),
        });
    }
    let home = format!("{PACKAGES_DIR}/{name}");
    let parts = script_parts(&files.scripts);
    let mut specs = Vec::new();
    for part in Part::ALL {
        let package = part.native_name(name);
        let mut entries = vec![Entry::dir(&home)];
        if part == Part::Api {
            entries.push(Entry::file(
                format!("{home}/config.xml"),
                0o644,
                files.config.clone(),
            ));
            if let Some(configurator) = &files.configurator {
                entries.push(Entry::file(
                    format!("{home}/configurator.html"),
                    0o644,
                    configurator.clone(),
                ));
            }
            add_tree(
                &mut entries,
                &format!("/usr/share/doc/{package}"),
                &files.doc,
                false,
            );
            add_tree(
                &mut entries,
                &format!("{TESTING_DIR}/{name}"),
                &files.testing,
                false,
            );
        }
        let own: Vec<TreeEntry> = files
            .scripts
            .iter()
            .filter(|entry| parts.get(top_name(&entry.path)) == Some(&part))
            .cloned()
            .collect();
        // Scripts are run by opm itself: every regular file of scripts/ is
        // made executable, whatever the source tree's bits say.
        add_tree(&mut entries, &home, &own, true);
        let arch_specific = !opkg.filters.arches.is_empty()
            || opkg
                .blocks(part)
                .iter()
                .any(|block| !block.filters.arches.is_empty());
        let package_arch = if arch_specific {
            Some(arch.ok_or_else(|| PackError::NeedsArch {
                package: package.clone(),
            })?)
        } else {
            None
        };
        let deps = opkg.effective_deps(part, dist, arch);
        let summary = match (opkg.summary.trim(), part) {
            ("", _) => format!("OSCAR package {name}"),
            (summary, Part::Api) => summary.to_owned(),
            (summary, Part::Server) => format!("{summary}, server part"),
            (summary, Part::Client) => format!("{summary}, client part"),
        };
        specs.push(PackageSpec {
            name: package,
            version: opkg.version.clone(),
            arch: package_arch.map(str::to_owned),
            summary,
            description: opkg
                .description
                .clone()
                .unwrap_or_else(|| opkg.summary.clone()),
            maintainer: maintainer(opkg),
            license: opkg
                .license
                .clone()
                .filter(|license| !license.trim().is_empty())
                .unwrap_or_else(|| "unspecified".to_owned()),
            depends: deps.requires,
            conflicts: deps.conflicts,
            provides: deps.provides,
            files: entries,
            mtime: target.mtime,
        });
    }
    Ok(specs)
}

fn top_name(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// The part each top-level name of `scripts/` belongs to, as the
/// [`Inventory`] decides it (legacy hook names included).
fn script_parts(scripts: &[TreeEntry]) -> BTreeMap<String, Part> {
    let names = scripts
        .iter()
        .map(|entry| entry.path.as_str())
        .filter(|path| !path.contains('/'));
    let inventory = Inventory::from_names(names);
    let mut parts = BTreeMap::new();
    for script in inventory.scripts.iter().chain(&inventory.shadowed) {
        parts.insert(script.file_name.clone(), script.part);
    }
    for helper in &inventory.helpers {
        parts.insert(helper.file_name.clone(), helper.part);
    }
    parts
}

fn add_tree(entries: &mut Vec<Entry>, base: &str, tree: &[TreeEntry], executable: bool) {
    if tree.is_empty() {
        return;
    }
    if !entries.iter().any(|entry| entry.path == base) {
        entries.push(Entry::dir(base));
    }
    for item in tree {
        let path = format!("{base}/{}", item.path);
        entries.push(match &item.bytes {
            None => Entry::dir(path),
            Some(bytes) => {
                let mode = if executable || item.executable {
                    0o755
                } else {
                    0o644
                };
                Entry::file(path, mode, bytes.clone())
            }
        });
    }
}

/// `Name <mail>` of the first maintainer, else of the first author.
fn maintainer(opkg: &Opkg) -> String {
    let chosen = opkg
        .authors
        .iter()
        .find(|author| author.category == Some(AuthorCategory::Maintainer))
        .or_else(|| opkg.authors.first());
    let (name, email) = chosen.map_or(("", ""), |author| (author.name.trim(), author.email.trim()));
    match (name, email) {
        ("", "") => format!("OSCAR package {} <root@localhost>", opkg.name.as_str()),
        (name, "") => name.to_owned(),
        ("", email) => format!("<{email}>"),
        (name, email) => format!("{name} <{email}>"),
    }
}
