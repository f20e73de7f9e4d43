//! Upgrades (SPEC §1.9): which rows `opm upgrade` starts and to which
//! version, which opkgs an upgrade covers, and how a row's versions move
//! as its stages pass.
//!
//! An upgrade of a row sets it back before install-bin-pkgs with the
//! version it goes to (the store's `start_upgrades`); from there the usual
//! ladder runs install-bin-pkgs again (the package manager's upgrade in
//! place, never a removal first; on the head node the api package before
//! the server part, see [`crate::upgrade_actions`]) and the later stages
//! that apply to the row's target, each under its gate and the cross-row
//! rules: images before the server's post-image, and an opkg after the
//! opkgs it depends on when those are upgraded too, which is what
//! [`with_dependencies`] makes sure of. A crash in the middle leaves the
//! row below its request with the upgrade recorded, so the next pass
//! resumes it; the row says all along which version it came from.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use opm_model::{Name, Row, Stage, Status, version};
use serde::Serialize;

/// What `opm upgrade` does with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum UpgradeVerdict {
    /// Set it back before install-bin-pkgs, to go from `from` to `to`.
    Start {
        /// The version it is at.
        from: String,
        /// The version it goes to.
        to: String,
        /// Whether `to` is older than `from` (allowed by the operator).
        downgrade: bool,
    },
    /// It is at the wanted version already.
    UpToDate {
        /// That version.
        version: String,
    },
    /// Not now; the reason says what would make it possible.
    Skip(UpgradeSkip),
    /// The wanted version is older than the row's: a downgrade, refused
    /// without `--allow-downgrade`.
    Downgrade {
        /// The version it is at.
        from: String,
        /// The older version wanted (a pin, usually).
        to: String,
    },
}

/// Why a row is not upgraded now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "skip", rename_all = "snake_case")]
pub enum UpgradeSkip {
    /// Not finished: its pending stages install its work version already,
    /// or it is (being) uninstalled.
    NotFinished {
        /// Its current stage (`None`: unknown).
        current: Option<Stage>,
        /// Its requested stage.
        requested: Stage,
    },
    /// An upgrade of it is under way.
    Upgrading {
        /// The version it came from.
        from: String,
        /// The version it goes to.
        to: String,
    },
    /// In error: `opm retry` first.
    Error,
    /// A stage is running on it.
    Running,
    /// Its packages drifted: `opm repair` first.
    Drifted,
    /// It records no version (installed before opm kept versions and never
    /// imported with one), or the opkg has none to go to.
    NoVersion,
}

impl fmt::Display for UpgradeVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeVerdict::Start {
                from,
                to,
                downgrade: false,
            } => write!(f, "upgrade from {from} to {to}"),
            UpgradeVerdict::Start {
                from,
                to,
                downgrade: true,
            } => write!(f, "downgrade from {from} to {to}"),
            UpgradeVerdict::UpToDate { version } => write!(f, "up to date at {version}"),
            UpgradeVerdict::Skip(skip) => write!(f, "skipped: {skip}"),
            UpgradeVerdict::Downgrade { from, to } => write!(
                f,
                "refused: {to} is older than {from}; a downgrade needs --allow-downgrade \
                 (or opm opkg unpin)"
            ),
        }
    }
}

impl fmt::Display for UpgradeSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeSkip::NotFinished { current, requested } => {
                match current {
                    Some(current) => write!(f, "not finished (at {current}")?,
                    None => f.write_str("not finished (current stage unknown")?,
                }
                write!(f, ", requested {requested})")
            }
            UpgradeSkip::Upgrading { from, to } => {
                write!(f, "already upgrading from {from} to {to}")
            }
            UpgradeSkip::Error => f.write_str("in error; hint: opm retry, then opm upgrade"),
            UpgradeSkip::Running => f.write_str("a stage is running; upgrade it once it is done"),
            UpgradeSkip::Drifted => f.write_str("drifted; hint: opm repair, then opm upgrade"),
            UpgradeSkip::NoVersion => f.write_str("no version recorded to upgrade from or to"),
        }
    }
}

/// What `opm upgrade` does with `row`, whose opkg should be at `wanted`
/// (the pin, else the newest imported version): a finished row at rest at
/// another version is started, towards an older one only with
/// `allow_downgrade`.
pub fn upgrade_verdict(row: &Row, wanted: Option<&str>, allow_downgrade: bool) -> UpgradeVerdict {
    match &row.status {
        Status::Error { .. } => return UpgradeVerdict::Skip(UpgradeSkip::Error),
        Status::Running { .. } => return UpgradeVerdict::Skip(UpgradeSkip::Running),
        Status::Drifted { .. } => return UpgradeVerdict::Skip(UpgradeSkip::Drifted),
        Status::Ok => {}
    }
    if let Some((from, to)) = row.version.upgrade() {
        return UpgradeVerdict::Skip(UpgradeSkip::Upgrading {
            from: from.to_owned(),
            to: to.to_owned(),
        });
    }
    if row.requested != Stage::Finished || row.current != Some(Stage::Finished) {
        return UpgradeVerdict::Skip(UpgradeSkip::NotFinished {
            current: row.current,
            requested: row.requested,
        });
    }
    let (Some(from), Some(to)) = (row.version.reached.as_deref(), wanted) else {
        return UpgradeVerdict::Skip(UpgradeSkip::NoVersion);
    };
    let (from, to) = (from.to_owned(), to.to_owned());
    match version::compare(&from, &to) {
        Ordering::Equal => UpgradeVerdict::UpToDate { version: from },
        Ordering::Less => UpgradeVerdict::Start {
            from,
            to,
            downgrade: false,
        },
        Ordering::Greater if allow_downgrade => UpgradeVerdict::Start {
            from,
            to,
            downgrade: true,
        },
        Ordering::Greater => UpgradeVerdict::Downgrade { from, to },
    }
}

/// The opkgs an upgrade of `named` covers: them and, transitively, the
/// opkgs they depend on. A dependency that is up to date is left alone by
/// [`upgrade_verdict`]; one that is not is upgraded with them, and the
/// dependency rule of SPEC §1.4 has its stages pass before theirs, so an
/// opkg whose new version needs a newer one of another upgrades after it.
pub fn with_dependencies(
    named: &BTreeSet<Name>,
    depends_on: &BTreeMap<Name, BTreeSet<Name>>,
) -> BTreeSet<Name> {
    let mut covered = BTreeSet::new();
    let mut next: Vec<&Name> = named.iter().collect();
    while let Some(package) = next.pop() {
        if covered.insert(package.clone()) {
            next.extend(depends_on.get(package).into_iter().flatten());
        }
    }
    covered
}
