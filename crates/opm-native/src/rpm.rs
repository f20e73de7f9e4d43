//! Plain rpm with `--root`/`--dbpath`: installs `.rpm` files found in local
//! repository directories in one transaction. rpm checks dependencies before
//! it changes anything, so a missing one leaves the root untouched.
//!
//! The database setup and the query are shared with the dnf backend. Both
//! keep a sandbox root's database at `var/lib/rpm`, named explicitly,
//! because Debian's rpm would otherwise use `~/.rpmdb`.

use std::sync::OnceLock;

use opm_model::{Inventory, Presence};

use crate::command::{Invocation, Ran};
use crate::error::{Cause, Result};
use crate::files::{self, Family};
use crate::lock::RootLock;
use crate::manager::{Backend, InstalledPackage, Options, PackageManager, Versioned, tool_failure};
use crate::root::Root;

/// The rpm backend.
#[derive(Debug, Clone)]
pub struct Rpm {
    options: Options,
}

impl Rpm {
    /// An rpm backend reading the repository directories of `options`.
    #[must_use]
    pub fn new(options: Options) -> Self {
        Self { options }
    }
}

/// The database path, inside the root.
pub const DB_PATH: &str = "/var/lib/rpm";

/// A home directory inside the root whose `.rpmmacros` sets [`DB_PATH`], for
/// tools (dnf) that take no `--dbpath`.
pub const MACROS_HOME: &str = "var/lib/opm/rpm";

/// The options every rpm run on `root` takes.
#[must_use]
pub fn root_options(root: &Root) -> Vec<String> {
    if root.is_host() {
        Vec::new()
    } else {
        vec![
            "--root".to_owned(),
            root.as_str().to_owned(),
            "--dbpath".to_owned(),
            DB_PATH.to_owned(),
        ]
    }
}

/// How a transaction runs in `root`: Debian's rpm refuses to change
/// anything without `--force-debian`, and a root without a shell cannot run
/// scriptlets (rpm always chroots for them).
#[must_use]
pub fn change_options(root: &Root, force_debian: bool) -> Vec<String> {
    let mut options = root_options(root);
    if force_debian {
        options.push("--force-debian".to_owned());
    }
    if !root.has_shell() {
        options.push("--noscripts".to_owned());
    }
    options
}

/// `rpm --initdb`: an empty database.
#[must_use]
pub fn initdb_command(root: &Root) -> Invocation {
    Invocation::new("rpm")
        .args(root_options(root))
        .args(["--initdb"])
}

/// `rpm --upgrade FILE…`: installs, or replaces an older version, in one
/// transaction.
#[must_use]
pub fn install_command(root: &Root, force_debian: bool, files: &[String]) -> Invocation {
    Invocation::new("rpm")
        .args(change_options(root, force_debian))
        .args(["--upgrade", "--verbose"])
        .args(files.iter().cloned())
}

/// `rpm --erase NAME…`, one transaction.
#[must_use]
pub fn erase_command(root: &Root, force_debian: bool, names: &[String]) -> Invocation {
    Invocation::new("rpm")
        .args(change_options(root, force_debian))
        .args(["--erase"])
        .args(names.iter().cloned())
}

/// The query format: name, `[epoch:]version-release`, arch, tab-separated.
pub const QUERY_FORMAT: &str = "%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n";

/// `rpm --query` of the named packages.
#[must_use]
pub fn query_command(root: &Root, names: &[String]) -> Invocation {
    Invocation::new("rpm")
        .args(root_options(root))
        .args([
            "--query".to_owned(),
            "--queryformat".to_owned(),
            QUERY_FORMAT.to_owned(),
        ])
        .args(names.iter().cloned())
}

/// Reads the output of [`query_command`]; lines such as `package x is not
/// installed` are skipped.
#[must_use]
pub fn parse_query(stdout: &str) -> Vec<InstalledPackage> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (name, version, arch) = (fields.next()?, fields.next()?, fields.next()?);
            if fields.next().is_some() || name.is_empty() || version.is_empty() {
                return None;
            }
            Some(InstalledPackage {
                name: name.to_owned(),
                version: version.to_owned(),
                arch: arch.to_owned(),
            })
        })
        .collect()
}

/// What a failed rpm run's output says went wrong.
#[must_use]
pub fn classify(output: &str) -> Cause {
    // "error: Failed dependencies:" then "\ta >= 1.0 is needed by b-1.0-1.noarch"
    let missing: Vec<(String, String)> = output
        .lines()
        .filter(|line| line.starts_with('\t') || line.starts_with("    "))
        .filter_map(|line| line.trim().split_once(" is needed by "))
        .map(|(dependency, package)| {
            let package = package.trim_start_matches("(installed) ");
            (package.to_owned(), dependency.to_owned())
        })
        .collect();
    if !missing.is_empty() {
        return Cause::MissingDependency(missing);
    }
    let damaged: Vec<String> = output
        .lines()
        .filter_map(|line| line.strip_prefix("error: "))
        .filter_map(|rest| {
            let file = rest
                .strip_suffix(" cannot be installed")
                .or_else(|| rest.strip_suffix(": not an rpm package (or package manifest)"))
                .or_else(|| {
                    rest.split_once(": not an rpm package")
                        .map(|(file, _)| file)
                })?;
            Some(file.to_owned())
        })
        .collect();
    if !damaged.is_empty() {
        return Cause::BadPackage(damaged);
    }
    Cause::Other
}

/// Whether an installed `[epoch:]version-release` is the file's `version-release`.
#[must_use]
pub fn same_version(installed: &str, file: &str) -> bool {
    let without_epoch = installed
        .split_once(':')
        .map_or(installed, |(_, rest)| rest);
    without_epoch == file
}

/// Whether a failed install met the leftovers of a run killed in the same
/// second: rpm names temporary files `PATH;TRANSACTION-ID`, and the id is
/// the time in seconds. rpm says so in full; dnf only reports that
/// unpacking failed.
#[must_use]
pub fn is_temp_name_collision(output: &str) -> bool {
    (output.contains("unpacking of archive failed") && output.contains("cpio: open failed"))
        || output.contains("Error unpacking rpm package")
}

/// Runs an install, once more in the next second when it met the temporary
/// files of a run killed in this one (see [`is_temp_name_collision`]); a
/// package that cannot be unpacked for any other reason fails again alike.
///
/// # Errors
/// As for [`Invocation::run`].
pub fn run_install(command: &Invocation) -> Result<Ran> {
    let ran = command.run()?;
    if ran.success() || !is_temp_name_collision(&ran.combined()) {
        return Ok(ran);
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    command.run()
}

/// Whether `rpm --help` lists Debian's `--force-debian`.
#[must_use]
pub fn help_has_force_debian(help: &str) -> bool {
    help.contains("--force-debian")
}

/// Whether this machine's rpm is Debian's, asked once per process.
fn force_debian() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        Invocation::new("rpm")
            .args(["--help"])
            .run()
            .is_ok_and(|ran| help_has_force_debian(&ran.stdout))
    })
}

fn has_db(root: &Root) -> bool {
    let dir = root.join(DB_PATH.trim_start_matches('/'));
    ["rpmdb.sqlite", "Packages", "Packages.db"]
        .iter()
        .any(|file| dir.join(file).exists())
}

/// Gives a sandbox root an empty rpm database and the macros home.
///
/// # Errors
/// [`crate::NativeError::RootNotWritable`] or a tool failure of `rpm --initdb`.
pub fn init_db(root: &Root) -> Result<()> {
    if root.is_host() {
        return Ok(());
    }
    root.create_dirs(&[DB_PATH.trim_start_matches('/'), MACROS_HOME, "var/log"])?;
    root.write_file(
        &format!("{MACROS_HOME}/.rpmmacros"),
        &format!("%_dbpath {DB_PATH}\n"),
    )?;
    if has_db(root) {
        return Ok(());
    }
    let ran = initdb_command(root).run()?;
    if ran.success() {
        Ok(())
    } else {
        Err(tool_failure(
            "rpm",
            "create a package database for",
            &[],
            root,
            &ran,
            Cause::Other,
        ))
    }
}

/// The installed packages among `names`; nothing for a root without a
/// database (a query never writes).
///
/// # Errors
/// A [`crate::NativeError::Tool`] failure when rpm cannot read the database.
pub fn installed(root: &Root, names: &[String]) -> Result<Vec<InstalledPackage>> {
    if names.is_empty() || (!root.is_host() && !has_db(root)) {
        return Ok(Vec::new());
    }
    let ran = query_command(root, names).run()?;
    // The exit status counts the names that are not installed; only an
    // "error:" line means the database could not be read.
    if !ran.success() && ran.stderr.contains("error:") {
        return Err(tool_failure(
            "rpm",
            "query",
            names,
            root,
            &ran,
            Cause::Other,
        ));
    }
    Ok(parse_query(&ran.stdout))
}

/// What the rpm database of `root` says about each of `names`, in one
/// `rpm --query` run; shared with the dnf backend. rpm has no partly
/// installed state: a package is in the database or it is not.
///
/// # Errors
/// [`crate::NativeError::InvalidPackageName`], [`crate::NativeError::NoDatabase`],
/// [`crate::NativeError::ToolMissing`] or a tool failure of rpm.
pub fn inventory(root: &Root, names: &[String], backend: Backend) -> Result<Inventory> {
    let names = &files::check_names(names)?;
    if names.is_empty() {
        return Ok(Inventory::default());
    }
    if !root.is_host() && !has_db(root) {
        return Err(crate::NativeError::NoDatabase {
            root: root.path().to_owned(),
            backend: backend.as_str(),
            database: root.join(DB_PATH.trim_start_matches('/')),
        });
    }
    let found = installed(root, names)?.into_iter().map(|package| {
        (
            package.name,
            Presence::Installed {
                version: package.version,
            },
        )
    });
    Ok(Inventory::new(names, found))
}

fn failed(action: &'static str, packages: &[String], root: &Root, ran: &Ran) -> crate::NativeError {
    tool_failure(
        "rpm",
        action,
        packages,
        root,
        ran,
        classify(&ran.combined()),
    )
}

impl Rpm {
    /// Installs `found` (the files of `packages`) under the root's lock,
    /// which the caller holds: `rpm --upgrade` replaces another version in
    /// place; `oldpackage` lets it replace a newer one (a version asked for
    /// is the planner's decision, downgrades included).
    fn install_files(
        &self,
        root: &Root,
        packages: &[String],
        found: &[(files::PackageFile, std::path::PathBuf)],
        oldpackage: bool,
    ) -> Result<()> {
        init_db(root)?;
        // rpm refuses a package that is installed at that very version;
        // installing it again is no change, so it leaves the transaction.
        let present = installed(root, packages)?;
        let files: Vec<String> = found
            .iter()
            .filter(|(file, _)| {
                !present.iter().any(|package| {
                    package.name == file.name && same_version(&package.version, &file.version)
                })
            })
            .map(|(_, path)| path.display().to_string())
            .collect();
        if files.is_empty() {
            return Ok(());
        }
        let command = install_command(root, force_debian(), &files)
            .args(oldpackage.then_some("--oldpackage"))
            .within(self.options.run_timeout);
        let ran = run_install(&command)?;
        if ran.success() {
            Ok(())
        } else {
            Err(failed("install", packages, root, &ran))
        }
    }
}

impl PackageManager for Rpm {
    fn backend(&self) -> Backend {
        Backend::Rpm
    }

    fn prepare(&self, root: &Root) -> Result<()> {
        init_db(root)
    }

    fn install(&self, root: &Root, packages: &[String]) -> Result<()> {
        let packages = &files::check_names(packages)?;
        if packages.is_empty() {
            return Ok(());
        }
        let found = files::find(Family::Rpm, "rpm", &self.options.repos, packages, root)?;
        let purpose = format!("rpm install {}", packages.join(", "));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.install_files(root, packages, &found, false)
    }

    fn install_versions(&self, root: &Root, packages: &[Versioned]) -> Result<()> {
        let packages = &files::check_versioned(packages)?;
        if packages.is_empty() {
            return Ok(());
        }
        let found = files::find_versions(Family::Rpm, "rpm", &self.options.repos, packages, root)?;
        let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        let purpose = format!("rpm install {}", crate::dpkg::versioned_list(packages));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.install_files(root, &names, &found, true)
    }

    fn remove(&self, root: &Root, packages: &[String]) -> Result<()> {
        let packages = &files::check_names(packages)?;
        let purpose = format!("rpm remove {}", packages.join(", "));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        init_db(root)?;
        let present: Vec<String> = installed(root, packages)?
            .into_iter()
            .map(|package| package.name)
            .collect();
        if present.is_empty() {
            return Ok(());
        }
        let ran = erase_command(root, force_debian(), &present)
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
        installed(root, packages)
    }

    fn inventory(&self, root: &Root, packages: &[String]) -> Result<Inventory> {
        inventory(root, packages, Backend::Rpm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_run_names_root_and_database_and_skips_scriptlets() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let r = root.as_str().to_owned();
        let install = install_command(&root, true, &["/repo/a-1-1.noarch.rpm".into()]);
        assert_eq!(install.program, "rpm");
        assert_eq!(
            install.args,
            [
                "--root",
                &r,
                "--dbpath",
                "/var/lib/rpm",
                "--force-debian",
                "--noscripts",
                "--upgrade",
                "--verbose",
                "/repo/a-1-1.noarch.rpm"
            ]
        );
        assert_eq!(
            erase_command(&root, false, &["a".into()]).args,
            [
                "--root",
                &r,
                "--dbpath",
                "/var/lib/rpm",
                "--noscripts",
                "--erase",
                "a"
            ]
        );
        assert_eq!(
            initdb_command(&root).args,
            ["--root", &r, "--dbpath", "/var/lib/rpm", "--initdb"]
        );
        assert_eq!(
            query_command(&root, &["a".into()]).args,
            [
                "--root",
                &r,
                "--dbpath",
                "/var/lib/rpm",
                "--query",
                "--queryformat",
                QUERY_FORMAT,
                "a"
            ]
        );
    }

    #[test]
    fn the_host_keeps_its_own_database_and_scriptlets() {
        assert_eq!(
            install_command(&Root::host(), false, &["/r/a-1-1.noarch.rpm".into()]).args,
            ["--upgrade", "--verbose", "/r/a-1-1.noarch.rpm"]
        );
    }

    #[test]
    fn parses_the_query_and_skips_missing_packages() {
        assert_eq!(
            parse_query("a\t1.0-1\tnoarch\npackage c is not installed\nb\t2:1.0-3\tx86_64\n"),
            [
                InstalledPackage {
                    name: "a".into(),
                    version: "1.0-1".into(),
                    arch: "noarch".into()
                },
                InstalledPackage {
                    name: "b".into(),
                    version: "2:1.0-3".into(),
                    arch: "x86_64".into()
                },
            ]
        );
    }

    #[test]
    fn recognises_missing_dependencies_and_damaged_files() {
        assert_eq!(
            classify("error: Failed dependencies:\n\ta >= 1.0 is needed by b-1.0-1.noarch\n"),
            Cause::MissingDependency(vec![("b-1.0-1.noarch".into(), "a >= 1.0".into())])
        );
        assert_eq!(
            classify(
                "error: Failed dependencies:\n\ta >= 1.0 is needed by (installed) b-1.0-1.noarch\n"
            ),
            Cause::MissingDependency(vec![("b-1.0-1.noarch".into(), "a >= 1.0".into())])
        );
        assert_eq!(
            classify(
                "error: /r/x-1-1.noarch.rpm: signature hdr blob(4388): BAD, read returned 0\nerror: /r/x-1-1.noarch.rpm cannot be installed\n"
            ),
            Cause::BadPackage(vec!["/r/x-1-1.noarch.rpm".into()])
        );
        assert_eq!(
            classify("error: /r/y-1-1.noarch.rpm: not an rpm package (or package manifest)\n"),
            Cause::BadPackage(vec!["/r/y-1-1.noarch.rpm".into()])
        );
        assert_eq!(classify("error: something else\n"), Cause::Other);
    }

    #[test]
    fn compares_versions_with_and_without_epoch_and_spots_collisions() {
        assert!(same_version("1.0-1", "1.0-1"));
        assert!(same_version("2:1.0-1", "1.0-1"));
        assert!(!same_version("1.0-2", "1.0-1"));
        assert!(is_temp_name_collision(
            "error: unpacking of archive failed on file /usr/share/x/README;6b058c89: cpio: open failed - No such file or directory\n"
        ));
        assert!(!is_temp_name_collision(
            "error: unpacking of archive failed on file /x: cpio: Digest mismatch\n"
        ));
        assert!(is_temp_name_collision(
            "Failed:\n  big-1.0-1.noarch\n\nError unpacking rpm package big-1.0-1.noarch\nError: Transaction failed\n"
        ));
    }

    #[test]
    fn tells_debian_rpm_by_its_help() {
        assert!(help_has_force_debian(
            "  --force-debian   force installation on Debian"
        ));
        assert!(!help_has_force_debian("  --nodeps"));
    }
}
