//! dnf with dependency resolution: `dnf --installroot` from the configured
//! repositories (local ones indexed by createrepo_c, or URLs).
//!
//! For a root other than `/`, dnf reads only opm's repositories (each one
//! `--repofrompath`, enabled alone with `--repo`), its own configuration
//! file and an empty repository directory inside the root, so the host's
//! repositories never leak in. Its rpm database is the one the rpm backend
//! uses ([`crate::rpm::DB_PATH`]): dnf takes no `--dbpath`, so it runs with a
//! home directory whose `.rpmmacros` sets it.
//!
//! When one of opm's repositories is signed (`[signed-by=KEY] DIR|URL`),
//! all of them go into a `.repo` file instead ([`repo_file`]: `--setopt`
//! does not reach `--repofrompath` repositories), the signed ones with
//! `repo_gpgcheck=1` and their key, and `--nogpgcheck` is dropped, so dnf
//! refuses an index whose signature does not verify.

use opm_model::Inventory;

use crate::command::{Invocation, Ran};
use crate::error::{Cause, NativeError, Result};
use crate::files;
use crate::lock::RootLock;
use crate::manager::{Backend, InstalledPackage, Options, PackageManager, Versioned, tool_failure};
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

/// opm's `.repo` file in a sandbox root (inside [`REPOS_DIR`]).
pub const SANDBOX_REPO_FILE: &str = "var/lib/opm/yum.repos.d/opm.repo";

/// opm's `.repo` file on the host, next to the host's own.
pub const HOST_REPO_FILE: &str = "etc/yum.repos.d/opm.repo";

fn repo_file_path(root: &Root) -> &'static str {
    if root.is_host() {
        HOST_REPO_FILE
    } else {
        SANDBOX_REPO_FILE
    }
}

fn any_signed(repos: &[Repo]) -> bool {
    repos.iter().any(|repo| repo.signing_key().is_some())
}

/// The dnf URL of a repository, or the error for one dnf cannot use.
fn dnf_url(repo: &Repo) -> Result<String> {
    repo.dnf_url().ok_or_else(|| NativeError::RepoUnsupported {
        backend: "dnf",
        repo: repo.to_string(),
        instead: "apt",
    })
}

/// opm's repositories as a dnf `.repo` file, when one of them is signed
/// (`None` otherwise: they are passed with `--repofrompath`). opm's rpms
/// carry no signature of their own (`gpgcheck=0`): the signed
/// `repomd.xml` holds every package's checksum, so its signature
/// (`repo_gpgcheck=1`) covers them.
///
/// # Errors
/// [`NativeError::RepoUnsupported`] for an apt source line.
pub fn repo_file(repos: &[Repo]) -> Result<Option<String>> {
    if !any_signed(repos) {
        return Ok(None);
    }
    let mut text =
        String::from("# Written by opm from its --repo values; rewritten on every run.\n");
    for (index, repo) in repos.iter().enumerate() {
        let url = dnf_url(repo)?;
        text.push_str(&format!(
            "\n[opm{index}]\nname=opm{index}\nbaseurl={url}\nenabled=1\nmetadata_expire=0\ngpgcheck=0\n"
        ));
        match repo.signing_key() {
            Some(key) => text.push_str(&format!(
                "repo_gpgcheck=1\ngpgkey=file://{}\n",
                key.display()
            )),
            None => text.push_str("repo_gpgcheck=0\n"),
        }
    }
    Ok(Some(text))
}

/// The options every dnf run on `root` takes, or the repository that dnf
/// cannot use (an apt source line).
///
/// # Errors
/// [`NativeError::RepoUnsupported`].
pub fn root_options(root: &Root, repos: &[Repo]) -> Result<Vec<String>> {
    let signed = any_signed(repos);
    let mut options = vec!["--assumeyes".to_owned()];
    if !signed {
        options.push("--nogpgcheck".to_owned());
    }
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
        let url = dnf_url(repo)?;
        let id = format!("opm{index}");
        // Signed: the repository is in opm's .repo file (see `repo_file`).
        if !signed {
            options.push(format!("--repofrompath={id},{url}"));
        }
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

/// `dnf install NAME-VERSION…`: dnf installs a version asked for exactly
/// whatever version is installed, replacing it in place (its upgrade or
/// downgrade), in one transaction with dependencies.
///
/// # Errors
/// As for [`root_options`].
pub fn install_versions_command(
    root: &Root,
    repos: &[Repo],
    packages: &[Versioned],
) -> Result<Invocation> {
    Ok(dnf(root)
        .args(root_options(root, repos)?)
        .args(["install"])
        .args(packages.iter().map(|p| format!("{}-{}", p.name, p.version))))
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
    // A repo_gpgcheck repository whose repomd.xml signature is bad or missing.
    if output.contains("repomd.xml GPG signature verification error")
        || output.contains("GPG verification is enabled, but GPG signature is not available")
    {
        return Cause::Unverified;
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
        let path = repo_file_path(root);
        match repo_file(&self.options.repos)? {
            Some(text) => {
                if let Some((dir, _)) = path.rsplit_once('/') {
                    root.create_dirs(&[dir])?;
                }
                root.write_file(path, &text)?;
            }
            // A file of an earlier signed run would clash with --repofrompath.
            None => match std::fs::remove_file(root.join(path)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(root.not_writable(root.join(path), error));
                }
                _ => {}
            },
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

    fn install_versions(&self, root: &Root, packages: &[Versioned]) -> Result<()> {
        let packages = &files::check_versioned(packages)?;
        if packages.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        let command = install_versions_command(root, &self.options.repos, packages)?
            .within(self.options.run_timeout);
        let purpose = format!("dnf install {}", crate::dpkg::versioned_list(packages));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.prepare(root)?;
        let ran = rpm::run_install(&command)?;
        if ran.success() {
            Ok(())
        } else {
            Err(failed("install", &names, root, &ran))
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

    fn inventory(&self, root: &Root, packages: &[String]) -> Result<Inventory> {
        rpm::inventory(root, packages, Backend::Dnf)
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
    fn a_signed_repository_puts_all_of_opms_in_a_checked_repo_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let repos = [
            Repo::Signed {
                repo: Box::new(Repo::Dir("/srv/signed".into())),
                key: "/etc/opm/key.asc".into(),
            },
            Repo::Url("http://h/r".into()),
        ];
        let install = install_command(&root, &repos, &["b".into()]).unwrap();
        assert!(
            !install.args.iter().any(|a| a == "--nogpgcheck"),
            "{install:?}"
        );
        assert!(!install.args.iter().any(|a| a.starts_with("--repofrompath")));
        assert!(install.args.iter().any(|a| a == "--repo=opm0"));
        assert!(install.args.iter().any(|a| a == "--repo=opm1"));
        assert_eq!(
            repo_file(&repos).unwrap().unwrap(),
            "# Written by opm from its --repo values; rewritten on every run.\n\
             \n[opm0]\nname=opm0\nbaseurl=file:///srv/signed\nenabled=1\nmetadata_expire=0\ngpgcheck=0\n\
             repo_gpgcheck=1\ngpgkey=file:///etc/opm/key.asc\n\
             \n[opm1]\nname=opm1\nbaseurl=http://h/r\nenabled=1\nmetadata_expire=0\ngpgcheck=0\n\
             repo_gpgcheck=0\n"
        );
        assert_eq!(repo_file(&repos[1..]).unwrap(), None);
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
        assert_eq!(
            classify(
                "Error: Failed to download metadata for repo 'opm0': repomd.xml GPG signature verification error: Bad GPG signature\n"
            ),
            Cause::Unverified
        );
    }
}
