//! Package names, and finding a package's file in local repository
//! directories for the backends without a resolver (dpkg, rpm).
//!
//! Files are recognised by the standard names that `opm pack`, dpkg-deb,
//! dpkg-name and rpmbuild write: `NAME_VERSION_ARCH.deb` and
//! `NAME-VERSION-RELEASE.ARCH.rpm`; when a directory holds several versions
//! of one package the newest wins, unless a version is asked for
//! ([`find_versions`], for upgrades and pins).

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use crate::error::{NativeError, Result};
use crate::manager::Versioned;
use crate::repo::{self, Repo};
use crate::root::Root;
use crate::version::{compare_deb, compare_rpm};

/// Checks package names before they become tool arguments: a name must
/// start with a letter or digit (so it is never read as an option) and use
/// only the characters both package families allow. Returns them without
/// repeats, in first-seen order (rpm refuses a package twice in one
/// transaction).
///
/// # Errors
/// [`NativeError::InvalidPackageName`] for the first bad name.
pub fn check_names(names: &[String]) -> Result<Vec<String>> {
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let mut bytes = name.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
        let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b"+-._".contains(&b));
        if !first_ok || !rest_ok {
            return Err(NativeError::InvalidPackageName(name.clone()));
        }
        if !unique.contains(name) {
            unique.push(name.clone());
        }
    }
    Ok(unique)
}

/// Checks versioned packages before they become tool arguments, as
/// [`check_names`] does names; a version must start with a digit (so it is
/// never read as an option) and use only characters both families allow.
/// Returns them without repeats, in first-seen order.
///
/// # Errors
/// [`NativeError::InvalidPackageName`] or [`NativeError::InvalidVersion`]
/// for the first bad one.
pub fn check_versioned(packages: &[Versioned]) -> Result<Vec<Versioned>> {
    let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
    check_names(&names)?;
    let mut unique: Vec<Versioned> = Vec::with_capacity(packages.len());
    for package in packages {
        let mut bytes = package.version.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_digit());
        let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b"+-._~:".contains(&b));
        if !first_ok || !rest_ok {
            return Err(NativeError::InvalidVersion(package.version.clone()));
        }
        if !unique.contains(package) {
            unique.push(package.clone());
        }
    }
    Ok(unique)
}

/// Whether a file's version is `wanted`. File names leave the epoch out
/// (`opkg-motd_3.1-2_all.deb` holds 1:3.1-2, as dpkg-name and rpmbuild
/// name them), so a file name without one matches the wanted version
/// without its epoch; one that spells it (`%3a` in a .deb name) must match
/// it whole.
#[must_use]
pub fn file_has_version(family: Family, file: &PackageFile, wanted: &str) -> bool {
    let wanted = if file.version.contains(':') {
        wanted
    } else {
        wanted.split_once(':').map_or(wanted, |(_, rest)| rest)
    };
    let compare = match family {
        Family::Deb => compare_deb,
        Family::Rpm => compare_rpm,
    };
    compare(&file.version, wanted) == Ordering::Equal
}

/// The package families whose files the resolver-less backends read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `.deb` files.
    Deb,
    /// `.rpm` files.
    Rpm,
}

/// A package file recognised by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// The package name.
    pub name: String,
    /// The version (`VERSION` for .deb, `VERSION-RELEASE` for .rpm).
    pub version: String,
    /// The architecture.
    pub arch: String,
}

impl PackageFile {
    /// Reads a file name of the given family; `None` when it does not follow
    /// the standard form.
    #[must_use]
    pub fn parse(family: Family, file_name: &str) -> Option<Self> {
        match family {
            Family::Deb => {
                let stem = file_name.strip_suffix(".deb")?;
                let mut parts = stem.split('_');
                let (name, version, arch) = (parts.next()?, parts.next()?, parts.next()?);
                if parts.next().is_some() || name.is_empty() || version.is_empty() {
                    return None;
                }
                Some(Self {
                    name: name.to_owned(),
                    version: version.replace("%3a", ":"),
                    arch: arch.to_owned(),
                })
            }
            Family::Rpm => {
                let stem = file_name.strip_suffix(".rpm")?;
                let (rest, arch) = stem.rsplit_once('.')?;
                let (rest, release) = rest.rsplit_once('-')?;
                let (name, version) = rest.rsplit_once('-')?;
                if name.is_empty() || version.is_empty() || release.is_empty() || arch == "src" {
                    return None;
                }
                Some(Self {
                    name: name.to_owned(),
                    version: format!("{version}-{release}"),
                    arch: arch.to_owned(),
                })
            }
        }
    }
}

/// Finds the newest file of every named package in the repositories'
/// directories, with what its name says; the result is in the order of `names`.
///
/// # Errors
/// [`NativeError::RepoUnsupported`] for a repository that is not a local
/// directory, [`NativeError::RepoUnreadable`], and [`NativeError::NotInRepo`]
/// naming every package that has no file.
pub fn find(
    family: Family,
    backend: &'static str,
    repos: &[Repo],
    names: &[String],
    root: &Root,
) -> Result<Vec<(PackageFile, PathBuf)>> {
    let candidates = candidates(family, backend, repos)?;
    let compare = match family {
        Family::Deb => compare_deb,
        Family::Rpm => compare_rpm,
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        let newest = candidates
            .iter()
            .filter(|(file, _)| &file.name == name)
            .max_by(|(left, _), (right, _)| {
                let order = compare(&left.version, &right.version);
                if order == Ordering::Equal {
                    // The same version for two architectures: any fixed
                    // order keeps the choice stable from run to run; file
                    // names carry nothing better to choose by.
                    left.arch.cmp(&right.arch)
                } else {
                    order
                }
            });
        match newest {
            Some(newest) => found.push(newest.clone()),
            None => missing.push(name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(NativeError::NotInRepo {
            packages: missing,
            root: root.path().to_owned(),
            repos: repo::describe(repos),
        })
    }
}

/// Finds the file of every package at its wanted version, in the order of
/// `wanted`.
///
/// # Errors
/// As for [`find`]; [`NativeError::NotInRepo`] names every package whose
/// version has no file as `name=version`.
pub fn find_versions(
    family: Family,
    backend: &'static str,
    repos: &[Repo],
    wanted: &[Versioned],
    root: &Root,
) -> Result<Vec<(PackageFile, PathBuf)>> {
    let candidates = candidates(family, backend, repos)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for package in wanted {
        // Two architectures of one version: the same fixed choice as `find`.
        let file = candidates
            .iter()
            .filter(|(file, _)| {
                file.name == package.name && file_has_version(family, file, &package.version)
            })
            .min_by(|(left, _), (right, _)| left.arch.cmp(&right.arch));
        match file {
            Some(file) => found.push(file.clone()),
            None => missing.push(format!("{}={}", package.name, package.version)),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(NativeError::NotInRepo {
            packages: missing,
            root: root.path().to_owned(),
            repos: repo::describe(repos),
        })
    }
}

/// Every package file of `family` in the repositories' directories.
fn candidates(
    family: Family,
    backend: &'static str,
    repos: &[Repo],
) -> Result<Vec<(PackageFile, PathBuf)>> {
    let mut candidates: Vec<(PackageFile, PathBuf)> = Vec::new();
    for repo in repos {
        let Some(dir) = repo.local_dir() else {
            return Err(NativeError::RepoUnsupported {
                backend,
                repo: repo.to_string(),
                instead: if family == Family::Deb { "apt" } else { "dnf" },
            });
        };
        candidates.extend(list_dir(family, &dir)?);
    }
    Ok(candidates)
}

fn list_dir(family: Family, dir: &Path) -> Result<Vec<(PackageFile, PathBuf)>> {
    let unreadable = |source| NativeError::RepoUnreadable {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if let Some(file) = PackageFile::parse(family, file_name) {
            files.push((file, entry.path()));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_package_names_and_rejects_options_and_paths() {
        let good: Vec<String> = ["opkg-slurm", "lib2.0+x", "a_b"].map(String::from).to_vec();
        assert_eq!(check_names(&good).unwrap(), good);
        let repeated: Vec<String> = ["b", "a", "b"].map(String::from).to_vec();
        assert_eq!(check_names(&repeated).unwrap(), ["b", "a"]);
        for bad in ["", "-rf", "a/b", "a b", "Ä", "../x"] {
            let error = check_names(&[bad.to_owned()]).unwrap_err();
            assert!(
                matches!(error, NativeError::InvalidPackageName(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reads_standard_file_names() {
        assert_eq!(
            PackageFile::parse(Family::Deb, "opkg-slurm-client_2.1-3_all.deb"),
            Some(PackageFile {
                name: "opkg-slurm-client".into(),
                version: "2.1-3".into(),
                arch: "all".into()
            })
        );
        assert_eq!(
            PackageFile::parse(Family::Rpm, "opkg-slurm-client-2.1-3.noarch.rpm"),
            Some(PackageFile {
                name: "opkg-slurm-client".into(),
                version: "2.1-3".into(),
                arch: "noarch".into()
            })
        );
        for (family, odd) in [
            (Family::Deb, "x.deb"),
            (Family::Deb, "a_1_all_x.deb"),
            (Family::Deb, "a_1_all.rpm"),
            (Family::Rpm, "a-1.noarch.rpm"),
            (Family::Rpm, "a-1-1.src.rpm"),
            (Family::Rpm, "Packages"),
        ] {
            assert_eq!(PackageFile::parse(family, odd), None, "{odd}");
        }
    }

    #[test]
    fn a_file_name_without_an_epoch_holds_the_version_with_one() {
        let deb = PackageFile::parse(Family::Deb, "opkg-motd_3.1-2_all.deb").unwrap();
        assert!(file_has_version(Family::Deb, &deb, "1:3.1-2"));
        assert!(file_has_version(Family::Deb, &deb, "3.1-2"));
        assert!(!file_has_version(Family::Deb, &deb, "1:3.2-1"));
        let spelled = PackageFile::parse(Family::Deb, "opkg-motd_1%3a3.1-2_all.deb").unwrap();
        assert!(file_has_version(Family::Deb, &spelled, "1:3.1-2"));
        assert!(!file_has_version(Family::Deb, &spelled, "2:3.1-2"));
        let rpm = PackageFile::parse(Family::Rpm, "opkg-motd-3.1-2.noarch.rpm").unwrap();
        assert!(file_has_version(Family::Rpm, &rpm, "1:3.1-2"));
        assert!(!file_has_version(Family::Rpm, &rpm, "1:3.1-3"));
    }

    #[test]
    fn finds_the_newest_file_and_names_every_missing_package() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "a_1.9-1_all.deb",
            "a_1.10-1_all.deb",
            "b_1.0_all.deb",
            "c.txt",
        ] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        let root_dir = tempfile::tempdir().unwrap();
        let root = Root::new(root_dir.path()).unwrap();
        let repos = [Repo::Dir(dir.path().to_owned())];
        let names: Vec<String> = vec!["b".into(), "a".into()];
        let found = find(Family::Deb, "dpkg", &repos, &names, &root).unwrap();
        let paths: Vec<PathBuf> = found.iter().map(|(_, path)| path.clone()).collect();
        assert_eq!(
            paths,
            [
                dir.path().join("b_1.0_all.deb"),
                dir.path().join("a_1.10-1_all.deb")
            ]
        );
        assert_eq!(found[1].0.version, "1.10-1");
        let names: Vec<String> = vec!["a".into(), "x".into(), "y".into()];
        let error = find(Family::Deb, "dpkg", &repos, &names, &root).unwrap_err();
        let NativeError::NotInRepo { packages, .. } = &error else {
            panic!("{error}");
        };
        assert_eq!(packages, &["x", "y"]);
        assert!(
            error.to_string().starts_with("x, y not found in "),
            "{error}"
        );
    }

    #[test]
    fn a_remote_repository_needs_a_resolver() {
        let root_dir = tempfile::tempdir().unwrap();
        let root = Root::new(root_dir.path()).unwrap();
        let repos = [Repo::Url("http://h/r".into())];
        let error = find(Family::Rpm, "rpm", &repos, &["a".into()], &root).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the rpm backend cannot use repository http://h/r; give a local directory or use dnf"
        );
        let missing = [Repo::Dir("/opm-no-such-repo".into())];
        let error = find(Family::Rpm, "rpm", &missing, &["a".into()], &root).unwrap_err();
        assert!(matches!(error, NativeError::RepoUnreadable { .. }));
    }
}
