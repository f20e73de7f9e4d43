//! Drift (SPEC §1.9): whether a row's native packages are installed at the
//! version its current stage was reached with, judged from one read of the
//! package database ([`Inventory`]), and which stages a repair runs again.
//!
//! The packages a row should have are those its stages up to `current`
//! installed ([`stage_actions`], so the two cannot disagree): on the head
//! node `opkg-<p>` (should_be_installed) and `opkg-<p>-server`
//! (install-bin-pkgs), on nodes and in images `opkg-<p>-client`. Only rows
//! at or past install-bin-pkgs are judged. Nothing here reads a database
//! or runs a script: the caller asks the package manager once for
//! [`packages_to_ask`] of all its rows and passes the answer in.

use std::fmt;

use opm_model::{Inventory, Part, Presence, Row, Stage, Status};
use serde::Serialize;

use crate::actions::{Action, RowRole, stage_actions};

/// One native package a row should have.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Expected {
    /// Which part of the opkg.
    pub part: Part,
    /// Its native name (`opkg-motd-client`).
    pub name: String,
    /// The stage that installs it: a repair runs again from there.
    pub stage: Stage,
}

/// The packages `row` should have in its root, in the order its stages
/// install them; empty for a row below install-bin-pkgs (not judged).
pub fn expected_packages(row: &Row, role: &RowRole) -> Vec<Expected> {
    let current = row.effective_current();
    if current < Stage::InstallBinPkgs {
        return Vec::new();
    }
    let mut expected = Vec::new();
    for stage in Stage::ALL.into_iter().filter(|stage| *stage <= current) {
        for action in stage_actions(role, stage, &[]) {
            if let Action::Install { part, .. } = action
                && !expected.iter().any(|known: &Expected| known.part == part)
            {
                expected.push(Expected {
                    part,
                    name: part.native_name(row.package.as_str()),
                    stage,
                });
            }
        }
    }
    expected
}

/// The native names to ask the package database about for `rows`, each
/// once: the one question a verify of a root asks.
pub fn packages_to_ask<'a>(rows: impl IntoIterator<Item = (&'a Row, &'a RowRole)>) -> Vec<String> {
    let mut names: Vec<String> = rows
        .into_iter()
        .filter(|(row, _)| judged(row).is_ok())
        .flat_map(|(row, role)| expected_packages(row, role))
        .map(|expected| expected.name)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Why a row was not judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unjudged {
    /// A stage is under way: its own result will say.
    Running,
    /// The row waits in error for an operator, who sees that first.
    Error,
    /// Below install-bin-pkgs: opm claims no package there yet that
    /// SPEC §1.9 asks about.
    NotInstalled,
    /// An uninstall is requested: the packages are on their way out.
    Uninstalling,
    /// Its packages were not in the question (the row reached
    /// install-bin-pkgs after the database was read).
    NotAsked,
}

impl fmt::Display for Unjudged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unjudged::Running => "a stage is under way",
            Unjudged::Error => "in error, waiting for opm retry",
            Unjudged::NotInstalled => "not at install-bin-pkgs yet",
            Unjudged::Uninstalling => "being uninstalled",
            Unjudged::NotAsked => "its packages were not read",
        })
    }
}

/// How one native package differs from what opm recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Difference {
    /// The package opm expected.
    pub expected: Expected,
    /// What the database says instead.
    pub found: Presence,
    /// The version opm recorded, if it recorded one.
    pub version: Option<String>,
}

impl fmt::Display for Difference {
    /// `opkg-motd-client is not installed (expected 1:3.1-2)`,
    /// `opkg-motd-server is 1:3.0-1, expected 1:3.1-2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.expected.name;
        let expected = self
            .version
            .as_deref()
            .map(|version| format!(" (expected {version})"))
            .unwrap_or_default();
        match &self.found {
            Presence::Missing => write!(f, "{name} is not installed{expected}"),
            Presence::Partial { version, state } => {
                write!(f, "{name} is only {state} at {version}{expected}")
            }
            Presence::Installed { version } => match &self.version {
                Some(recorded) => write!(f, "{name} is {version}, expected {recorded}"),
                None => write!(f, "{name} is {version}"),
            },
        }
    }
}

/// A row whose packages are not as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Drift {
    /// Every package that differs, in the order the stages install them.
    pub differences: Vec<Difference>,
}

impl Drift {
    /// The row's `drifted` message: every difference, `; `-separated.
    pub fn message(&self) -> String {
        self.differences
            .iter()
            .map(Difference::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The parts that differ.
    pub fn parts(&self) -> Vec<Part> {
        self.differences
            .iter()
            .map(|difference| difference.expected.part)
            .collect()
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// What a verify found for one row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Not judged, and why.
    Unjudged {
        /// The reason.
        reason: Unjudged,
    },
    /// Every package installed at the recorded version.
    Whole,
    /// Some package missing, partly installed or at another version.
    Drifted(Drift),
}

fn judged(row: &Row) -> Result<(), Unjudged> {
    match row.status {
        Status::Running { .. } => return Err(Unjudged::Running),
        Status::Error { .. } => return Err(Unjudged::Error),
        // A drifted row is judged again: it may be whole again, or
        // differ otherwise now.
        Status::Ok | Status::Drifted { .. } => {}
    }
    if row.effective_current() < Stage::InstallBinPkgs {
        return Err(Unjudged::NotInstalled);
    }
    if row.requested == Stage::ShouldNotBeInstalled {
        return Err(Unjudged::Uninstalling);
    }
    Ok(())
}

/// Judges `row` (playing `role`) against `inventory`. `version` is the
/// version its current stage was reached with, in the package manager's
/// spelling; `None` (a row recorded before versions were) checks presence
/// only. A package missing from the inventory was not asked about and is
/// not judged; a row none of whose packages were asked about is
/// [`Unjudged::NotAsked`].
pub fn verify(row: &Row, role: &RowRole, version: Option<&str>, inventory: &Inventory) -> Verdict {
    if let Err(reason) = judged(row) {
        return Verdict::Unjudged { reason };
    }
    let mut asked = false;
    let mut differences = Vec::new();
    for expected in expected_packages(row, role) {
        let Some(found) = inventory.get(&expected.name) else {
            continue;
        };
        asked = true;
        let same = match found {
            Presence::Installed { version: installed } => {
                version.is_none_or(|recorded| same_version(recorded, installed))
            }
            Presence::Partial { .. } | Presence::Missing => false,
        };
        if !same {
            differences.push(Difference {
                expected,
                found: found.clone(),
                version: version.map(str::to_owned),
            });
        }
    }
    if !asked {
        Verdict::Unjudged {
            reason: Unjudged::NotAsked,
        }
    } else if differences.is_empty() {
        Verdict::Whole
    } else {
        Verdict::Drifted(Drift { differences })
    }
}

/// Whether the version opm recorded (the opkg's `[epoch:]upstream[-release]`)
/// is the installed one. Spellings differ by family where they mean the
/// same: rpm always has a release (`0` when the changelog gave none) and
/// may print an epoch of `0`, dpkg has neither; both tools order a missing
/// epoch as 0 and a missing Debian revision as `0`. Anything else must be
/// equal as written, so a rebuilt package at another release counts.
pub fn same_version(recorded: &str, installed: &str) -> bool {
    fn parts(version: &str) -> (&str, &str, &str) {
        let (epoch, rest) = version.split_once(':').unwrap_or(("0", version));
        let (upstream, release) = rest.rsplit_once('-').unwrap_or((rest, "0"));
        (
            if epoch.is_empty() { "0" } else { epoch },
            upstream,
            release,
        )
    }
    parts(recorded) == parts(installed)
}

/// The stage a repair of a drifted row runs again from: the first stage
/// that installs one of the `parts` that differ, so every later stage of
/// the row runs again too, each with its gate, as an upgrade does. `None`
/// for `parts` (the caller cannot read the row's root, say the head node
/// repairing a node's row from its stored status) takes every part the
/// row's role installs; for nodes and images that is the same stage.
/// `None` when the row installs none of them (nothing to repair).
pub fn repair_from(row: &Row, role: &RowRole, parts: Option<&[Part]>) -> Option<Stage> {
    expected_packages(row, role)
        .into_iter()
        .filter(|expected| parts.is_none_or(|parts| parts.contains(&expected.part)))
        .map(|expected| expected.stage)
        .min()
}
