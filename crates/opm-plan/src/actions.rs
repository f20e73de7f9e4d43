//! What performing a stage does, as data (SPEC §1.1 per role, §1.5 for
//! uninstall): which native package to install or remove into which root,
//! which scripts to run with which arguments, chrooted or not.
//!
//! The engine carries the list out in order, records each step and stops at
//! the first failure; it skips scripts the package does not ship (SPEC §1.5),
//! so the lists here name every hook a stage may have.

use std::fmt;
use std::path::PathBuf;

use opm_model::{Name, Part, Script, Stage};
use serde::Serialize;

/// A node image by name, with the root filesystem it lives in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ImageRef {
    /// The image's name.
    pub name: Name,
    /// Its root directory on the head node.
    pub path: PathBuf,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "image {} ({})", self.name, self.path.display())
    }
}

/// The filesystem a native package goes into.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "root", rename_all = "snake_case")]
pub enum RootRef {
    /// This machine's own root (`--root`, default `/`).
    Own,
    /// An image's root, never `/` (SPEC §9 trap 7).
    Image(ImageRef),
}

impl fmt::Display for RootRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootRef::Own => f.write_str("this machine's root"),
            RootRef::Image(image) => image.fmt(f),
        }
    }
}

/// An argument passed to a script.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "arg", rename_all = "snake_case")]
pub enum ScriptArg {
    /// The root directory of an image (`api-post-image`'s `$1`).
    ImageRoot(ImageRef),
}

impl fmt::Display for ScriptArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptArg::ImageRoot(image) => write!(f, "{}", image.path.display()),
        }
    }
}

/// One step of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Install one part of the opkg into a root.
    Install {
        /// Which native package.
        part: Part,
        /// Where to.
        root: RootRef,
    },
    /// Remove one part of the opkg from a root; removing an absent package
    /// is a success, so a re-run after a failure is idempotent.
    Remove {
        /// Which native package.
        part: Part,
        /// Where from.
        root: RootRef,
    },
    /// Run an opkg script if the package ships it.
    RunScript {
        /// Which hook.
        script: Script,
        /// Its arguments, in order.
        args: Vec<ScriptArg>,
        /// The image to chroot into; `None` runs it in this machine's root.
        chroot: Option<ImageRef>,
    },
    /// Settle the configuration values (SPEC §1.8): form defaults, then the
    /// admin's values; store them and write `.configurator.values`.
    SettleConfiguration,
    /// Hand the opkg's work to the compute nodes of its groups (SPEC §1.4);
    /// the engine computes the rows with [`crate::assign_clients`].
    AssignClients,
}

impl Action {
    /// A one-line description, naming the native package of `package`.
    pub fn describe(&self, package: &Name) -> String {
        match self {
            Action::Install { part, root } => {
                format!("install {} into {root}", part.native_name(package.as_str()))
            }
            Action::Remove { part, root } => {
                format!("remove {} from {root}", part.native_name(package.as_str()))
            }
            Action::RunScript {
                script,
                args,
                chroot,
            } => {
                let mut text = format!("run {script}");
                for arg in args {
                    text.push_str(&format!(" {arg}"));
                }
                if let Some(image) = chroot {
                    text.push_str(&format!(" chrooted in {image}"));
                }
                text
            }
            Action::SettleConfiguration => "settle the configuration values".to_owned(),
            Action::AssignClients => "assign work to the nodes of its groups".to_owned(),
        }
    }
}

/// The part a row plays, decided by its target: the head node's own rows,
/// a compute node's rows, or an image's rows (with the image's root).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum RowRole {
    /// The head node: runs every stage's actions and orchestrates.
    Server,
    /// A compute node: acts only at `install-bin-pkgs` and uninstall.
    Client,
    /// An image: like a client, but into the image's root.
    Image(ImageRef),
}

impl RowRole {
    /// The machine role this row role belongs to.
    pub fn role(&self) -> opm_model::Role {
        match self {
            RowRole::Server => opm_model::Role::Server,
            RowRole::Client => opm_model::Role::Client,
            RowRole::Image(_) => opm_model::Role::Image,
        }
    }
}

/// The actions of going up to `stage` (SPEC §1.1 table). `images` are the
/// images that have the opkg, for the server's `run-script-post-image`.
/// Stages a role does nothing at give an empty list: they are still
/// recorded as passed.
pub fn stage_actions(role: &RowRole, stage: Stage, images: &[ImageRef]) -> Vec<Action> {
    let run = |script| Action::RunScript {
        script,
        args: Vec::new(),
        chroot: None,
    };
    match (role, stage) {
        (RowRole::Server, Stage::ShouldBeInstalled) => vec![
            // The api scripts ship in opkg-<p> itself, so it goes in first.
            Action::Install {
                part: Part::Api,
                root: RootRef::Own,
            },
            run(Script::ApiPreInstall),
            run(Script::ApiPostInstall),
        ],
        (RowRole::Server, Stage::RunConfigurator) => vec![
            run(Script::ApiPreConfigure),
            Action::SettleConfiguration,
            run(Script::ApiPostConfigure),
        ],
        (RowRole::Server, Stage::InstallBinPkgs) => vec![
            Action::Install {
                part: Part::Server,
                root: RootRef::Own,
            },
            run(Script::ServerPostInstall),
        ],
        (RowRole::Server, Stage::RunScriptPostImage) => images
            .iter()
            .map(|image| Action::RunScript {
                script: Script::ApiPostImage,
                args: vec![ScriptArg::ImageRoot(image.clone())],
                chroot: None,
            })
            .collect(),
        (RowRole::Server, Stage::RunScriptPostClients) => {
            vec![run(Script::ApiPostClientdef), Action::AssignClients]
        }
        (RowRole::Server, Stage::RunScriptPostInstall) => vec![run(Script::ApiPostDeploy)],
        (RowRole::Client, Stage::InstallBinPkgs) => vec![
            Action::Install {
                part: Part::Client,
                root: RootRef::Own,
            },
            run(Script::ClientPostInstall),
        ],
        (RowRole::Image(image), Stage::InstallBinPkgs) => vec![
            Action::Install {
                part: Part::Client,
                root: RootRef::Image(image.clone()),
            },
            Action::RunScript {
                script: Script::ClientPostInstall,
                args: Vec::new(),
                chroot: Some(image.clone()),
            },
        ],
        _ => Vec::new(),
    }
}

/// The actions of going up to `stage` again in an upgrade (SPEC §1.9):
/// those of [`stage_actions`], except that the head node's
/// install-bin-pkgs upgrades the api package `opkg-<p>` (installed at
/// should_be_installed, which an upgrade does not run again) before the
/// server part. The installs are the package manager's upgrade in place;
/// nothing is removed first.
pub fn upgrade_actions(role: &RowRole, stage: Stage, images: &[ImageRef]) -> Vec<Action> {
    let mut actions = stage_actions(role, stage, images);
    if *role == RowRole::Server && stage == Stage::InstallBinPkgs {
        actions.insert(
            0,
            Action::Install {
                part: Part::Api,
                root: RootRef::Own,
            },
        );
    }
    actions
}

/// The actions of the uninstall path (SPEC §1.5), once the fan-out to
/// client and image rows is done.
///
/// The list is the same whatever the row's current stage: a stage that
/// failed half-way may have left its package behind (`current` says it
/// never completed), and removing an absent package or skipping an absent
/// script costs nothing.
pub fn uninstall_actions(role: &RowRole) -> Vec<Action> {
    let run = |script, chroot: Option<&ImageRef>| Action::RunScript {
        script,
        args: Vec::new(),
        chroot: chroot.cloned(),
    };
    match role {
        RowRole::Server => vec![
            run(Script::ApiPreUninstall, None),
            run(Script::ServerPreUninstall, None),
            Action::Remove {
                part: Part::Server,
                root: RootRef::Own,
            },
            run(Script::ServerPostUninstall, None),
            run(Script::ApiPostUninstall, None),
            Action::Remove {
                part: Part::Api,
                root: RootRef::Own,
            },
        ],
        RowRole::Client => client_uninstall(RootRef::Own, None),
        RowRole::Image(image) => client_uninstall(RootRef::Image(image.clone()), Some(image)),
    }
}

fn client_uninstall(root: RootRef, chroot: Option<&ImageRef>) -> Vec<Action> {
    let run = |script| Action::RunScript {
        script,
        args: Vec::new(),
        chroot: chroot.cloned(),
    };
    vec![
        run(Script::ClientPreUninstall),
        Action::Remove {
            part: Part::Client,
            root,
        },
        run(Script::ClientPostUninstall),
    ]
}
