//! Carrying out the actions of one stage on this machine: native packages
//! into the right root, opkg scripts per SPEC §1.7 (held across their own
//! package's removal, [`held`](crate::held)). The head node's engine and a
//! node's agent share this; neither the store nor the network is touched
//! here, so what a stage needs from them (configuration values) is passed in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use opm_model::{Inventory, Name, Part, Row, Script};
use opm_native::script::{ScriptContext, ScriptInvocation, ScriptRunner};
use opm_native::{PackageManager, Root, Versioned};
use opm_plan::{Action, ImageRef, RootRef, RowRole, ScriptArg, Work};
use opm_store::{Outcome, RowAfter};

use crate::held;
use crate::order::{self, InstallBatch};
use crate::output::Output;

/// Bytes of one script's output kept for the history: the store's cap
/// less room for the markers and the stage's own lines, so the store does
/// not cut the two streams' text a second time (which lost the end of
/// stdout and the start of stderr).
const SCRIPT_OUTPUT_BYTES: usize = opm_store::MAX_OUTPUT_BYTES - 4 * 1024;

/// Where an installed opkg keeps its scripts, relative to a root (SPEC §1.7).
pub const PACKAGES_DIR: &str = "usr/lib/oscar/packages";

/// Lines of output quoted in a row's error message.
const MESSAGE_TAIL_LINES: usize = 15;

/// A failed action: the row's error message, the exit code if a command
/// ran, and the full output for history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The row's error message.
    pub message: String,
    /// The exit code of the command that failed, if one ran.
    pub exit_code: Option<i32>,
    /// Output for history beyond what the steps captured, kept whole.
    pub output: String,
    /// Infrastructure trouble (a package manager's lock held elsewhere):
    /// the stage is tried again on a later run, the row never errs.
    pub transient: bool,
}

impl Failure {
    /// A terminal failure without a command exit code or extra output.
    pub fn terminal(message: String) -> Failure {
        Failure {
            message,
            exit_code: None,
            output: String::new(),
            transient: false,
        }
    }
}

/// How a stage's attempt ends, as history and the row record it.
pub fn conclude(
    row: &Row,
    work: &Work,
    mut output: Output,
    failure: Option<Failure>,
) -> (Outcome, RowAfter) {
    if let Some(failure) = &failure {
        output.push_str(&failure.output);
    }
    let (output, output_bytes) = output.into_parts();
    match failure {
        None => (
            Outcome {
                passed: true,
                exit_code: None,
                output,
                output_bytes,
            },
            RowAfter {
                current: Some(work.stage),
                error: None,
                version: work.version.clone(),
            },
        ),
        Some(failure) => (
            Outcome {
                passed: false,
                exit_code: failure.exit_code,
                output,
                output_bytes,
            },
            RowAfter {
                current: row.current,
                // Transient trouble is never a row error.
                error: (!failure.transient).then_some(failure.message),
                version: None,
            },
        ),
    }
}

/// A change to a root's packages, carried to the blocking task.
enum Change {
    /// Install, the newest the repositories hold.
    Install(Vec<String>),
    /// Install at exactly these versions.
    InstallVersions(Vec<Versioned>),
    /// Remove.
    Remove(Vec<String>),
}

/// One stage's script context: which stage, for which row, as which role.
#[derive(Debug, Clone, Copy)]
pub struct StageRun<'a> {
    /// The row worked on.
    pub row: &'a Row,
    /// The role the row is worked in.
    pub role: &'a RowRole,
    /// The stage and its actions.
    pub work: &'a Work,
    /// The attempt number of this stage (1 for the first).
    pub attempt: u32,
}

/// Carries actions out through a package manager and the script runner.
#[derive(Clone)]
pub struct Actor {
    packages: Arc<dyn PackageManager>,
    scripts: ScriptRunner,
    own_root: PathBuf,
    script_timeout: Duration,
}

impl Actor {
    /// An actor installing into `own_root` (`--root`) and images' roots.
    pub fn new(
        packages: Arc<dyn PackageManager>,
        scripts: ScriptRunner,
        own_root: PathBuf,
        script_timeout: Duration,
    ) -> Actor {
        Actor {
            packages,
            scripts,
            own_root,
            script_timeout,
        }
    }

    /// This machine's own root.
    pub fn own_root(&self) -> &Path {
        &self.own_root
    }

    /// The directory a root reference stands for.
    pub fn root_path(&self, root: &RootRef) -> PathBuf {
        match root {
            RootRef::Own => self.own_root.clone(),
            RootRef::Image(image) => image.path.clone(),
        }
    }

    /// Carries out action `index` of the stage, unless it needs the store
    /// (settling configuration values, assigning clients): then `None`,
    /// and the caller does it. `values` are the opkg's configuration values
    /// for scripts; `batched` the opkgs whose part an earlier install
    /// transaction already put in (or an earlier removal took out). A script that ran gives its exit code.
    pub async fn step(
        &self,
        run: StageRun<'_>,
        index: usize,
        values: &BTreeMap<String, String>,
        batched: &BTreeSet<Name>,
        output: &mut Output,
    ) -> Option<Result<Option<i32>, Failure>> {
        let work = run.work;
        let action = work.actions.get(index)?;
        Some(match action {
            // Only a stage's first action joins a batch (see
            // `install_batches`); an upgrade's later install is its own.
            Action::Install { .. } if index == 0 && batched.contains(&work.package) => {
                output
                    .push_str("installed with the other opkgs of this target in one transaction\n");
                self.release_hold(work.actions.first(), &work.package, output)
                    .map(|()| None)
            }
            Action::Install { part, root } => {
                let native = part.native_name(work.package.as_str());
                self.install_call(root, vec![(native, work.version.clone())])
                    .await
                    .and_then(|()| self.release_hold(Some(action), &work.package, output))
                    .map(|()| None)
            }
            Action::Remove { part, root } if batched.contains(&work.package) => {
                output.push_str("removed with the other opkgs of this target in one transaction\n");
                self.clear_package_dir(*part, root, &work.package)
                    .map(|()| None)
            }
            Action::Remove { part, root } => {
                let later = held::scripts_of_part(&work.actions[index + 1..], *part);
                match self.hold(root, &work.package, &later, output) {
                    Ok(()) => self
                        .package_call(false, root, vec![part.native_name(work.package.as_str())])
                        .await
                        .and_then(|()| self.clear_package_dir(*part, root, &work.package))
                        .map(|()| None),
                    Err(failure) => Err(failure),
                }
            }
            Action::RunScript {
                script,
                args,
                chroot,
            } => {
                self.script_step(run, *script, args, chroot.as_ref(), values, output)
                    .await
            }
            Action::SettleConfiguration | Action::AssignClients => return None,
        })
    }

    /// Installs native packages in one transaction, each at its version
    /// when every one has a version (the package manager's upgrade or
    /// downgrade in place, SPEC §1.9), else the newest the repositories
    /// hold; off the async threads (the backends are synchronous).
    pub async fn install_call(
        &self,
        root: &RootRef,
        packages: Vec<(String, Option<String>)>,
    ) -> Result<(), Failure> {
        let versioned: Option<Vec<Versioned>> = packages
            .iter()
            .map(|(name, version)| {
                Some(Versioned {
                    name: name.clone(),
                    version: version.clone()?,
                })
            })
            .collect();
        match versioned {
            Some(versioned) => {
                self.native_call(root, Change::InstallVersions(versioned))
                    .await
            }
            None => {
                let names = packages.into_iter().map(|(name, _)| name).collect();
                self.native_call(root, Change::Install(names)).await
            }
        }
    }

    /// Installs or removes `names` in one transaction, off the async
    /// threads (the backends are synchronous).
    pub async fn package_call(
        &self,
        install: bool,
        root: &RootRef,
        names: Vec<String>,
    ) -> Result<(), Failure> {
        let change = if install {
            Change::Install(names)
        } else {
            Change::Remove(names)
        };
        self.native_call(root, change).await
    }

    async fn native_call(&self, root: &RootRef, change: Change) -> Result<(), Failure> {
        let path = self.root_path(root);
        let image = matches!(root, RootRef::Image(_));
        let packages = Arc::clone(&self.packages);
        tokio::task::spawn_blocking(move || {
            // An image root stored by an older opm may be this machine's
            // own / or a system directory (SPEC §9 trap 7): never install
            // an image's packages there.
            let root = if image {
                Root::image(&path)
            } else {
                Root::new(&path)
            }
            .map_err(native_failure)?;
            packages.prepare(&root).map_err(native_failure)?;
            match &change {
                Change::Install(names) => packages.install(&root, names),
                Change::InstallVersions(versioned) => packages.install_versions(&root, versioned),
                Change::Remove(names) => packages.remove(&root, names),
            }
            .map_err(native_failure)
        })
        .await
        .map_err(|error| {
            Failure::terminal(format!(
                "the package-manager task ended abnormally: {error}"
            ))
        })?
    }

    /// What the package database of `root` says about `names`, in one read
    /// and off the async threads. Never prepares the root: a verify reads
    /// and writes nothing, so a root without a database is an error
    /// ([`opm_native::NativeError::NoDatabase`]), not an empty answer.
    ///
    /// # Errors
    /// The backend's error, or [`opm_native::NativeError::Wait`] when the
    /// blocking task died.
    pub async fn inventory(
        &self,
        root: &RootRef,
        names: Vec<String>,
    ) -> Result<Inventory, opm_native::NativeError> {
        let path = self.root_path(root);
        let image = matches!(root, RootRef::Image(_));
        let packages = Arc::clone(&self.packages);
        tokio::task::spawn_blocking(move || {
            let root = if image {
                Root::image(&path)
            } else {
                Root::new(&path)
            }?;
            packages.inventory(&root, &names)
        })
        .await
        .map_err(|error| opm_native::NativeError::Wait {
            tool: "the package-database read".to_owned(),
            source: std::io::Error::other(error.to_string()),
        })?
    }

    async fn script_step(
        &self,
        run: StageRun<'_>,
        script: Script,
        args: &[ScriptArg],
        chroot: Option<&ImageRef>,
        values: &BTreeMap<String, String>,
        output: &mut Output,
    ) -> Result<Option<i32>, Failure> {
        let package = run.work.package.as_str();
        // The root the script works on, the package dir in it on the host,
        // and the package dir as the script sees it (inside a chroot).
        let root_on_host = match (chroot, run.role) {
            (Some(image), _) | (None, RowRole::Image(image)) => image.path.clone(),
            (None, _) => self.own_root.clone(),
        };
        let dir_on_host = root_on_host.join(PACKAGES_DIR).join(package);
        let dir_seen = match chroot {
            Some(_) => Path::new("/").join(PACKAGES_DIR).join(package),
            None => dir_on_host.clone(),
        };
        let held = held::held_dir(&root_on_host, package);
        let (file_name, restored) = match held::find_script(&dir_on_host, script) {
            Some(name) => (name, None),
            None => match held::find_script(&held, script) {
                // Its package is gone already (SPEC §1.5): run the copy kept
                // before the removal.
                Some(name) => {
                    let restored = held::restore(&held, &dir_on_host, name).map_err(|error| {
                        Failure::terminal(format!(
                            "putting back {name} held in {}: {error}",
                            held.display()
                        ))
                    })?;
                    output.push_str(&format!(
                        "running {name} as held before its package was removed\n"
                    ));
                    (name, Some(restored))
                }
                None => {
                    output.push_str(&format!(
                        "skipped: {} is not shipped in {}\n",
                        script.file_name(),
                        dir_on_host.display()
                    ));
                    return Ok(None);
                }
            },
        };
        let context = ScriptContext {
            stage: run.work.stage,
            target: run.row.target.clone(),
            role: run.role.role(),
            attempt: run.attempt,
            upgrade: run
                .work
                .upgrade()
                .map(|(from, to)| (from.to_owned(), to.to_owned())),
        };
        let mut builder = ScriptInvocation::builder(&dir_seen, file_name, context)
            .site_env(self.scripts.config().env.clone())
            .config(values.clone())
            .timeout(self.script_timeout);
        for arg in args {
            match arg {
                ScriptArg::ImageRoot(image) => builder = builder.arg(image.path.clone()),
            }
        }
        if let Some(image) = chroot {
            builder = builder.chroot(image.path.clone());
        }
        let result = match builder.build() {
            Ok(invocation) => self.run_script(&invocation, output).await,
            Err(error) => Err(Failure::terminal(error.to_string())),
        };
        if let Some(restored) = restored {
            restored.finish(result.is_ok());
        }
        result
    }

    /// Once the opkg's own package (the API part, which owns the package
    /// dir) is removed, removes what opm wrote there, so the directory goes
    /// as the package manager would have taken it.
    fn clear_package_dir(&self, part: Part, root: &RootRef, package: &Name) -> Result<(), Failure> {
        if part != Part::Api {
            return Ok(());
        }
        let dir = self
            .root_path(root)
            .join(PACKAGES_DIR)
            .join(package.as_str());
        crate::config_values::remove_values(&dir).map_err(|error| {
            Failure::terminal(format!(
                "removing what opm wrote into {}: {error}",
                dir.display()
            ))
        })
    }

    /// Once `install` (an install action) put its part in place, drops
    /// what an earlier removal held of that part's scripts (see
    /// [`held::release_part`]).
    fn release_hold(
        &self,
        install: Option<&Action>,
        package: &Name,
        output: &mut Output,
    ) -> Result<(), Failure> {
        let Some(Action::Install { part, root }) = install else {
            return Ok(());
        };
        let held = held::held_dir(&self.root_path(root), package.as_str());
        let dropped = held::release_part(&held, *part).map_err(|error| {
            Failure::terminal(format!(
                "dropping the scripts held in {} by an earlier removal: {error}",
                held.display()
            ))
        })?;
        if !dropped.is_empty() {
            output.push_str(&format!(
                "dropped {} held in {} by an earlier removal: the installed version's scripts run now\n",
                dropped.join(", "),
                held.display()
            ));
        }
        Ok(())
    }

    /// Runs the package-manager transactions that several of `fresh`'s
    /// stages (one target's, none resumed half-way) share: installs, then
    /// removals (see [`order::install_batches`], [`order::remove_batches`]).
    /// Returns the opkgs whose part a batch put in or took out, for
    /// [`Actor::step`]. A failed batch adds nobody: each stage then does
    /// its own part (what the batch did already is no error), so the error
    /// lands on the row that caused it.
    pub async fn batch(&self, fresh: &[Work]) -> BTreeSet<Name> {
        let mut batched = BTreeSet::new();
        for batch in order::install_batches(fresh) {
            if self
                .install_call(&batch.root, batch.native_versions())
                .await
                .is_ok()
            {
                batched.extend(batch.packages);
            }
        }
        let roots: BTreeMap<&Name, &RootRef> = fresh
            .iter()
            .filter_map(|work| {
                work.actions.iter().find_map(|action| match action {
                    Action::Remove { root, .. } => Some((&work.package, root)),
                    _ => None,
                })
            })
            .collect();
        let ships = |package: &Name, script: Script| {
            roots
                .get(package)
                .is_some_and(|root| self.ships(root, package, script))
        };
        for batch in order::remove_batches(fresh, ships) {
            if self.remove_batch(&batch, fresh).await.is_ok() {
                batched.extend(batch.packages);
            }
        }
        batched
    }

    /// One transaction removing several opkgs' parts, each member's later
    /// scripts held first, as its own removal step would.
    async fn remove_batch(&self, batch: &InstallBatch, works: &[Work]) -> Result<(), Failure> {
        for work in works
            .iter()
            .filter(|work| batch.packages.contains(&work.package))
        {
            let later: Vec<Script> = work
                .actions
                .iter()
                .position(|action| matches!(action, Action::Remove { .. }))
                .map(|index| held::scripts_of_part(&work.actions[index + 1..], batch.part))
                .unwrap_or_default();
            self.hold(&batch.root, &work.package, &later, &mut Output::new())?;
        }
        self.package_call(false, &batch.root, batch.native_names())
            .await
    }

    /// Whether `package`'s dir in `root` (or what was held of it before a
    /// removal) has `script`.
    fn ships(&self, root: &RootRef, package: &Name, script: Script) -> bool {
        let root = self.root_path(root);
        held::find_script(&root.join(PACKAGES_DIR).join(package.as_str()), script).is_some()
            || held::find_script(&held::held_dir(&root, package.as_str()), script).is_some()
    }

    /// Keeps `scripts` of a part about to be removed from `root` (see
    /// [`held`]).
    fn hold(
        &self,
        root: &RootRef,
        package: &Name,
        scripts: &[Script],
        output: &mut Output,
    ) -> Result<(), Failure> {
        if scripts.is_empty() {
            return Ok(());
        }
        let root = self.root_path(root);
        let dir = root.join(PACKAGES_DIR).join(package.as_str());
        let held = held::held_dir(&root, package.as_str());
        let kept = held::hold(&dir, &held, scripts).map_err(|error| {
            Failure::terminal(format!(
                "keeping the scripts that run after the removal in {}: {error}",
                held.display()
            ))
        })?;
        if !kept.is_empty() {
            output.push_str(&format!(
                "held {} in {} for after the removal\n",
                kept.join(", "),
                held.display()
            ));
        }
        Ok(())
    }

    async fn run_script(
        &self,
        invocation: &ScriptInvocation,
        output: &mut Output,
    ) -> Result<Option<i32>, Failure> {
        let outcome = self
            .scripts
            .run(invocation)
            .await
            .map_err(|error| Failure::terminal(error.to_string()))?;
        output.push_script(&outcome.output, SCRIPT_OUTPUT_BYTES);
        let exit_code = match outcome.exit {
            opm_native::script::ExitStatusKind::Code(code) => Some(code),
            _ => None,
        };
        if outcome.is_success() {
            return Ok(exit_code);
        }
        Err(Failure {
            message: outcome.failure_message(),
            exit_code,
            output: String::new(),
            transient: false,
        })
    }
}

fn native_failure(error: opm_native::NativeError) -> Failure {
    let full = error.to_string();
    let exit_code = match &error {
        opm_native::NativeError::Tool(failure) => exit_code_of(&failure.status),
        _ => None,
    };
    Failure {
        message: tail_lines(&full, MESSAGE_TAIL_LINES),
        exit_code,
        output: full,
        transient: matches!(error, opm_native::NativeError::Busy { .. }),
    }
}

/// The exit code in a status description such as `exit status 2`.
fn exit_code_of(status: &str) -> Option<i32> {
    status
        .rsplit(|c: char| !c.is_ascii_digit() && c != '-')
        .find(|part| !part.is_empty())
        .and_then(|code| code.parse().ok())
}

/// The first line and the last `lines` lines of `text`.
pub fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    if all.len() <= lines + 1 {
        return text.trim_end().to_owned();
    }
    let mut kept = vec![all[0], "[...]"];
    kept.extend(&all[all.len() - lines..]);
    kept.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_the_first_line_and_the_tail() {
        let text: String = (1..=40).map(|i| format!("line {i}\n")).collect();
        let tail = tail_lines(&text, 3);
        assert_eq!(tail, "line 1\n[...]\nline 38\nline 39\nline 40");
        assert_eq!(tail_lines("a\nb\n", 3), "a\nb");
    }

    #[test]
    fn exit_codes_are_read_from_status_descriptions() {
        assert_eq!(exit_code_of("exit status 2"), Some(2));
        assert_eq!(exit_code_of("exit code 100"), Some(100));
        assert_eq!(exit_code_of("killed by signal"), None);
    }
}
