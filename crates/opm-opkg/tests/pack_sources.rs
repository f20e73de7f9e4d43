//! Hostile and sloppy opkg sources: symbolic links out of the source
//! (refused, naming link and target) or inside it (kept as links in the deb
//! and the rpm), FIFOs, a second configurator.html, multi-line summaries,
//! empty descriptions, versioned Debian dist filters and dependency names
//! no deb can satisfy; and the invariant that `opm opkg check` accepting a
//! source means `opm pack` builds it for every target its filters admit,
//! property-tested over mutated real opkgs.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, xmllint, ...) as child processes to check against"
)]
// Tests may unwrap (house rule); clippy counts the helpers as non-test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use opm_opkg::pack::{
    Content, PackError, PackageSpec, SourceFiles, Target, admitted_targets, deb_bytes,
    deb_name_warnings, opkg_specs, review, review_dir, rpm_bytes, write_deb, write_rpm,
};
use opm_opkg::{Dist, Level, Opkg, Severity};
use opm_testkit::shared::shared_dir;
use proptest::prelude::*;

const CONFIG: &str = r#"<?xml version="1.0" encoding="ISO-8859-1"?>
<oscar>
  <name>links</name>
  <summary>Links
     over two lines</summary>
  <description>  </description>
  <license>GPL</license>
  <group>Application/System</group>
  <authors><author cat="maintainer"><name>A</name><email>a@example.org</email></author></authors>
  <serverDeps>
    <requires><filters><dist version="4.0">debian</dist></filters><pkg>only-on-debian-4</pkg></requires>
    <requires><filters><dist>debian</dist></filters><pkg>slurm-pam_slurm</pkg></requires>
    <requires><filters><dist>rhel</dist></filters><pkg>rpm_only_name</pkg></requires>
  </serverDeps>
  <changelog>
    <versionEntry version="1.0-1">
      <changelogEntry authorName="A" date="2026-11-24T12:00:00Z"><item>x</item></changelogEntry>
    </versionEntry>
  </changelog>
</oscar>
"#;

/// A source directory holding `CONFIG` and `doc/README`.
fn source() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.xml"), CONFIG).unwrap();
    std::fs::create_dir(dir.path().join("doc")).unwrap();
    std::fs::write(dir.path().join("doc/README"), "read me\n").unwrap();
    dir
}

fn target(dist: &str) -> Target {
    Target {
        dist: Some(Dist::parse(dist)),
        arch: None,
        mtime: 1_700_000_000,
    }
}

fn specs(dir: &Path, dist: &str) -> Vec<PackageSpec> {
    let opkg = Opkg::from_path(dir).unwrap().opkg;
    opkg_specs(&opkg, &SourceFiles::read(dir).unwrap(), &target(dist)).unwrap()
}

fn errors_of(dir: &Path) -> Vec<String> {
    let opkg = Opkg::from_path(dir).unwrap().opkg;
    review_dir(dir, &opkg)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message)
        .collect()
}

#[test]
fn a_link_to_a_file_outside_the_source_is_refused_naming_both() {
    let dir = source();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "root:secret\n").unwrap();
    symlink(secret.path(), dir.path().join("doc/notes")).unwrap();
    let error = SourceFiles::read(dir.path()).unwrap_err();
    assert!(matches!(error, PackError::LinkOutside { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("doc/notes: a symbolic link to "),
        "{message}"
    );
    let resolved = std::fs::canonicalize(secret.path()).unwrap();
    assert!(
        message.contains(&resolved.display().to_string()),
        "{message}"
    );
    assert!(message.contains("outside the opkg source"), "{message}");
    let errors = errors_of(dir.path());
    assert_eq!(errors.len(), 1, "check reports it: {errors:?}");
    assert!(errors[0].contains("doc/notes"), "{errors:?}");
}

#[test]
fn links_to_host_directories_and_up_the_tree_are_refused() {
    for (link, target) in [
        ("doc/etc", "/etc"),
        ("doc/up", "../.."),
        ("scripts", "/usr/bin"),
    ] {
        let dir = source();
        symlink(target, dir.path().join(link)).unwrap();
        let error = SourceFiles::read(dir.path()).unwrap_err();
        assert!(
            matches!(error, PackError::LinkOutside { .. }),
            "{link} -> {target}: {error}"
        );
        assert!(error.to_string().contains(link), "{error}");
    }
}

#[test]
fn dangling_links_and_fifos_are_refused() {
    let dir = source();
    symlink("missing", dir.path().join("doc/gone")).unwrap();
    let error = SourceFiles::read(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("doc/gone: a symbolic link that points at nothing"),
        "{error}"
    );

    let dir = source();
    let fifo = dir.path().join("doc/pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Reading a FIFO would block forever; it is refused before any read.
    let error = SourceFiles::read(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("doc/pipe: not a regular file, directory or symbolic link"),
        "{error}"
    );
}

#[test]
fn links_inside_the_source_stay_links_in_deb_and_rpm() {
    let dir = source();
    symlink("README", dir.path().join("doc/alias")).unwrap();
    std::fs::create_dir(dir.path().join("doc/sub")).unwrap();
    symlink("../README", dir.path().join("doc/sub/up")).unwrap();
    // A link elsewhere in the source: packed as a copy of what it names.
    symlink("../config.xml", dir.path().join("doc/config.xml")).unwrap();
    let api = &specs(dir.path(), "debian")[0];
    let link = |path: &str| {
        api.files
            .iter()
            .find(|entry| entry.path == path)
            .map(|entry| entry.content.clone())
    };
    assert_eq!(
        link("/usr/share/doc/opkg-links/alias"),
        Some(Content::Link("README".into()))
    );
    assert_eq!(
        link("/usr/share/doc/opkg-links/sub/up"),
        Some(Content::Link("../README".into()))
    );
    assert_eq!(
        link("/usr/share/doc/opkg-links/config.xml"),
        Some(Content::File(CONFIG.as_bytes().to_vec()))
    );
    let warnings: Vec<String> = review_dir(dir.path(), &Opkg::from_path(dir.path()).unwrap().opkg)
        .into_iter()
        .map(|d| d.message)
        .collect();
    assert!(
        warnings.iter().any(|w| w
            .contains("doc/alias: a symbolic link to README inside the source; packed as a link")),
        "check reports the link: {warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("packed as a copy")),
        "{warnings:?}"
    );

    let out = tempfile::tempdir().unwrap();
    if Command::new("dpkg-deb").arg("--version").output().is_ok() {
        let deb = write_deb(api, out.path()).unwrap();
        let listing = String::from_utf8(
            Command::new("dpkg-deb")
                .arg("-c")
                .arg(&deb)
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert!(
            listing.contains("./usr/share/doc/opkg-links/alias -> README"),
            "{listing}"
        );
    } else {
        eprintln!("SKIPPED: dpkg-deb not installed (see .ci/run for the apt line)");
    }
    if Command::new("rpm").arg("--version").output().is_ok() {
        let rpm = write_rpm(&specs(dir.path(), "rhel")[0], out.path()).unwrap();
        let db = tempfile::tempdir().unwrap();
        let listing = String::from_utf8(
            Command::new("rpm")
                .arg("--dbpath")
                .arg(db.path())
                .args(["-qp", "--qf", "[%{FILENAMES} -> %{FILELINKTOS}\n]"])
                .arg(&rpm)
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert!(
            listing.contains("/usr/share/doc/opkg-links/alias -> README\n"),
            "{listing}"
        );
    } else {
        eprintln!("SKIPPED: rpm not installed (see .ci/run for the apt line)");
    }
}

#[test]
fn a_second_configurator_html_loses_to_the_top_level_one_with_a_warning() {
    let dir = source();
    std::fs::write(dir.path().join("configurator.html"), "<html>top</html>").unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    std::fs::write(
        dir.path().join("scripts/configurator.html"),
        "<html>scripts</html>",
    )
    .unwrap();
    let api = &specs(dir.path(), "debian")[0];
    let shipped: Vec<&Content> = api
        .files
        .iter()
        .filter(|entry| entry.path == "/usr/lib/oscar/packages/links/configurator.html")
        .map(|entry| &entry.content)
        .collect();
    assert_eq!(shipped, [&Content::File(b"<html>top</html>".to_vec())]);
    deb_bytes(api).unwrap();
    let findings = review_dir(dir.path(), &Opkg::from_path(dir.path()).unwrap().opkg);
    assert!(
        findings.iter().any(|d| d.severity == Severity::Warning
            && d.message
                .starts_with("scripts/configurator.html is also a top-level file")),
        "{findings:?}"
    );
    assert!(findings.iter().all(|d| d.severity == Severity::Warning));
}

#[test]
fn summary_lines_are_joined_and_an_empty_description_is_none() {
    let dir = source();
    let opkg = Opkg::from_path(dir.path()).unwrap().opkg;
    assert_eq!(opkg.summary, "Links over two lines");
    assert_eq!(opkg.description, None);
    let api = &specs(dir.path(), "debian")[0];
    assert_eq!(api.summary, "Links over two lines");
    deb_bytes(api).unwrap();
    rpm_bytes(api).unwrap();
}

#[test]
fn debian_ignores_dist_versions_and_rpm_dists_keep_them() {
    let dir = source();
    for dist in ["debian", "debian-12", "debian-4.0"] {
        let server = &specs(dir.path(), dist)[1];
        assert!(
            server.depends.iter().any(|r| r.name == "only-on-debian-4"),
            "{dist}: {:?}",
            server.depends
        );
    }
}

#[test]
fn dependency_names_no_deb_can_satisfy_are_warned_about_by_name() {
    let dir = source();
    let server = &specs(dir.path(), "debian")[1];
    let warnings = deb_name_warnings(server);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "package opkg-links-server: dependency 'slurm-pam_slurm' is not a valid Debian package name"
        ),
        "{warnings:?}"
    );
    // check says so too, for the Debian dists only: the rpm-only name is fine.
    let opkg = Opkg::from_path(dir.path()).unwrap().opkg;
    let findings = review(&opkg, &SourceFiles::read(dir.path()).unwrap());
    let named: Vec<&str> = findings
        .iter()
        .filter(|f| f.message.contains("not a valid Debian package name"))
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(named[0].contains("'slurm-pam_slurm'"));
    assert!(
        findings.iter().all(|f| f.severity == Severity::Warning),
        "{findings:?}"
    );
}

/// The real opkgs (read in place), or none when `../shared` is absent.
fn real_configs() -> Vec<(PathBuf, String)> {
    let shared = shared_dir();
    let dir = shared.join("corpus/real-opkgs");
    if !dir.is_dir() {
        eprintln!(
            "SKIPPED: ../shared not present: no real opkgs at {}",
            dir.display()
        );
        return Vec::new();
    }
    ["c3", "nfs", "torque", "sge", "ganglia"]
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let bytes = std::fs::read(path.join("config.xml")).unwrap();
            (path, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

/// One edit of a real config.xml, of the kinds real opkgs get wrong.
#[derive(Debug, Clone)]
enum Mutation {
    /// Breaks the summary over lines.
    SummaryLines(usize),
    /// Empties the description.
    EmptyDescription,
    /// Adds a server requirement with this name, filtered on this dist and arch.
    Require(String, Option<&'static str>, Option<&'static str>),
    /// Puts a version on every `<dist>`.
    DistVersion(&'static str),
    /// Renames every `<arch>` value.
    Arch(&'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let dists = prop::option::of(prop::sample::select(vec!["debian", "rhel", "ubuntu", "fc"]));
    let arches = prop::option::of(prop::sample::select(vec![
        "x86_64", "amd64", "i686", "i386", "aarch64", "arm64", "ppc64le",
    ]));
    prop_oneof![
        (1usize..40).prop_map(Mutation::SummaryLines),
        Just(Mutation::EmptyDescription),
        ("[a-zA-Z0-9_.+()-]{1,20}", dists, arches)
            .prop_map(|(name, dist, arch)| Mutation::Require(name, dist, arch)),
        prop::sample::select(vec!["4.0", "12", "9"]).prop_map(Mutation::DistVersion),
        prop::sample::select(vec!["x86_64", "amd64", "i586", "arm64"]).prop_map(Mutation::Arch),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    match mutation {
        Mutation::SummaryLines(at) => match (text.find("<summary>"), text.find("</summary>")) {
            (Some(start), Some(end)) if start + 9 < end => {
                let summary = &text[start + 9..end];
                let cut = summary
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(*at % summary.chars().count().max(1))
                    .unwrap_or(0);
                format!(
                    "{}{}\n      {}{}",
                    &text[..start + 9],
                    &summary[..cut],
                    &summary[cut..],
                    &text[end..]
                )
            }
            _ => text.to_owned(),
        },
        Mutation::EmptyDescription => {
            match (text.find("<description>"), text.find("</description>")) {
                (Some(start), Some(end)) if start < end => {
                    format!("{}<description>{}", &text[..start], &text[end..])
                }
                _ => text.to_owned(),
            }
        }
        Mutation::Require(name, dist, arch) => {
            let filters = match (dist, arch) {
                (None, None) => String::new(),
                _ => format!(
                    "<filters>{}{}</filters>",
                    dist.map(|d| format!("<dist>{d}</dist>"))
                        .unwrap_or_default(),
                    arch.map(|a| format!("<arch>{a}</arch>"))
                        .unwrap_or_default()
                ),
            };
            let block =
                format!("<serverDeps><requires>{filters}<pkg>{name}</pkg></requires></serverDeps>");
            // The schema wants serverDeps before clientDeps, commonDeps,
            // apiDeps and changelog: put it before the first of those there is.
            let at = [
                "<serverDeps>",
                "<clientDeps>",
                "<commonDeps>",
                "<apiDeps>",
                "<changelog>",
            ]
            .iter()
            .filter_map(|tag| text.find(tag))
            .min()
            .unwrap_or(text.len());
            format!("{}{block}\n{}", &text[..at], &text[at..])
        }
        Mutation::DistVersion(version) => {
            text.replace("<dist>", &format!("<dist version=\"{version}\">"))
        }
        Mutation::Arch(arch) => {
            let mut out = String::new();
            let mut rest = text;
            while let Some(start) = rest.find("<arch>") {
                let Some(end) = rest[start..].find("</arch>") else {
                    break;
                };
                out.push_str(&rest[..start]);
                out.push_str(&format!("<arch>{arch}</arch>"));
                rest = &rest[start + end + 7..];
            }
            out.push_str(rest);
            out
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// check ok ⇒ pack ok: whenever config.xml loads and the review finds
    /// no error, every target the opkg's filters admit packs as a deb
    /// (Debian dists) and an rpm (the others).
    #[test]
    fn check_ok_means_pack_ok_for_every_admitted_target(
        which in 0usize..5,
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let real = real_configs();
        if real.is_empty() {
            return Ok(());
        }
        let (dir, text) = &real[which % real.len()];
        let mutated = mutations.iter().fold(text.clone(), |text, m| apply(&text, m));
        let Ok(loaded) = Opkg::from_bytes(mutated.as_bytes(), "config.xml", Level::Default) else {
            return Ok(());
        };
        let mut files = SourceFiles::read(dir).unwrap();
        files.config = mutated.into_bytes();
        let findings = review(&loaded.opkg, &files);
        if findings.iter().any(|f| f.severity == Severity::Error) {
            return Ok(());
        }
        for (dist, arch) in admitted_targets(&loaded.opkg) {
            let target = Target { dist: dist.clone(), arch: arch.clone(), mtime: 0 };
            let specs = match opkg_specs(&loaded.opkg, &files, &target) {
                Ok(specs) => specs,
                Err(PackError::NeedsArch { .. }) => continue,
                Err(error) => panic!("check ok, pack refused {dist:?}/{arch:?}: {error}"),
            };
            let deb = dist.as_ref().is_none_or(|d| ["debian", "ubuntu"].contains(&d.name.as_str()));
            let rpm = dist.as_ref().is_none_or(|d| !["debian", "ubuntu"].contains(&d.name.as_str()));
            for spec in &specs {
                if deb {
                    prop_assert!(deb_bytes(spec).is_ok(), "check ok, deb refused for {dist:?}/{arch:?}: {:?}", deb_bytes(spec).err());
                }
                if rpm {
                    prop_assert!(rpm_bytes(spec).is_ok(), "check ok, rpm refused for {dist:?}/{arch:?}: {:?}", rpm_bytes(spec).err());
                }
            }
        }
    }
}
