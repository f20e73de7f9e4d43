//! The facts [`crate::decide`] needs besides the row itself: who acts, the
//! cluster phase, the time, and the related rows the cross-row rules read
//! (SPEC §1.4, §1.5). The engine gathers them (or lets
//! [`crate::Cluster::context`] do it); the planner only reads them.

use opm_model::{Name, Phase, Row, Unfinished};

use crate::actions::{ImageRef, RowRole};

/// An image row of the same opkg, with the image's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// The image and its root.
    pub image: ImageRef,
    /// The image's row of the opkg.
    pub row: Row,
}

/// An opkg this one depends on, and its row on the same target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The opkg depended on.
    pub package: Name,
    /// Its row on the same target; `None` when it has none.
    pub row: Option<Row>,
}

/// Everything a decision about one row may depend on besides the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The part the row plays (decided by its target).
    pub role: RowRole,
    /// The cluster's install phase.
    pub phase: Phase,
    /// Now, in milliseconds since the Unix epoch (for lease expiry).
    pub now_ms: i64,
    /// For a server row: the image rows of the same opkg.
    pub images: Vec<ImageRow>,
    /// For a server row: the compute-node rows of the same opkg.
    pub clients: Vec<Row>,
    /// The opkgs this one depends on, with their rows on the same target.
    pub dependencies: Vec<Dependency>,
    /// The rows on the same target of opkgs that depend on this one.
    pub dependents: Vec<Row>,
    /// Whether uninstalling this opkg takes its dependents along instead of
    /// being refused (`opm remove --with-dependents`).
    pub remove_dependents: bool,
    /// The row's last attempt, when it did not complete (failed or
    /// interrupted): `current` does not account for what it changed.
    pub unfinished: Option<Unfinished>,
}

impl Context {
    /// A context with no related rows: enough for a row without
    /// dependencies, dependents, images or clients.
    pub fn new(role: RowRole, phase: Phase, now_ms: i64) -> Context {
        Context {
            role,
            phase,
            now_ms,
            images: Vec::new(),
            clients: Vec::new(),
            dependencies: Vec::new(),
            dependents: Vec::new(),
            remove_dependents: false,
            unfinished: None,
        }
    }
}
