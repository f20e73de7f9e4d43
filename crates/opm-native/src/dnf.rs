//! dnf with dependency resolution: `dnf --installroot` from the configured
//! repositories (local ones indexed by createrepo_c, or URLs).
//!
//! For a root other than `/`, dnf reads only opm's repositories (each one
//! `--repofrompath`, enabled alone with `--repo`), its own configuration
//! file and an empty repository directory inside the root, so the host's
//! repositories never leak in. Its rpm database is the one the rpm backend
//! uses ([`crate::rpm::DB_PATH`]): dnf takes no `--dbpath`, so it runs with a
//! home directory whose `.rpmmacros` sets it.

use crate::command::{Invocation, Ran};
use crate::error::{Cause, NativeError, Result};
use crate::files;
use crate::lock::RootLock;
use crate::manager::{Backend, InstalledPackage, Options, PackageManager, tool_failure};
use crate::repo::Repo;
use crate::root::Root;
use crate::rpm;

/// The dnf backend.
#[derive(Debug, Clone)]
pub struct Dnf {
    options: Options,
}

impl Dnf {
    /// A dnf backend with the repositories of `options`.
    #[must_use]
    pub fn new(options: Options) -> Self {
        Self { options }
    }
}

/// dnf's configuration file for a sandbox root, relative to it.
pub const CONFIG_FILE: &str = "var/lib/opm/dnf.conf";

/// An empty repository directory for a sandbox root, relative to it.
pub const REPOS_DIR: &str = "var/lib/opm/yum.repos.d";

/// The configuration file of a sandbox root.
pub const CONFIG: &str = "[main]\n# Written by opm: only opm's repositories, nothing weak.\ngpgcheck=0\ninstall_weak_deps=False\nbest=True\n";

/// The options every dnf run on `root` takes, or the repository that dnf
/// cannot use (an apt source line).
///
/// # Errors
/// [`NativeError::RepoUnsupported`].
pub fn root_options(root: &Root, repos: &[Repo]) -> Result<Vec<String>> {
    let mut options = vec!["--assumeyes".to_owned(), "--nogpgcheck".to_owned()];
    if !root.is_host() {
        options.extend([
            format!("--installroot={}", root.as_str()),
            format!("--config={}", root.join_str(CONFIG_FILE)),
            format!("--setopt=reposdir={}", root.join_str(REPOS_DIR)),
            "--setopt=cachedir=/var/cache/dnf".to_owned(),
            "--setopt=logdir=/var/log".to_owned(),
            "--releasever=opm".to_owned(),
        ]);
    }
    let mut enabled = Vec::new();
    for (index, repo) in repos.iter().enumerate() {
        let Some(url) = repo.dnf_url() else {
            return Err(NativeError::RepoUnsupported {
                backend: "dnf",
                repo: repo.to_string(),
                instead: "apt",
            });
        };
        let id = format!("opm{index}");
        options.push(format!("--repofrompath={id},{url}"));
        enabled.push(format!("--repo={id}"));
    }
    // The host keeps its own repositories next to opm's; a sandbox sees only opm's.
    if !root.is_host() {
        options.extend(enabled);
    }
    Ok(options)
}

fn dnf(root: &Root) -> Invocation {
    let command = Invocation::new("dnf");
    if root.is_host() {
        command
    } else {
        command.env("HOME", &root.join_str(rpm::MACROS_HOME))
    }
}

/// `dnf install NAME…`, one transaction with dependencies.
///
/// # Errors
/// As for [`root_options`].
pub fn install_command(root: &Root, repos: &[Repo], names: &[String]) -> Result<Invocation> {
    Ok(dnf(root)
        .args(root_options(root, repos)?)
        .args(["install"])
        .args(names.iter().cloned()))
}

/// `dnf remove NAME…`.
///
/// # Errors
/// As for [`root_options`].
pub fn remove_command(root: &Root, repos: &[Repo], names: &[String]) -> Result<Invocation> {
    Ok(dnf(root)
        .args(root_options(root, repos)?)
        .args(["remove"])
        .args(names.iter().cloned()))
}

/// What a failed dnf run's output says went wrong.
#[must_use]
pub fn classify(output: &str) -> Cause {
    let mut not_found = Vec::new();
    let mut damaged = Vec::new();
    for line in output.lines() {
        // Package "c-1.0-1.noarch" from local repository "opm0" has incorrect checksum
        if let Some(rest) = line.strip_prefix("Package \"")
            && line.ends_with("has incorrect checksum")
            && let Some((package, _)) = rest.split_once('"')
        {
            damaged.push(package.to_owned());
        }
        let names = line
            .strip_prefix("Error: Unable to find a match: ")
            .or_else(|| line.strip_prefix("No match for argument: "))
            .unwrap_or_default();
        for name in names.split_whitespace() {
            if !not_found.iter().any(|known| known == name) {
                not_found.push(name.to_owned());
            }
        }
    }
    if !not_found.is_empty() {
        return Cause::NotFound(not_found);
    }
    if !damaged.is_empty() {
        return Cause::BadPackage(damaged);
    }
    if output.contains("nothing provides") || output.contains("conflicting requests") {
        return Cause::Unsatisfiable;
    }
    let damaged = [
        "Package does not match intended download",
        "Checksum mismatch",
        "Damaged package",
        "not an rpm package",
        "Corrupted",
    ];
    if damaged.iter().any(|needle| output.contains(needle)) {
        return Cause::BadPackage(Vec::new());
    }
    rpm::classify(output)
}

fn failed(action: &'static str, packages: &[String], root: &Root, ran: &Ran) -> NativeError {
    tool_failure(
        "dnf",
        action,
        packages,
        root,
        ran,
        classify(&ran.combined()),
    )
}

impl PackageManager for Dnf {
    fn backend(&self) -> Backend {
        Backend::Dnf
    }

    fn prepare(&self, root: &Root) -> Result<()> {
        rpm::init_db(root)?;
        if !root.is_host() {
            root.create_dirs(&[REPOS_DIR, "var/cache/dnf"])?;
            root.write_file(CONFIG_FILE, CONFIG)?;
        }
        Ok(())
    }

    fn install(&self, root: &Root, packages: &[String]) -> Result<()> {
        let packages = &files::check_names(packages)?;
        if packages.is_empty() {
            return Ok(());
        }
        let command =
            install_command(root, &self.options.repos, packages)?.within(self.options.run_timeout);
        let purpose = format!("dnf install {}", packages.join(", "));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.prepare(root)?;
        let ran = rpm::run_install(&command)?;
        if ran.success() {
            Ok(())
        } else {
            Err(failed("install", packages, root, &ran))
        }
    }

    fn remove(&self, root: &Root, packages: &[String]) -> Result<()> {
        let packages = &files::check_names(packages)?;
        let purpose = format!("dnf remove {}", packages.join(", "));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.prepare(root)?;
        let present: Vec<String> = rpm::installed(root, packages)?
            .into_iter()
            .map(|package| package.name)
            .collect();
        if present.is_empty() {
            return Ok(());
        }
        let ran = remove_command(root, &self.options.repos, &present)?
            .within(self.options.run_timeout)
            .run()?;
        if ran.success() {
            Ok(())
        } else {
            Err(failed("remove", &present, root, &ran))
        }
    }

    fn query(&self, root: &Root, packages: &[String]) -> Result<Vec<InstalledPackage>> {
        let packages = &files::check_names(packages)?;
        rpm::installed(root, packages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_run_sees_only_opm_repositories_and_the_root_database() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let r = root.as_str();
        let repos = [
            Repo::Dir("/srv/repo".into()),
            Repo::Url("http://h/r".into()),
        ];
        let install = install_command(&root, &repos, &["b".into()]).unwrap();
        assert_eq!(install.program, "dnf");
        assert_eq!(
            install.args,
            [
                "--assumeyes".to_owned(),
                "--nogpgcheck".into(),
                format!("--installroot={r}"),
                format!("--config={r}/var/lib/opm/dnf.conf"),
                format!("--setopt=reposdir={r}/var/lib/opm/yum.repos.d"),
                "--setopt=cachedir=/var/cache/dnf".into(),
                "--setopt=logdir=/var/log".into(),
                "--releasever=opm".into(),
                "--repofrompath=opm0,file:///srv/repo".into(),
                "--repofrompath=opm1,http://h/r".into(),
                "--repo=opm0".into(),
                "--repo=opm1".into(),
                "install".into(),
                "b".into(),
            ]
        );
        assert_eq!(
            install.env,
            [("HOME".to_owned(), format!("{r}/var/lib/opm/rpm"))]
        );
        let remove = remove_command(&root, &repos, &["a".into()]).unwrap();
        assert_eq!(remove.args[remove.args.len() - 2..], ["remove", "a"]);
    }

    #[test]
    fn the_host_keeps_its_repositories_and_adds_opm_ones() {
        let repos = [Repo::Dir("/srv/repo".into())];
        let install = install_command(&Root::host(), &repos, &["b".into()]).unwrap();
        assert_eq!(
            install.args,
            [
                "--assumeyes",
                "--nogpgcheck",
                "--repofrompath=opm0,file:///srv/repo",
                "install",
                "b"
            ]
        );
        assert!(install.env.is_empty());
    }

    #[test]
    fn an_apt_line_is_no_dnf_repository() {
        let repos = [Repo::AptLine("deb http://h/ ./".into())];
        let error = install_command(&Root::host(), &repos, &["b".into()]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the dnf backend cannot use repository deb http://h/ ./; give a local directory or use apt"
        );
    }

    #[test]
    fn recognises_missing_packages_and_unsatisfiable_dependencies() {
        assert_eq!(
            classify("No match for argument: nosuch\nError: Unable to find a match: nosuch\n"),
            Cause::NotFound(vec!["nosuch".into()])
        );
        assert_eq!(
            classify(
                "Error: \n Problem: conflicting requests\n  - nothing provides a >= 2.0 needed by b-1.0-1.noarch\n"
            ),
            Cause::Unsatisfiable
        );
        assert_eq!(
            classify(
                "Package \"c-1.0-1.noarch\" from local repository \"opm0\" has incorrect checksum\nError: Some packages from local repository have incorrect checksum\n"
            ),
            Cause::BadPackage(vec!["c-1.0-1.noarch".into()])
        );
        assert_eq!(
            classify("Error: Transaction test error:\n\tfile /x conflicts\n"),
            Cause::Other
        );
    }
}
