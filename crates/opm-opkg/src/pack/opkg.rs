//! From an opkg source to its three native packages (SPEC §1.7, §3):
//! `opkg-<p>` (config.xml, every top-level `config*.*ml`, api scripts,
//! doc/, testing/), `opkg-<p>-server` (`server-*` scripts) and
//! `opkg-<p>-client` (`client-*` scripts), each with the dependencies that
//! hold on the target (dist, arch), a copyright file and a changelog of its
//! own. [`SourceFiles::read`] is the only I/O; [`opkg_specs`] is pure.
//!
//! Every package owns at least `/usr/share/doc/<package>/copyright`: dpkg
//! drops a package that owns nothing but shared directories from its
//! database as soon as another package takes those directories over.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use opm_model::Part;

use super::error::PackError;
use super::spec::{Change, Content, Entry, PackageSpec};
use crate::{AuthorCategory, Dist, Inventory, Opkg, Rel, Relation, Version};

/// Where installed opkgs keep their files; `<p>/` below it.
pub const PACKAGES_DIR: &str = "/usr/lib/oscar/packages";
/// Where installed opkgs keep their tests, laid out as opkgc lays them out:
/// `apitests.d/`, `tests.d/` shared by every opkg, `data/<p>/` per opkg.
pub const TESTING_DIR: &str = "/usr/lib/oscar/testing";
/// The parts of `testing/` that opkgc installs, and so opm too.
pub const TESTING_PARTS: [&str; 3] = ["apitests.d", "tests.d", "data"];

/// A file, directory or link of a source tree, relative to the tree's top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// `/`-separated path below the tree (`lib/Helper.pm`).
    pub path: String,
    /// Whether any execute bit is set on the source file.
    pub executable: bool,
    /// The bytes, a directory, or a link that stays inside its tree.
    pub content: Content,
}

/// The files of an opkg source that go into its packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceFiles {
    /// `config.xml`.
    pub config: Vec<u8>,
    /// Every other top-level `config*.*ml` (`configurator.html`,
    /// `configurator_image.html`, ...), shipped beside config.xml as opkgc
    /// ships them.
    pub top: Vec<TreeEntry>,
    /// Everything under `scripts/`.
    pub scripts: Vec<TreeEntry>,
    /// Everything under `doc/`.
    pub doc: Vec<TreeEntry>,
    /// Everything under `testing/`.
    pub testing: Vec<TreeEntry>,
    /// What reading found worth telling (links kept as links, links to
    /// files elsewhere in the source packed as copies).
    pub notes: Vec<String>,
}

impl SourceFiles {
    /// Reads the source directory `dir`. Names starting with `.`
    /// (version-control leftovers) are skipped, as [`Inventory`] skips them.
    /// A symbolic link that resolves outside `dir` is refused; one that
    /// stays inside its tree is kept as a link.
    pub fn read(dir: &Path) -> Result<SourceFiles, PackError> {
        let root = std::fs::canonicalize(dir).map_err(PackError::io(dir))?;
        let mut reader = Reader {
            root,
            notes: Vec::new(),
        };
        let config = reader.read_file(&dir.join("config.xml"))?.1;
        let mut top = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(PackError::io(dir))? {
            let entry = entry.map_err(PackError::io(dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name == "config.xml" || !is_config_file(&name) {
                continue;
            }
            let (executable, bytes) = reader.read_file(&entry.path())?;
            top.push(TreeEntry {
                path: name,
                executable,
                content: Content::File(bytes),
            });
        }
        top.sort_by(|a, b| a.path.cmp(&b.path));
        let scripts = reader.read_tree(&dir.join("scripts"))?;
        let doc = reader.read_tree(&dir.join("doc"))?;
        let testing = reader.read_tree(&dir.join("testing"))?;
        Ok(SourceFiles {
            config,
            top,
            scripts,
            doc,
            testing,
            notes: reader.notes,
        })
    }
}

/// Whether a top-level name matches opkgc's `config*.*ml`.
fn is_config_file(name: &str) -> bool {
    name.strip_prefix("config")
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(_, extension)| extension.ends_with("ml"))
}

/// Reads a source directory without ever leaving it.
struct Reader {
    /// The source directory, canonical.
    root: PathBuf,
    notes: Vec<String>,
}

impl Reader {
    /// Where the link `link` resolves, refused when that is outside the
    /// source or nowhere.
    fn resolve(&self, link: &Path) -> Result<PathBuf, PackError> {
        match std::fs::canonicalize(link) {
            Ok(resolved) if resolved.starts_with(&self.root) => Ok(resolved),
            Ok(resolved) => Err(PackError::LinkOutside {
                link: link.to_owned(),
                target: resolved,
            }),
            Err(_) => Err(PackError::Source {
                path: link.to_owned(),
                reason: "a symbolic link that points at nothing; fix or remove it",
            }),
        }
    }

    /// The execute bit and bytes of the regular file `path` (through a
    /// link only when the link stays inside the source).
    fn read_file(&mut self, path: &Path) -> Result<(bool, Vec<u8>), PackError> {
        let metadata = std::fs::symlink_metadata(path).map_err(PackError::io(path))?;
        let real = if metadata.file_type().is_symlink() {
            self.resolve(path)?
        } else {
            path.to_owned()
        };
        let metadata = std::fs::metadata(&real).map_err(PackError::io(&real))?;
        if !metadata.is_file() {
            return Err(PackError::Source {
                path: path.to_owned(),
                reason: "not a regular file; replace it with one",
            });
        }
        let bytes = std::fs::read(&real).map_err(PackError::io(&real))?;
        Ok((executable(&metadata), bytes))
    }

    /// Every entry below `top`, sorted by path; empty when `top` is missing
    /// or not a directory.
    fn read_tree(&mut self, top: &Path) -> Result<Vec<TreeEntry>, PackError> {
        let metadata = match std::fs::symlink_metadata(top) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(PackError::Io {
                    path: top.to_owned(),
                    source,
                });
            }
        };
        let tree_root = if metadata.file_type().is_symlink() {
            self.resolve(top)?
        } else {
            std::fs::canonicalize(top).map_err(PackError::io(top))?
        };
        let mut entries = Vec::new();
        if tree_root.is_dir() {
            self.walk(&tree_root, top, "", &mut entries)?;
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    fn walk(
        &mut self,
        tree_root: &Path,
        dir: &Path,
        prefix: &str,
        out: &mut Vec<TreeEntry>,
    ) -> Result<(), PackError> {
        for entry in std::fs::read_dir(dir).map_err(PackError::io(dir))? {
            let entry = entry.map_err(PackError::io(dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(PackError::Unreadable {
                    path: entry.path(),
                    reason: "its name is not UTF-8, which neither package format can carry"
                        .to_owned(),
                });
            };
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let relative = format!("{prefix}{name}");
            let metadata = std::fs::symlink_metadata(&path).map_err(PackError::io(&path))?;
            let kind = metadata.file_type();
            if kind.is_symlink() {
                let resolved = self.resolve(&path)?;
                if let Ok(inside) = resolved.strip_prefix(tree_root) {
                    let target = relative_link(&relative, inside);
                    self.notes.push(format!(
                        "{}: a symbolic link to {target} inside the source; packed as a link",
                        path.display()
                    ));
                    out.push(TreeEntry {
                        path: relative,
                        executable: false,
                        content: Content::Link(target),
                    });
                } else if resolved.is_file() {
                    let (executable, bytes) = self.read_file(&path)?;
                    self.notes.push(format!(
                        "{}: a symbolic link to {}, elsewhere in the source; packed as a copy",
                        path.display(),
                        resolved.display()
                    ));
                    out.push(TreeEntry {
                        path: relative,
                        executable,
                        content: Content::File(bytes),
                    });
                } else {
                    return Err(PackError::Source {
                        path,
                        reason: "a symbolic link to a directory outside its own tree (doc/, scripts/ or testing/), which would point at nothing once installed; copy the directory or link inside the tree",
                    });
                }
            } else if kind.is_dir() {
                out.push(TreeEntry {
                    path: relative.clone(),
                    executable: true,
                    content: Content::Dir,
                });
                self.walk(tree_root, &path, &format!("{relative}/"), out)?;
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).map_err(PackError::io(&path))?;
                out.push(TreeEntry {
                    path: relative,
                    executable: executable(&metadata),
                    content: Content::File(bytes),
                });
            } else {
                return Err(PackError::Source {
                    path,
                    reason: "not a regular file, directory or symbolic link (a FIFO, socket or device); remove it",
                });
            }
        }
        Ok(())
    }
}

fn executable(metadata: &std::fs::Metadata) -> bool {
    std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o111 != 0
}

/// The relative target, as written into the package, of a link at tree
/// path `link` to the tree path `target`.
fn relative_link(link: &str, target: &Path) -> String {
    let from: Vec<&str> = link.split('/').collect();
    let from = &from[..from.len().saturating_sub(1)];
    let to: Vec<String> = target
        .components()
        .filter_map(|component| match component {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let common = from
        .iter()
        .zip(&to)
        .take_while(|(a, b)| **a == b.as_str())
        .count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(to[common..].iter().cloned());
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
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
    let (parts, hooks) = script_parts(&files.scripts);
    let top_names: BTreeSet<&str> = files.top.iter().map(|entry| entry.path.as_str()).collect();
    let changelog = changes(opkg, target.mtime);
    let mut specs = Vec::new();
    for part in Part::ALL {
        let package = part.native_name(name);
        let doc_dir = format!("/usr/share/doc/{package}");
        let mut entries = vec![Entry::dir(&home)];
        if part == Part::Api {
            entries.push(Entry::file(
                format!("{home}/config.xml"),
                0o644,
                files.config.clone(),
            ));
            // config*.*ml are data that OSCAR's tools read, never run.
            let top: Vec<TreeEntry> = files
                .top
                .iter()
                .map(|entry| TreeEntry {
                    executable: false,
                    ..entry.clone()
                })
                .collect();
            add_tree(&mut entries, &home, &top, &BTreeSet::new());
            add_tree(&mut entries, &doc_dir, &files.doc, &BTreeSet::new());
            add_testing(&mut entries, name, &files.testing);
        }
        // A scripts/ entry named like a top-level config file (slurm's second
        // configurator.html) loses to the top-level one, as in opkgc's build.
        let own: Vec<TreeEntry> = files
            .scripts
            .iter()
            .filter(|entry| parts.get(top_name(&entry.path)) == Some(&part))
            .filter(|entry| !top_names.contains(top_name(&entry.path)))
            .cloned()
            .collect();
        add_tree(&mut entries, &home, &own, &hooks);
        if !entries.iter().any(|entry| entry.path == doc_dir) {
            entries.push(Entry::dir(&doc_dir));
        }
        let copyright = format!("{doc_dir}/copyright");
        if !entries.iter().any(|entry| entry.path == copyright) {
            entries.push(Entry::file(
                copyright,
                0o644,
                copyright_text(opkg, &changelog, target.mtime),
            ));
        }
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
        // opkgc's rpm spec ties the server part to its api part's exact
        // version; its debs do not.
        let rpm_requires = if part == Part::Server {
            vec![Relation {
                name: Part::Api.native_name(name),
                constraint: Some((Rel::Equal, exact_version(&opkg.version))),
            }]
        } else {
            Vec::new()
        };
        specs.push(PackageSpec {
            name: package,
            version: opkg.version.clone(),
            arch: package_arch.map(str::to_owned),
            summary,
            description: description(opkg, part),
            maintainer: maintainer(opkg),
            license: opkg
                .license
                .clone()
                .filter(|license| !license.trim().is_empty())
                .unwrap_or_else(|| "unspecified".to_owned()),
            group: opkg
                .group()
                .map(str::trim)
                .filter(|group| !group.is_empty() && !group.contains(['\n', '\r']))
                .unwrap_or("Applications/System")
                .to_owned(),
            homepage: opkg
                .uri
                .as_deref()
                .map(one_line)
                .filter(|uri| !uri.is_empty()),
            depends: deps.requires,
            rpm_requires,
            conflicts: deps.conflicts,
            provides: deps.provides,
            files: entries,
            changelog: changelog.clone(),
            mtime: target.mtime,
        });
    }
    Ok(specs)
}

/// `[E:]V-R` as rpm compares it (release `0` when none is written).
fn exact_version(version: &Version) -> String {
    let epoch = version.epoch.map(|e| format!("{e}:")).unwrap_or_default();
    let release = version.release.as_deref().unwrap_or("0");
    format!("{epoch}{}-{release}", version.upstream)
}

/// The long description of `part`: config.xml's (an empty or missing one
/// adds nothing to the summary, so it is left out rather than repeating
/// the synopsis), and what the part is.
fn description(opkg: &Opkg, part: Part) -> String {
    let name = opkg.name.as_str();
    let own = opkg
        .description
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty() && *text != opkg.summary.trim());
    let role = match part {
        Part::Api => format!(
            "This is the OSCAR package {name}: its config.xml, scripts, documentation and tests."
        ),
        Part::Server => format!(
            "This is the server part of the OSCAR package {name}: what its head node needs, with the scripts opm runs there."
        ),
        Part::Client => format!(
            "This is the client part of the OSCAR package {name}: what its compute nodes and images need, with the scripts opm runs there."
        ),
    };
    match own {
        // Dedented first: the role line has no source indentation to lose.
        Some(text) => format!("{}\n\n{role}", super::spec::dedent(text).join("\n")),
        None => role,
    }
}

fn top_name(path: &str) -> &str {
    path.split('/').next().unwrap_or(path)
}

/// The part each top-level name of `scripts/` belongs to, as the
/// [`Inventory`] decides it (legacy hook names included), and the names
/// that are hooks opm runs.
fn script_parts(scripts: &[TreeEntry]) -> (BTreeMap<String, Part>, BTreeSet<String>) {
    let names = scripts
        .iter()
        .map(|entry| entry.path.as_str())
        .filter(|path| !path.contains('/'));
    let inventory = Inventory::from_names(names);
    let mut parts = BTreeMap::new();
    let mut hooks = BTreeSet::new();
    for script in inventory.scripts.iter().chain(&inventory.shadowed) {
        parts.insert(script.file_name.clone(), script.part);
        hooks.insert(script.file_name.clone());
    }
    for helper in &inventory.helpers {
        parts.insert(helper.file_name.clone(), helper.part);
    }
    (parts, hooks)
}

/// `testing/` as opkgc installs it: `apitests.d/` and `tests.d/` into the
/// shared directories of the same name, `data/` into `data/<p>/`; nothing
/// else of `testing/` is installed (see [`TESTING_PARTS`]).
fn add_testing(entries: &mut Vec<Entry>, name: &str, testing: &[TreeEntry]) {
    for item in testing {
        let (top, rest) = match item.path.split_once('/') {
            Some((top, rest)) => (top, Some(rest)),
            None => (item.path.as_str(), None),
        };
        let base = match top {
            "apitests.d" | "tests.d" => format!("{TESTING_DIR}/{top}"),
            "data" => format!("{TESTING_DIR}/data/{name}"),
            _ => continue,
        };
        let path = match rest {
            Some(rest) => format!("{base}/{rest}"),
            None => base,
        };
        if entries.iter().any(|entry| entry.path == path) {
            continue;
        }
        entries.push(tree_entry(path, item, false));
    }
}

fn add_tree(entries: &mut Vec<Entry>, base: &str, tree: &[TreeEntry], hooks: &BTreeSet<String>) {
    if tree.is_empty() {
        return;
    }
    if !entries.iter().any(|entry| entry.path == base) {
        entries.push(Entry::dir(base));
    }
    for item in tree {
        let hook = hooks.contains(&item.path);
        entries.push(tree_entry(format!("{base}/{}", item.path), item, hook));
    }
}

/// The package entry at `path` for `item`. Hooks are run by opm itself and
/// are always made executable; other files keep the source's bits.
fn tree_entry(path: String, item: &TreeEntry, hook: bool) -> Entry {
    match &item.content {
        Content::Dir => Entry::dir(path),
        Content::Link(target) => Entry::link(path, target.clone()),
        Content::File(bytes) => {
            let mode = if hook || item.executable {
                0o755
            } else {
                0o644
            };
            Entry::file(path, mode, bytes.clone())
        }
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

/// The history of config.xml's `<changelog>`, in file order (newest
/// first, as OSCAR writes it); a date that is not an xs:dateTime gets
/// the build time.
fn changes(opkg: &Opkg, mtime: u32) -> Vec<Change> {
    let fallback = maintainer(opkg);
    let mut list = Vec::new();
    for version in &opkg.changelog {
        for entry in &version.entries {
            let author_name = one_line(&entry.author_name);
            let known = opkg.authors.iter().find(|author| {
                author.name.trim() == author_name && !author.email.trim().is_empty()
            });
            let author = match known {
                Some(author) => format!("{author_name} <{}>", author.email.trim()),
                None if author_name.is_empty() => fallback.clone(),
                None => match fallback.split_once('<') {
                    Some((_, mail)) => format!("{author_name} <{mail}"),
                    None => author_name,
                },
            };
            list.push(Change {
                version: version.version.clone(),
                author,
                time: crate::datetime::unix_seconds(entry.date.trim()).unwrap_or(mtime),
                items: entry.items.iter().map(|item| one_line(item)).collect(),
            });
        }
    }
    list
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The year of `seconds` since 1970.
fn year(seconds: u32) -> String {
    // `Tue, 14 Nov 2023 22:13:20 UTC`: the year is the fourth word.
    super::index::rfc2822(u64::from(seconds))
        .split(' ')
        .nth(3)
        .unwrap_or_default()
        .to_owned()
}

/// The common license files of Debian, by the prefix of the license name.
const COMMON_LICENSES: [(&str, &str, &str); 5] = [
    ("LGPL", "GNU Lesser General Public License", "LGPL"),
    ("GPL", "GNU General Public License", "GPL"),
    ("Apache", "Apache License", "Apache-2.0"),
    ("Artistic", "Artistic License", "Artistic"),
    ("MPL", "Mozilla Public License", "MPL-2.0"),
];

/// `/usr/share/doc/<package>/copyright` in Debian's machine-readable
/// format, from config.xml's authors, uri and license. An author without
/// years gets the years the changelog spans (a copyright notice carries
/// a year).
fn copyright_text(opkg: &Opkg, changelog: &[Change], mtime: u32) -> String {
    let times = changelog.iter().map(|change| change.time);
    let span = match (times.clone().min(), times.max()) {
        (Some(first), Some(last)) if year(first) != year(last) => {
            format!("{}-{}", year(first), year(last))
        }
        (Some(first), _) => year(first),
        _ => year(mtime),
    };
    let name = opkg.name.as_str();
    let license = opkg
        .license
        .as_deref()
        .map(one_line)
        .filter(|license| !license.is_empty())
        .unwrap_or_else(|| "unspecified".to_owned());
    let mut holders: Vec<String> = opkg
        .authors
        .iter()
        .filter(|author| !author.name.trim().is_empty() || !author.email.trim().is_empty())
        .map(|author| {
            let years = match (author.begin_year, author.end_year) {
                (Some(begin), Some(end)) if end > begin => format!("{begin}-{end} "),
                (Some(year), _) | (None, Some(year)) => format!("{year} "),
                (None, None) => format!("{span} "),
            };
            let who = match (one_line(&author.name), one_line(&author.email)) {
                (name, mail) if mail.is_empty() => name,
                (name, mail) if name.is_empty() => format!("<{mail}>"),
                (name, mail) => format!("{name} <{mail}>"),
            };
            format!("{years}{who}")
        })
        .collect();
    holders.dedup();
    if holders.is_empty() {
        holders.push(format!("{span} {}", maintainer(opkg)));
    }
    let mut text = String::from(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
    );
    text.push_str(&format!("Upstream-Name: {name}\n"));
    if let Some(uri) = opkg
        .uri
        .as_deref()
        .map(one_line)
        .filter(|uri| !uri.is_empty())
    {
        text.push_str(&format!("Source: {uri}\n"));
    }
    text.push_str(
        "Comment: written by opm from the authors and license of the opkg's config.xml\n",
    );
    text.push_str(&format!(
        "\nFiles: *\nCopyright: {}\n",
        holders.join("\n           ")
    ));
    text.push_str(&format!(
        "License: {license}\n The OSCAR package {name} is distributed under the {license} license.\n"
    ));
    if let Some((_, title, file)) = COMMON_LICENSES
        .iter()
        .find(|(prefix, _, _)| license.starts_with(prefix))
    {
        text.push_str(&format!(
            " .\n On Debian systems, the complete text of the {title}\n can be found in /usr/share/common-licenses/{file}.\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_match_opkgcs_glob() {
        for name in [
            "config.xml",
            "configurator.html",
            "configurator_image.html",
            "config.yml",
        ] {
            assert!(is_config_file(name), "{name}");
        }
        for name in ["configurator", "config.txt", "my-config.xml", "config.htm"] {
            assert!(!is_config_file(name), "{name}");
        }
    }

    #[test]
    fn links_are_written_relative_to_their_directory() {
        assert_eq!(relative_link("alias", Path::new("README")), "README");
        assert_eq!(relative_link("sub/up", Path::new("README")), "../README");
        assert_eq!(relative_link("a/b/c", Path::new("a/x")), "../x");
        assert_eq!(relative_link("up", Path::new("")), ".");
        assert_eq!(relative_link("a/b/up", Path::new("")), "../..");
    }

    #[test]
    fn exact_versions_carry_epoch_and_release() {
        let exact = |text: &str| exact_version(&Version::parse(text).unwrap());
        assert_eq!(exact("1.2-3"), "1.2-3");
        assert_eq!(exact("1:1.2-3"), "1:1.2-3");
        assert_eq!(exact("1.2"), "1.2-0");
    }
}
