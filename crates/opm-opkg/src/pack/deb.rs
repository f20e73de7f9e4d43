//! The `.deb` writer: an `ar` archive of `debian-binary`, `control.tar.gz`
//! and `data.tar.gz`, laid out as `dpkg-deb --build` lays it out (paths
//! `./usr/...`, every directory listed, owner root).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest, Md5};

use super::error::PackError;
use super::index::rfc2822;
use super::spec::{Content, Entry, PackageSpec, deb_arch, deb_operator, parents, wrap};
use crate::{Rel, Relation, Version};

/// Writes `spec` as `<out_dir>/<name>_<version>_<arch>.deb` and returns the path.
pub fn write_deb(spec: &PackageSpec, out_dir: &Path) -> Result<PathBuf, PackError> {
    let bytes = deb_bytes(spec)?;
    let path = out_dir.join(deb_file_name(spec));
    std::fs::write(&path, bytes).map_err(PackError::io(&path))?;
    Ok(path)
}

/// The file name dpkg-deb gives the package: the version without its epoch.
pub fn deb_file_name(spec: &PackageSpec) -> String {
    let version = Version {
        epoch: None,
        ..spec.version.clone()
    };
    format!(
        "{}_{}_{}.deb",
        spec.name,
        deb_version(&version),
        deb_arch(spec.arch.as_deref())
    )
}

/// `[epoch:]upstream[-release]`.
pub fn deb_version(version: &Version) -> String {
    let mut text = String::new();
    if let Some(epoch) = version.epoch {
        let _ = write!(text, "{epoch}:");
    }
    text.push_str(&version.upstream);
    if let Some(release) = &version.release {
        let _ = write!(text, "-{release}");
    }
    text
}

/// `name (>= 1.2)`, with dpkg's `<<`/`>>`.
pub fn deb_relation(relation: &Relation) -> String {
    match &relation.constraint {
        Some((rel, version)) => format!("{} ({} {version})", relation.name, deb_operator(*rel)),
        None => relation.name.clone(),
    }
}

/// The whole package, in memory.
pub fn deb_bytes(spec: &PackageSpec) -> Result<Vec<u8>, PackError> {
    spec.check()?;
    let entries = data_entries(spec);
    let control = control_text(spec)?;
    let md5sums = md5sums(&entries);
    let io_error = |source| PackError::Io {
        path: PathBuf::from(deb_file_name(spec)),
        source,
    };
    let control_tar = tar_gz(
        &[
            Entry::dir("/."),
            Entry::file("/control", 0o644, control.into_bytes()),
            Entry::file("/md5sums", 0o644, md5sums.into_bytes()),
        ],
        spec.mtime,
    )
    .map_err(io_error)?;
    let mut data = vec![Entry::dir("/.")];
    data.extend(entries);
    let data_tar = tar_gz(&data, spec.mtime).map_err(io_error)?;
    let mut builder = ar::Builder::new(Vec::new());
    for (member, bytes) in [
        ("debian-binary", b"2.0\n".as_slice()),
        ("control.tar.gz", &control_tar),
        ("data.tar.gz", &data_tar),
    ] {
        let mut header = ar::Header::new(member.as_bytes().to_vec(), bytes.len() as u64);
        header.set_mode(0o100644);
        header.set_mtime(u64::from(spec.mtime));
        builder.append(&header, bytes).map_err(io_error)?;
    }
    builder.into_inner().map_err(io_error)
}

/// The entries of the data tarball: the spec's, the changelog in Debian's
/// format, and every parent directory dpkg needs listed, sorted so that a
/// directory comes before its contents.
fn data_entries(spec: &PackageSpec) -> Vec<Entry> {
    let mut all: BTreeMap<String, Entry> = BTreeMap::new();
    let changelog = changelog_entry(spec);
    for entry in spec.files.iter().cloned().chain(changelog) {
        for parent in parents(&entry.path) {
            all.entry(parent.to_owned())
                .or_insert_with(|| Entry::dir(parent));
        }
        all.entry(entry.path.clone()).or_insert(entry);
    }
    all.into_values().collect()
}

/// `/usr/share/doc/<name>/changelog.Debian.gz` (`changelog.gz` for a
/// native version, one without a Debian revision), compressed as
/// `gzip -9n` does: no name, no time in the gzip header.
fn changelog_entry(spec: &PackageSpec) -> Option<Entry> {
    if spec.changelog.is_empty() {
        return None;
    }
    let file = if spec.version.release.is_some() {
        "changelog.Debian.gz"
    } else {
        "changelog.gz"
    };
    let mut out = GzEncoder::new(Vec::new(), Compression::best());
    out.write_all(changelog_text(spec).as_bytes()).ok()?;
    let bytes = out.finish().ok()?;
    Some(Entry::file(
        format!("/usr/share/doc/{}/{file}", spec.name),
        0o644,
        bytes,
    ))
}

/// The history in Debian's changelog format, newest first.
pub fn changelog_text(spec: &PackageSpec) -> String {
    let mut text = String::new();
    for change in &spec.changelog {
        let _ = writeln!(
            text,
            "{} ({}) unstable; urgency=low\n",
            spec.name,
            deb_version(&change.version)
        );
        for item in &change.items {
            // Lines of at most 80 characters: `  * ` then `    ` indents.
            let mut first = true;
            for line in wrap(item, 76) {
                let bullet = if first { "  * " } else { "    " };
                first = false;
                let _ = writeln!(text, "{bullet}{line}");
            }
        }
        if change.items.is_empty() {
            text.push_str("  * No details given.\n");
        }
        let date = rfc2822(u64::from(change.time));
        let date = date.strip_suffix(" UTC").unwrap_or(&date);
        let _ = writeln!(text, "\n -- {}  {date} +0000\n", change.author);
    }
    text
}

/// The `control` file.
pub fn control_text(spec: &PackageSpec) -> Result<String, PackError> {
    let entries = data_entries(spec);
    // dpkg-gencontrol: file sizes rounded up to KiB, plus one per other inode.
    let installed: u64 = entries
        .iter()
        .map(|entry| match &entry.content {
            Content::File(bytes) => (bytes.len() as u64).div_ceil(1024),
            Content::Dir | Content::Link(_) => 1,
        })
        .sum();
    let mut text = String::new();
    let _ = writeln!(text, "Package: {}", spec.name);
    let _ = writeln!(text, "Version: {}", deb_version(&spec.version));
    let _ = writeln!(text, "Architecture: {}", deb_arch(spec.arch.as_deref()));
    let _ = writeln!(text, "Maintainer: {}", spec.maintainer);
    let _ = writeln!(text, "Installed-Size: {installed}");
    for relation in spec
        .depends
        .iter()
        .chain(&spec.conflicts)
        .chain(&spec.provides)
    {
        if relation.name.contains(['(', ')']) {
            return Err(PackError::Relation {
                package: spec.name.clone(),
                relation: relation.to_string(),
                reason: "a deb relation name may not hold '(' or ')'; \
                         limit this rpm capability to rpm dists with <filters>",
            });
        }
    }
    for provide in &spec.provides {
        if let Some((rel, _)) = &provide.constraint
            && *rel != Rel::Equal
        {
            return Err(PackError::Relation {
                package: spec.name.clone(),
                relation: provide.to_string(),
                reason: "a deb Provides may only carry an '=' version",
            });
        }
    }
    for (field, relations) in [
        ("Depends", &spec.depends),
        ("Conflicts", &spec.conflicts),
        ("Provides", &spec.provides),
    ] {
        if !relations.is_empty() {
            let list: Vec<String> = relations.iter().map(deb_relation).collect();
            let _ = writeln!(text, "{field}: {}", list.join(", "));
        }
    }
    if let Some(homepage) = &spec.homepage {
        let _ = writeln!(text, "Homepage: {homepage}");
    }
    let _ = writeln!(text, "Section: misc");
    let _ = writeln!(text, "Priority: optional");
    let _ = writeln!(text, "Description: {}", spec.summary.trim());
    for line in spec.description_lines() {
        if line.is_empty() {
            text.push_str(" .\n");
        } else {
            let _ = writeln!(text, " {line}");
        }
    }
    Ok(text)
}

fn md5sums(entries: &[Entry]) -> String {
    let mut text = String::new();
    for entry in entries {
        if let Content::File(bytes) = &entry.content {
            let _ = writeln!(
                text,
                "{}  {}",
                hex::encode(Md5::digest(bytes)),
                &entry.path[1..]
            );
        }
    }
    text
}

/// A gzipped ustar/GNU tarball of `entries` (their paths without the
/// leading `/`), every name spelled `./path` as dpkg-deb spells it.
fn tar_gz(entries: &[Entry], mtime: u32) -> std::io::Result<Vec<u8>> {
    let mut out = GzEncoder::new(Vec::new(), Compression::best());
    for entry in entries {
        let path = &entry.path[1..];
        let name = match &entry.content {
            Content::Dir if path == "." => "./".to_owned(),
            Content::Dir => format!("./{path}/"),
            Content::File(_) | Content::Link(_) => format!("./{path}"),
        };
        let mut header = tar::Header::new_gnu();
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        header.set_mtime(u64::from(mtime));
        let data: &[u8] = match &entry.content {
            Content::File(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                bytes
            }
            Content::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                &[]
            }
            Content::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_link_name(target)?;
                &[]
            }
        };
        header.set_size(data.len() as u64);
        // The tar crate drops a leading `./`; write the name ourselves,
        // through a GNU long-name record when it does not fit in 100 bytes.
        let slot = &mut header.as_old_mut().name;
        if name.len() <= slot.len() {
            slot[..name.len()].copy_from_slice(name.as_bytes());
        } else {
            let mut long = tar::Header::new_gnu();
            long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            long.set_mode(0o644);
            long.set_entry_type(tar::EntryType::GNULongName);
            let mut record = name.clone().into_bytes();
            record.push(0);
            long.set_size(record.len() as u64);
            long.set_cksum();
            write_member(&mut out, &long, &record)?;
            let fits = slot.len();
            slot.copy_from_slice(&name.as_bytes()[..fits]);
        }
        header.set_cksum();
        write_member(&mut out, &header, data)?;
    }
    out.write_all(&[0; 1024])?;
    out.finish()
}

fn write_member(
    out: &mut impl std::io::Write,
    header: &tar::Header,
    data: &[u8],
) -> std::io::Result<()> {
    out.write_all(header.as_bytes())?;
    out.write_all(data)?;
    let padding = (512 - data.len() % 512) % 512;
    out.write_all(&vec![0; padding])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relation(name: &str, constraint: Option<(Rel, &str)>) -> Relation {
        Relation {
            name: name.to_owned(),
            constraint: constraint.map(|(rel, version)| (rel, version.to_owned())),
        }
    }

    fn spec() -> PackageSpec {
        PackageSpec {
            name: "opkg-beta".into(),
            version: Version::parse("2:1.2-3").unwrap(),
            arch: None,
            summary: "Beta".into(),
            description: "First paragraph.\n\nSecond.".into(),
            maintainer: "A <a@example.org>".into(),
            license: "GPL".into(),
            group: "Application/System".into(),
            homepage: None,
            rpm_requires: vec![],
            depends: vec![
                relation("opkg-alpha", Some((Rel::GreaterOrEqual, "1.0"))),
                relation("old", Some((Rel::Less, "2"))),
                relation("new", Some((Rel::Greater, "3"))),
                relation("plain", None),
            ],
            conflicts: vec![],
            provides: vec![],
            files: vec![
                Entry::file(
                    "/usr/lib/oscar/packages/beta/config.xml",
                    0o644,
                    vec![b'x'; 1500],
                ),
                Entry::dir("/usr/lib/oscar/packages/beta"),
            ],
            changelog: vec![],
            mtime: 0,
        }
    }

    #[test]
    fn relations_use_dpkg_operators() {
        let spec = spec();
        let rendered: Vec<String> = spec.depends.iter().map(deb_relation).collect();
        assert_eq!(
            rendered,
            ["opkg-alpha (>= 1.0)", "old (<< 2)", "new (>> 3)", "plain"]
        );
    }

    #[test]
    fn control_lists_fields_and_a_folded_description() {
        let spec = spec();
        let text = control_text(&spec).unwrap();
        assert_eq!(
            text,
            "Package: opkg-beta\nVersion: 2:1.2-3\nArchitecture: all\n\
             Maintainer: A <a@example.org>\nInstalled-Size: 7\n\
             Depends: opkg-alpha (>= 1.0), old (<< 2), new (>> 3), plain\n\
             Section: misc\nPriority: optional\nDescription: Beta\n First paragraph.\n .\n Second.\n"
        );
    }

    #[test]
    fn parent_directories_are_listed_before_their_contents() {
        let paths: Vec<String> = data_entries(&spec()).into_iter().map(|e| e.path).collect();
        assert_eq!(
            paths,
            [
                "/usr",
                "/usr/lib",
                "/usr/lib/oscar",
                "/usr/lib/oscar/packages",
                "/usr/lib/oscar/packages/beta",
                "/usr/lib/oscar/packages/beta/config.xml"
            ]
        );
    }

    #[test]
    fn an_rpm_capability_is_refused_in_a_deb() {
        let mut spec = spec();
        spec.depends = vec![relation("perl(Foo::Bar)", None)];
        let error = deb_bytes(&spec).unwrap_err();
        assert!(
            error.to_string().contains("may not hold '(' or ')'"),
            "{error}"
        );
    }

    #[test]
    fn file_name_drops_the_epoch() {
        assert_eq!(deb_file_name(&spec()), "opkg-beta_1.2-3_all.deb");
    }

    #[test]
    fn a_provide_with_a_range_is_refused() {
        let mut spec = spec();
        spec.provides = vec![relation("thing", Some((Rel::GreaterOrEqual, "1")))];
        let error = deb_bytes(&spec).unwrap_err();
        assert!(
            error.to_string().contains("may only carry an '=' version"),
            "{error}"
        );
    }

    #[test]
    fn same_spec_same_bytes() {
        assert_eq!(deb_bytes(&spec()).unwrap(), deb_bytes(&spec()).unwrap());
    }
}
