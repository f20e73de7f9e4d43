//! apt-get with dependency resolution, into `/` or any root.
//!
//! For a root other than `/`, every setting goes into one configuration
//! file named by `APT_CONFIG` (`var/lib/opm/apt.conf` inside the root):
//! options given with `-o` come too late, after the host's configuration was
//! read (see SANDBOX.md). The configured repositories are written to the
//! root's `etc/apt/sources.list.d/opm.list`, then `apt-get update` and
//! `apt-get install` run in one locked step. The database underneath is
//! dpkg's, so setup and queries are the [`crate::dpkg`] ones.

use opm_model::Inventory;

use crate::command::{Invocation, Ran};
use crate::dpkg;
use crate::dpkg::run_waiting;
use crate::error::{Cause, Result};
use crate::files;
use crate::lock::RootLock;
use crate::manager::{Backend, InstalledPackage, Options, PackageManager, Versioned, tool_failure};
use crate::repo::Repo;
use crate::root::Root;

/// The apt backend.
#[derive(Debug, Clone)]
pub struct Apt {
    options: Options,
}

impl Apt {
    /// An apt backend with the repositories of `options`.
    #[must_use]
    pub fn new(options: Options) -> Self {
        Self { options }
    }
}

/// Where the configuration file of a sandbox root lives, relative to it.
pub const CONFIG_FILE: &str = "var/lib/opm/apt.conf";

/// Where opm's repositories are listed, relative to the root.
pub const SOURCES_FILE: &str = "etc/apt/sources.list.d/opm.list";

/// The apt configuration that keeps every path inside `root`.
#[must_use]
pub fn config(root: &Root) -> String {
    let dpkg_options: Vec<String> = dpkg::root_options(root)
        .iter()
        .map(|option| format!("\"{option}\";"))
        .collect();
    format!(
        "// Written by opm: apt confined to this root.\n\
         Dir \"{root}/\";\n\
         Dir::State::status \"{root}/var/lib/dpkg/status\";\n\
         APT::Sandbox::User \"root\";\n\
         DPkg::Options {{ {options} }};\n\
         Acquire::Languages \"none\";\n",
        root = root.as_str(),
        options = dpkg_options.join(" ")
    )
}

/// The `sources.list` lines for the repositories.
#[must_use]
pub fn sources(repos: &[Repo]) -> String {
    let mut text = String::from("# Written by opm from its --repo settings.\n");
    for repo in repos {
        text.push_str(&repo.apt_line());
        text.push('\n');
    }
    text
}

fn apt_get(root: &Root) -> Invocation {
    let command = Invocation::new("apt-get").env("DEBIAN_FRONTEND", "noninteractive");
    if root.is_host() {
        command
    } else {
        command.env("APT_CONFIG", &root.join_str(CONFIG_FILE))
    }
}

/// `apt-get update`: reads the repositories' indexes. On the host only
/// opm's list is refreshed (the machine's own sources are its business,
/// and an unreachable one must not stop opm); the other lists are kept.
#[must_use]
pub fn update_command(root: &Root) -> Invocation {
    let command = apt_get(root).args(["-q"]);
    let command = if root.is_host() {
        command.args([
            format!("-o=Dir::Etc::SourceList=/{SOURCES_FILE}"),
            "-o=Dir::Etc::SourceParts=-".to_owned(),
            "-o=APT::Get::List-Cleanup=0".to_owned(),
        ])
    } else {
        command
    };
    command.args(["update"])
}

/// `apt-get install NAME…`, one transaction with dependencies.
#[must_use]
pub fn install_command(root: &Root, names: &[String]) -> Invocation {
    apt_get(root)
        .args(["-q", "-y", "--no-install-recommends", "install"])
        .args(names.iter().cloned())
}

/// `apt-get install NAME=VERSION…`: exactly those versions, in one
/// transaction with dependencies; another version installed is upgraded
/// (or downgraded, which apt-get does only when told) in place.
#[must_use]
pub fn install_versions_command(root: &Root, packages: &[Versioned]) -> Invocation {
    apt_get(root)
        .args([
            "-q",
            "-y",
            "--no-install-recommends",
            "--allow-downgrades",
            "install",
        ])
        .args(packages.iter().map(|p| format!("{}={}", p.name, p.version)))
}

/// `apt-get remove NAME…`.
#[must_use]
pub fn remove_command(root: &Root, names: &[String]) -> Invocation {
    apt_get(root)
        .args(["-q", "-y", "remove"])
        .args(names.iter().cloned())
}

/// What a failed apt-get run's output says went wrong.
#[must_use]
pub fn classify(output: &str) -> Cause {
    if let Some(holder) = dpkg::lock_holder(output) {
        return Cause::Locked(holder);
    }
    // A signed-by= repository whose signature is bad, missing or by another key.
    if output.contains("W: GPG error: ")
        || (output.contains("E: The repository '") && output.contains("' is not signed."))
    {
        return Cause::Unverified;
    }
    let mut not_found = Vec::new();
    for line in output.lines() {
        if let Some(name) = line.strip_prefix("E: Unable to locate package ") {
            not_found.push(name.trim().to_owned());
        } else if let Some((name, _)) = line
            .strip_prefix("E: Package '")
            .and_then(|rest| rest.split_once("' has no installation candidate"))
        {
            not_found.push(name.to_owned());
        }
    }
    if !not_found.is_empty() {
        return Cause::NotFound(not_found);
    }
    if output.contains("unmet dependencies") || output.contains("E: Unable to correct problems") {
        return Cause::Unsatisfiable;
    }
    for damaged in [
        "Hash Sum mismatch",
        "Size mismatch",
        "File has unexpected size",
    ] {
        if output.contains(damaged) {
            let files = output
                .lines()
                .filter_map(|line| line.strip_prefix("E: Failed to fetch "))
                .filter_map(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
                .collect();
            return Cause::BadPackage(files);
        }
    }
    dpkg::classify(output)
}

fn failed(action: &'static str, packages: &[String], root: &Root, ran: &Ran) -> crate::NativeError {
    tool_failure(
        "apt-get",
        action,
        packages,
        root,
        ran,
        classify(&ran.combined()),
    )
}

impl PackageManager for Apt {
    fn backend(&self) -> Backend {
        Backend::Apt
    }

    fn prepare(&self, root: &Root) -> Result<()> {
        dpkg::init_db(root)?;
        root.create_dirs(&[
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/opm",
        ])?;
        if !root.is_host() {
            root.write_file(CONFIG_FILE, &config(root))?;
        }
        root.write_file(SOURCES_FILE, &sources(&self.options.repos))
    }

    fn install(&self, root: &Root, packages: &[String]) -> Result<()> {
        let packages = &files::check_names(packages)?;
        if packages.is_empty() {
            return Ok(());
        }
        let purpose = format!("apt-get install {}", packages.join(", "));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.prepare(root)?;
        dpkg::recover(root, packages, &self.options)?;
        let ran = run_waiting(
            &update_command(root).within(self.options.run_timeout),
            self.options.lock_timeout,
        )?;
        if !ran.success() {
            return Err(failed("update the package lists for", packages, root, &ran));
        }
        let ran = run_waiting(
            &install_command(root, packages).within(self.options.run_timeout),
            self.options.lock_timeout,
        )?;
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
        let purpose = format!("apt-get install {}", dpkg::versioned_list(packages));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.prepare(root)?;
        dpkg::recover(root, &names, &self.options)?;
        let ran = run_waiting(
            &update_command(root).within(self.options.run_timeout),
            self.options.lock_timeout,
        )?;
        if !ran.success() {
            return Err(failed("update the package lists for", &names, root, &ran));
        }
        let ran = run_waiting(
            &install_versions_command(root, packages).within(self.options.run_timeout),
            self.options.lock_timeout,
        )?;
        if ran.success() {
            Ok(())
        } else {
            Err(failed("install", &names, root, &ran))
        }
    }

    fn remove(&self, root: &Root, packages: &[String]) -> Result<()> {
        let packages = &files::check_names(packages)?;
        let purpose = format!("apt-get remove {}", packages.join(", "));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.prepare(root)?;
        dpkg::recover(root, packages, &self.options)?;
        let present: Vec<String> = dpkg::states(root, packages)?
            .into_iter()
            .filter(|state| state.status != "config-files")
            .map(|state| state.package.name)
            .collect();
        if present.is_empty() {
            return Ok(());
        }
        let ran = run_waiting(
            &remove_command(root, &present).within(self.options.run_timeout),
            self.options.lock_timeout,
        )?;
        if ran.success() {
            Ok(())
        } else {
            Err(failed("remove", &present, root, &ran))
        }
    }

    fn query(&self, root: &Root, packages: &[String]) -> Result<Vec<InstalledPackage>> {
        let packages = &files::check_names(packages)?;
        if packages.is_empty() || !root.join("var/lib/dpkg/status").exists() {
            return Ok(Vec::new());
        }
        dpkg::installed(root, packages)
    }

    fn inventory(&self, root: &Root, packages: &[String]) -> Result<Inventory> {
        dpkg::inventory(root, packages, Backend::Apt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_config_keeps_apt_and_dpkg_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let r = root.as_str();
        assert_eq!(
            config(&root),
            format!(
                "// Written by opm: apt confined to this root.\n\
                 Dir \"{r}/\";\n\
                 Dir::State::status \"{r}/var/lib/dpkg/status\";\n\
                 APT::Sandbox::User \"root\";\n\
                 DPkg::Options {{ \"--root={r}\"; \"--log={r}/var/log/dpkg.log\"; \"--force-script-chrootless\"; }};\n\
                 Acquire::Languages \"none\";\n"
            )
        );
        let install = install_command(&root, &["b".into()]);
        assert_eq!(install.program, "apt-get");
        assert_eq!(
            install.args,
            ["-q", "-y", "--no-install-recommends", "install", "b"]
        );
        assert_eq!(
            install.env,
            [
                ("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned()),
                ("APT_CONFIG".to_owned(), format!("{r}/var/lib/opm/apt.conf")),
            ]
        );
        assert_eq!(update_command(&root).args, ["-q", "update"]);
        assert_eq!(
            remove_command(&root, &["a".into(), "b".into()]).args,
            ["-q", "-y", "remove", "a", "b"]
        );
    }

    #[test]
    fn the_host_uses_its_own_configuration_and_refreshes_only_opm_sources() {
        let install = install_command(&Root::host(), &["b".into()]);
        assert_eq!(
            install.env,
            [("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())]
        );
        assert_eq!(
            update_command(&Root::host()).args,
            [
                "-q",
                "-o=Dir::Etc::SourceList=/etc/apt/sources.list.d/opm.list",
                "-o=Dir::Etc::SourceParts=-",
                "-o=APT::Get::List-Cleanup=0",
                "update"
            ]
        );
    }

    #[test]
    fn lists_every_repository_as_a_source() {
        let repos = [
            Repo::Dir("/srv/repo".into()),
            Repo::AptLine("deb http://deb.debian.org/debian bookworm main".into()),
        ];
        assert_eq!(
            sources(&repos),
            "# Written by opm from its --repo settings.\n\
             deb [trusted=yes] file:/srv/repo ./\n\
             deb http://deb.debian.org/debian bookworm main\n"
        );
    }

    #[test]
    fn recognises_missing_packages_unmet_dependencies_and_damaged_downloads() {
        assert_eq!(
            classify(
                "Reading package lists...\nE: Unable to locate package nosuch\nE: Unable to locate package other\n"
            ),
            Cause::NotFound(vec!["nosuch".into(), "other".into()])
        );
        assert_eq!(
            classify("E: Package 'x' has no installation candidate\n"),
            Cause::NotFound(vec!["x".into()])
        );
        assert_eq!(
            classify(
                "The following packages have unmet dependencies:\n b : Depends: a (>= 2.0) but 1.0-1 is to be installed\nE: Unable to correct problems, you have held broken packages.\n"
            ),
            Cause::Unsatisfiable
        );
        assert_eq!(
            classify(
                "W: GPG error: file:/r ./ InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 997558171B06CC69\nE: The repository 'file:/r ./ InRelease' is not signed.\n"
            ),
            Cause::Unverified
        );
        assert_eq!(
            classify("E: The repository 'file:/r ./ Release' is not signed.\n"),
            Cause::Unverified
        );
        assert_eq!(
            classify("E: Failed to fetch file:/r/./a_1_all.deb  Size mismatch\n"),
            Cause::BadPackage(vec!["file:/r/./a_1_all.deb".into()])
        );
        assert_eq!(
            classify("E: Sub-process /usr/bin/dpkg returned an error code (1)\n"),
            Cause::Other
        );
    }
}
