//! Packages built with opm's own writers (`opm_opkg::pack`), indexed into a
//! repository directory with the distribution's tools, and empty sandbox
//! roots: everything a backend test needs, real and throw-away.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use opm_native::detect::has_program;
use opm_native::{Backend, Options, PackageManager, Repo, Root};
use opm_opkg::pack::{Entry, PackageSpec, write_apt_index, write_deb, write_rpm};
use opm_opkg::{Rel, Relation, Version};

/// The programs a backend's tests need, beyond the backend's own.
fn needed(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Apt => &["apt-get", "dpkg"],
        Backend::Dpkg => &["dpkg", "dpkg-query"],
        Backend::Dnf => &["dnf", "rpm", "createrepo_c"],
        Backend::Rpm => &["rpm"],
    }
}

/// Whether the machine has what `backend`'s tests need; says loudly on
/// stderr when it does not (CI installs everything, so nothing skips there).
pub fn available(backend: Backend, test: &str) -> bool {
    let missing: Vec<&str> = needed(backend)
        .iter()
        .copied()
        .filter(|program| !has_program(program))
        .collect();
    if missing.is_empty() {
        true
    } else {
        eprintln!(
            "SKIPPED: {test} ({backend}): {} not installed; apt-get install rpm dnf createrepo-c dpkg-dev",
            missing.join(", ")
        );
        false
    }
}

/// The package file family of a backend.
pub fn is_deb(backend: Backend) -> bool {
    matches!(backend, Backend::Apt | Backend::Dpkg)
}

/// Whether the backend resolves dependencies itself.
pub fn resolves(backend: Backend) -> bool {
    matches!(backend, Backend::Apt | Backend::Dnf)
}

/// A small package owning one file, `/usr/share/<name>/README`.
pub fn package(name: &str, version: &str, depends: &[(&str, Rel, &str)]) -> PackageSpec {
    PackageSpec {
        name: name.to_owned(),
        version: Version::parse(version).unwrap(),
        arch: None,
        summary: format!("{name}, a test package"),
        description: "Built by the opm-native backend tests.".to_owned(),
        maintainer: "opm tests <opm@example.invalid>".to_owned(),
        license: "GPL-2.0-or-later".to_owned(),
        group: "Application/System".into(),
        homepage: None,
        rpm_requires: vec![],
        depends: depends
            .iter()
            .map(|(dependency, rel, version)| Relation {
                name: (*dependency).to_owned(),
                constraint: Some((*rel, (*version).to_owned())),
            })
            .collect(),
        conflicts: Vec::new(),
        provides: Vec::new(),
        files: vec![
            Entry::dir(format!("/usr/share/{name}")),
            Entry::file(format!("/usr/share/{name}/README"), 0o644, name.as_bytes()),
        ],
        changelog: vec![],
        mtime: 1_700_000_000,
    }
}

/// A package with `count` files, big enough that a run can be killed in
/// the middle of unpacking it.
pub fn big_package(name: &str, count: usize) -> PackageSpec {
    let mut spec = package(name, "1.0-1", &[]);
    for index in 0..count {
        let dir = format!("/usr/share/{name}/d{}", index / 100);
        if index % 100 == 0 {
            spec.files.push(Entry::dir(dir.clone()));
        }
        spec.files.push(Entry::file(
            format!("{dir}/f{index}"),
            0o644,
            vec![b'x'; 512],
        ));
    }
    spec
}

/// Writes the packages in the backend's format into `dir`; returns the files.
pub fn write(backend: Backend, dir: &Path, specs: &[PackageSpec]) -> Vec<PathBuf> {
    specs
        .iter()
        .map(|spec| {
            if is_deb(backend) {
                write_deb(spec, dir).unwrap()
            } else {
                write_rpm(spec, dir).unwrap()
            }
        })
        .collect()
}

/// Indexes `dir` the way the backend's resolver reads it, with `opm repo
/// index`'s own code: a `Packages` file for apt, `repodata/` (by
/// createrepo_c) for dnf; plain dpkg and rpm read the files.
pub fn index(backend: Backend, dir: &Path) {
    match backend {
        Backend::Apt => {
            write_apt_index(dir, SystemTime::now()).unwrap();
        }
        Backend::Dnf => {
            let ran = opm_native::createrepo::run(dir).unwrap();
            assert!(ran.success(), "{}", ran.combined());
        }
        Backend::Dpkg | Backend::Rpm => {}
    }
}

/// A repository directory holding `specs`, indexed.
pub fn repo(backend: Backend, specs: &[PackageSpec]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(backend, dir.path(), specs);
    index(backend, dir.path());
    dir
}

/// An empty sandbox root.
pub fn sandbox() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    let root = Root::new(dir.path()).unwrap();
    (dir, root)
}

/// The backend's manager reading `repo`.
pub fn manager(backend: Backend, repo: &Path) -> Box<dyn PackageManager> {
    backend.manager(Options::new(vec![Repo::Dir(repo.to_owned())]))
}

/// Names as the trait takes them.
pub fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// The names of the installed packages among `wanted`, sorted.
pub fn installed(manager: &dyn PackageManager, root: &Root, wanted: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = manager
        .query(root, &names(wanted))
        .unwrap()
        .into_iter()
        .map(|package| package.name)
        .collect();
    found.sort();
    found
}
