//! Plain dpkg: installs `.deb` files found in local repository
//! directories, with no dependency resolution. A missing dependency is
//! reported as such, and what the failed transaction added (installed or
//! left unpacked) is purged again so the root is as it was.
//!
//! The dpkg database setup and the query are shared with the apt backend.

use std::time::{Duration, Instant};

use opm_model::{Inventory, Presence};

use crate::command::{Invocation, Ran};
use crate::error::{Cause, Result};
use crate::files::{self, Family};
use crate::lock::RootLock;
use crate::manager::{Backend, InstalledPackage, Options, PackageManager, Versioned, tool_failure};
use crate::root::Root;

/// The dpkg backend.
#[derive(Debug, Clone)]
pub struct Dpkg {
    options: Options,
}

impl Dpkg {
    /// A dpkg backend reading the repository directories of `options`.
    #[must_use]
    pub fn new(options: Options) -> Self {
        Self { options }
    }
}

/// The directories and the empty status file of a new dpkg database.
pub fn init_db(root: &Root) -> Result<()> {
    root.create_dirs(&[
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "var/log",
    ])?;
    root.touch("var/lib/dpkg/status")?;
    root.touch("var/lib/dpkg/available")
}

/// The options every dpkg run on `root` takes: the root, a log inside it
/// (never the host's), and, for a root without a shell, running package
/// scripts on the host with `DPKG_ROOT` instead of chrooting into nothing.
#[must_use]
pub fn root_options(root: &Root) -> Vec<String> {
    let mut options = Vec::new();
    if !root.is_host() {
        options.push(format!("--root={}", root.as_str()));
    }
    options.push(format!("--log={}", root.join_str("var/log/dpkg.log")));
    if !root.has_shell() {
        options.push("--force-script-chrootless".to_owned());
    }
    options
}

/// `dpkg --install FILE…`, one transaction.
#[must_use]
pub fn install_command(root: &Root, files: &[String]) -> Invocation {
    Invocation::new("dpkg")
        .args(root_options(root))
        .args(["--install"])
        .args(files.iter().cloned())
}

/// `dpkg --remove NAME…` (configuration files are kept, as `apt-get remove` does).
#[must_use]
pub fn remove_command(root: &Root, names: &[String]) -> Invocation {
    Invocation::new("dpkg")
        .args(root_options(root))
        .args(["--remove"])
        .args(names.iter().cloned())
}

/// `dpkg --purge NAME…`, used to take back what a failed install added.
#[must_use]
pub fn purge_command(root: &Root, names: &[String]) -> Invocation {
    Invocation::new("dpkg")
        .args(root_options(root))
        .args(["--purge"])
        .args(names.iter().cloned())
}

/// `dpkg --configure --pending`: finishes what an interrupted run left in
/// the database journal (`var/lib/dpkg/updates`).
#[must_use]
pub fn recover_command(root: &Root) -> Invocation {
    Invocation::new("dpkg")
        .args(root_options(root))
        .args(["--configure", "--pending"])
}

/// The `dpkg-query` format: one tab-separated line per package.
pub const QUERY_FORMAT: &str = "${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\n";

/// `dpkg-query --show` of the named packages.
#[must_use]
pub fn query_command(root: &Root, names: &[String]) -> Invocation {
    let mut command = Invocation::new("dpkg-query");
    if !root.is_host() {
        command = command.args([format!("--root={}", root.as_str())]);
    }
    command
        .args(["--show".to_owned(), format!("--showformat={QUERY_FORMAT}")])
        .args(names.iter().cloned())
}

/// One package of a `dpkg-query` answer with its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageState {
    /// The package as recorded.
    pub package: InstalledPackage,
    /// dpkg's state word: `installed`, `unpacked`, `half-installed`, `config-files`, …
    pub status: String,
}

/// Reads the output of [`query_command`].
#[must_use]
pub fn parse_query(stdout: &str) -> Vec<PackageState> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (name, version, arch, status) = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next()?,
            );
            if fields.next().is_some() || name.is_empty() || status == "not-installed" {
                return None;
            }
            Some(PackageState {
                package: InstalledPackage {
                    name: name.to_owned(),
                    version: version.to_owned(),
                    arch: arch.to_owned(),
                },
                status: status.to_owned(),
            })
        })
        .collect()
}

/// Who holds dpkg's own database lock, when a run failed on it: dpkg's
/// and apt's messages, with the holder's process id where they give it.
#[must_use]
pub fn lock_holder(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        if let Some((_, pid)) = line.split_once("lock was locked by another process with pid ") {
            return Some(format!("process {}", pid.trim()));
        }
        if line.starts_with("E: Could not get lock ") {
            return Some(match line.split_once("It is held by ") {
                Some((_, holder)) => holder.trim().to_owned(),
                None => "another process".to_owned(),
            });
        }
        None
    })
}

/// Runs a dpkg or apt-get command, trying again while another process holds
/// dpkg's database lock, for up to `timeout`. A dpkg that outlived a killed
/// opm (apt runs it in its own session) finishes on its own; waiting for it
/// beats failing.
///
/// # Errors
/// [`crate::NativeError::ToolMissing`].
pub fn run_waiting(command: &Invocation, timeout: Duration) -> Result<Ran> {
    let started = Instant::now();
    loop {
        let ran = command.run()?;
        let locked = !ran.success() && lock_holder(&ran.combined()).is_some();
        if !locked || started.elapsed() >= timeout {
            return Ok(ran);
        }
        tracing::info!(command = %command.display(), "waiting for the dpkg database lock");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What a failed dpkg run's output says went wrong.
#[must_use]
pub fn classify(output: &str) -> Cause {
    if let Some(holder) = lock_holder(output) {
        return Cause::Locked(holder);
    }
    let mut missing = Vec::new();
    for line in output.lines() {
        // " b depends on a (>= 1.0); however:"
        if let Some(rest) = line.trim().strip_suffix("; however:") {
            for relation in [" depends on ", " pre-depends on "] {
                if let Some((package, dependency)) = rest.split_once(relation) {
                    missing.push((package.to_owned(), dependency.to_owned()));
                }
            }
        }
    }
    if !missing.is_empty() {
        return Cause::MissingDependency(missing);
    }
    let damaged = [
        "is not a Debian format archive",
        "corrupted",
        "unexpected end of file",
        "short read",
    ];
    if damaged.iter().any(|needle| output.contains(needle)) {
        let files = output
            .lines()
            .filter_map(|line| line.strip_prefix("dpkg: error processing archive "))
            .filter_map(|rest| rest.split(" (--").next())
            .map(str::to_owned)
            .collect();
        return Cause::BadPackage(files);
    }
    Cause::Other
}

/// The states of the named packages in `root`.
///
/// # Errors
/// A [`crate::NativeError::Tool`] failure when dpkg-query cannot read the database.
pub fn states(root: &Root, names: &[String]) -> Result<Vec<PackageState>> {
    let ran = query_command(root, names).run()?;
    // dpkg-query exits 1 when some name is unknown, which only means
    // "not installed"; the database itself failing says "dpkg-query: error".
    if !ran.success() && ran.stderr.contains("dpkg-query: error") {
        return Err(tool_failure(
            "dpkg-query",
            "query",
            names,
            root,
            &ran,
            Cause::Other,
        ));
    }
    Ok(parse_query(&ran.stdout))
}

/// The fully installed packages among `names`.
///
/// # Errors
/// As for [`states`].
pub fn installed(root: &Root, names: &[String]) -> Result<Vec<InstalledPackage>> {
    Ok(states(root, names)?
        .into_iter()
        .filter(|state| state.status == "installed")
        .map(|state| state.package)
        .collect())
}

/// The database file of a dpkg root.
pub const STATUS_FILE: &str = "var/lib/dpkg/status";

/// What dpkg's state word means for verify: `installed` is installed,
/// `config-files` (removed, configuration left) is missing, anything else
/// is a package dpkg left partly installed.
#[must_use]
pub fn presence(state: PackageState) -> Presence {
    match state.status.as_str() {
        "installed" => Presence::Installed {
            version: state.package.version,
        },
        "config-files" | "not-installed" => Presence::Missing,
        _ => Presence::Partial {
            version: state.package.version,
            state: state.status,
        },
    }
}

/// What the dpkg database of `root` says about each of `names`, in one
/// `dpkg-query` run; shared with the apt backend.
///
/// # Errors
/// [`crate::NativeError::InvalidPackageName`], [`crate::NativeError::NoDatabase`],
/// [`crate::NativeError::ToolMissing`] or a tool failure of dpkg-query.
pub fn inventory(root: &Root, names: &[String], backend: Backend) -> Result<Inventory> {
    let names = &files::check_names(names)?;
    if names.is_empty() {
        return Ok(Inventory::default());
    }
    let database = root.join(STATUS_FILE);
    if !database.exists() {
        return Err(crate::NativeError::NoDatabase {
            root: root.path().to_owned(),
            backend: backend.as_str(),
            database,
        });
    }
    let found = states(root, names)?
        .into_iter()
        .map(|state| (state.package.name.clone(), presence(state)));
    Ok(Inventory::new(names, found))
}

/// Finishes an interrupted earlier run before a new one starts, as apt
/// does; dpkg refuses to work otherwise.
///
/// # Errors
/// A [`crate::NativeError::Tool`] failure with dpkg's output.
pub fn recover(root: &Root, packages: &[String], options: &Options) -> Result<()> {
    let journal = root.join("var/lib/dpkg/updates");
    let pending = std::fs::read_dir(&journal)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false);
    if !pending {
        return Ok(());
    }
    tracing::warn!(root = %root.path().display(), "finishing an interrupted dpkg run");
    let ran = run_waiting(
        &recover_command(root).within(options.run_timeout),
        options.lock_timeout,
    )?;
    if ran.success() {
        Ok(())
    } else {
        Err(tool_failure(
            "dpkg",
            "recover an interrupted run before handling",
            packages,
            root,
            &ran,
            classify(&ran.combined()),
        ))
    }
}

/// Purges what a failed transaction added. dpkg installs what it can and
/// leaves the rest unpacked, but opm's transaction is all or nothing: every
/// package that was not present before goes (one that only had its
/// configuration files left is back to that).
fn roll_back(root: &Root, names: &[String], before: &[PackageState], options: &Options) {
    let present = |state: &PackageState| state.status != "config-files";
    let Ok(after) = states(root, names) else {
        return;
    };
    let added: Vec<String> = after
        .into_iter()
        .filter(present)
        .filter(|state| {
            !before
                .iter()
                .any(|old| old.package.name == state.package.name && present(old))
        })
        .map(|state| state.package.name)
        .collect();
    if added.is_empty() {
        return;
    }
    match run_waiting(
        &purge_command(root, &added).within(options.run_timeout),
        options.lock_timeout,
    ) {
        Ok(ran) if ran.success() => {}
        Ok(ran) => tracing::warn!(output = %ran.combined(), "rollback failed"),
        Err(error) => tracing::warn!(%error, "rollback failed"),
    }
}

fn failed(action: &'static str, packages: &[String], root: &Root, ran: &Ran) -> crate::NativeError {
    tool_failure(
        "dpkg",
        action,
        packages,
        root,
        ran,
        classify(&ran.combined()),
    )
}

/// `name=version, …`, as messages list versioned packages.
pub(crate) fn versioned_list(packages: &[Versioned]) -> String {
    let listed: Vec<String> = packages
        .iter()
        .map(|p| format!("{}={}", p.name, p.version))
        .collect();
    listed.join(", ")
}

impl Dpkg {
    /// Installs `found` (the files of `packages`) under the root's lock,
    /// which the caller holds. `dpkg --install` of another version of an
    /// installed package is dpkg's upgrade (or downgrade) in place; with
    /// `skip_same`, a file whose version is installed already is left out,
    /// so asking again for the version in place runs nothing.
    fn install_files(
        &self,
        root: &Root,
        packages: &[String],
        found: &[(files::PackageFile, std::path::PathBuf)],
        skip_same: bool,
    ) -> Result<()> {
        init_db(root)?;
        recover(root, packages, &self.options)?;
        let before = states(root, packages)?;
        let files: Vec<String> = found
            .iter()
            .filter(|(file, _)| {
                !skip_same
                    || !before.iter().any(|state| {
                        state.status == "installed"
                            && state.package.name == file.name
                            && files::file_has_version(Family::Deb, file, &state.package.version)
                    })
            })
            .map(|(_, path)| path.display().to_string())
            .collect();
        if files.is_empty() {
            return Ok(());
        }
        let ran = run_waiting(
            &install_command(root, &files).within(self.options.run_timeout),
            self.options.lock_timeout,
        )?;
        if ran.success() {
            return Ok(());
        }
        roll_back(root, packages, &before, &self.options);
        Err(failed("install", packages, root, &ran))
    }
}

impl PackageManager for Dpkg {
    fn backend(&self) -> Backend {
        Backend::Dpkg
    }

    fn prepare(&self, root: &Root) -> Result<()> {
        init_db(root)
    }

    fn install(&self, root: &Root, packages: &[String]) -> Result<()> {
        let packages = &files::check_names(packages)?;
        if packages.is_empty() {
            return Ok(());
        }
        let found = files::find(Family::Deb, "dpkg", &self.options.repos, packages, root)?;
        let purpose = format!("dpkg install {}", packages.join(", "));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.install_files(root, packages, &found, false)
    }

    fn install_versions(&self, root: &Root, packages: &[Versioned]) -> Result<()> {
        let packages = &files::check_versioned(packages)?;
        if packages.is_empty() {
            return Ok(());
        }
        let found = files::find_versions(Family::Deb, "dpkg", &self.options.repos, packages, root)?;
        let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        let purpose = format!("dpkg install {}", versioned_list(packages));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        self.install_files(root, &names, &found, true)
    }

    fn remove(&self, root: &Root, packages: &[String]) -> Result<()> {
        let packages = &files::check_names(packages)?;
        let purpose = format!("dpkg remove {}", packages.join(", "));
        let _lock = RootLock::acquire(root, &purpose, self.options.lock_timeout)?;
        init_db(root)?;
        recover(root, packages, &self.options)?;
        let present: Vec<String> = states(root, packages)?
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
        // A root without a database has nothing installed; a query never
        // writes, so it also answers for a read-only root.
        if packages.is_empty() || !root.join("var/lib/dpkg/status").exists() {
            return Ok(Vec::new());
        }
        installed(root, packages)
    }

    fn inventory(&self, root: &Root, packages: &[String]) -> Result<Inventory> {
        inventory(root, packages, Backend::Dpkg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        (dir, root)
    }

    #[test]
    fn a_sandbox_run_names_the_root_its_own_log_and_runs_scripts_chrootless() {
        let (_dir, root) = sandbox();
        let r = root.as_str();
        let command = install_command(&root, &["/repo/a_1_all.deb".into()]);
        assert_eq!(command.program, "dpkg");
        assert_eq!(
            command.args,
            [
                format!("--root={r}"),
                format!("--log={r}/var/log/dpkg.log"),
                "--force-script-chrootless".into(),
                "--install".into(),
                "/repo/a_1_all.deb".into(),
            ]
        );
        let names = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            remove_command(&root, &names).args[3..],
            ["--remove", "a", "b"]
        );
        assert_eq!(
            purge_command(&root, &names).args[3..],
            ["--purge", "a", "b"]
        );
        assert_eq!(
            recover_command(&root).args[3..],
            ["--configure", "--pending"]
        );
    }

    #[test]
    fn an_image_with_a_shell_runs_scripts_chrooted() {
        let (dir, root) = sandbox();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/sh"), "").unwrap();
        assert!(!root_options(&root).contains(&"--force-script-chrootless".to_owned()));
    }

    #[test]
    fn the_host_root_is_not_named_but_the_log_always_is() {
        let root = Root::host();
        assert_eq!(root_options(&root), ["--log=/var/log/dpkg.log"]);
        let query = query_command(&root, &["a".into()]);
        assert_eq!(query.program, "dpkg-query");
        assert_eq!(
            query.args,
            [
                "--show".to_owned(),
                format!("--showformat={QUERY_FORMAT}"),
                "a".into()
            ]
        );
    }

    #[test]
    fn parses_the_query_and_keeps_states() {
        let states = parse_query(
            "a\t1.0-1\tall\tinstalled\nb\t1.0-1\tamd64\tunpacked\nc\t\t\tnot-installed\n\ngarbage\n",
        );
        assert_eq!(states.len(), 2);
        assert_eq!(
            states[0].package,
            InstalledPackage {
                name: "a".into(),
                version: "1.0-1".into(),
                arch: "all".into()
            }
        );
        assert_eq!(states[1].status, "unpacked");
    }

    #[test]
    fn dpkg_states_map_to_presence() {
        let state = |status: &str| PackageState {
            package: InstalledPackage {
                name: "a".into(),
                version: "1:2.0-1".into(),
                arch: "all".into(),
            },
            status: status.into(),
        };
        assert_eq!(
            presence(state("installed")),
            Presence::Installed {
                version: "1:2.0-1".into()
            }
        );
        assert_eq!(presence(state("config-files")), Presence::Missing);
        assert_eq!(
            presence(state("half-configured")),
            Presence::Partial {
                version: "1:2.0-1".into(),
                state: "half-configured".into()
            }
        );
    }

    #[test]
    fn recognises_missing_dependencies_and_damaged_archives() {
        let missing = "dpkg: dependency problems prevent configuration of b:\n b depends on a (>= 1.0); however:\n  Package a is not installed.\n";
        assert_eq!(
            classify(missing),
            Cause::MissingDependency(vec![("b".into(), "a (>= 1.0)".into())])
        );
        let damaged = "dpkg-deb: error: '/r/x_1_all.deb' is not a Debian format archive\ndpkg: error processing archive /r/x_1_all.deb (--install):\n dpkg-deb --control subprocess returned error exit status 2\n";
        assert_eq!(
            classify(damaged),
            Cause::BadPackage(vec!["/r/x_1_all.deb".into()])
        );
        assert_eq!(classify("dpkg: error: something else"), Cause::Other);
    }

    #[test]
    fn names_who_holds_the_database_lock() {
        assert_eq!(
            lock_holder(
                "dpkg: error: dpkg database lock was locked by another process with pid 2738\nNote: removing the lock file is always wrong\n"
            ),
            Some("process 2738".to_owned())
        );
        assert_eq!(
            lock_holder(
                "E: Could not get lock /r/var/lib/dpkg/lock-frontend. It is held by process 1234 (dpkg)\n"
            ),
            Some("process 1234 (dpkg)".to_owned())
        );
        assert_eq!(
            lock_holder(
                "E: Could not get lock /var/lib/dpkg/lock - open (11: Resource temporarily unavailable)\n"
            ),
            Some("another process".to_owned())
        );
        assert_eq!(lock_holder("dpkg: error: something else"), None);
        assert_eq!(
            classify("dpkg: error: dpkg frontend lock was locked by another process with pid 9\n"),
            Cause::Locked("process 9".to_owned())
        );
    }

    #[test]
    fn does_not_wait_for_a_failure_that_is_not_the_lock() {
        let started = Instant::now();
        let ran = run_waiting(
            &Invocation::new("sh").args(["-c", "echo 'dpkg: error: other'; exit 2"]),
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(!ran.success());
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn waits_while_the_lock_is_held_then_gives_the_last_answer() {
        let script = "echo 'dpkg: error: dpkg database lock was locked by another process with pid 1' >&2; exit 2";
        let ran = run_waiting(
            &Invocation::new("sh").args(["-c", script]),
            Duration::from_millis(500),
        )
        .unwrap();
        assert_eq!(
            classify(&ran.combined()),
            Cause::Locked("process 1".to_owned())
        );
    }
}
