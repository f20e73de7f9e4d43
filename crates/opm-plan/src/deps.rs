//! Opkg dependencies and conflicts on one target (SPEC §1.4): installs wait
//! for what they depend on, uninstalls wait for (or refuse because of) what
//! depends on them, and conflicting requests are caught up front.

use std::collections::BTreeSet;

use opm_model::{Name, Row, Stage};

use crate::context::{Context, Dependency};
use crate::decision::{Blocked, Decision, Seen};
use crate::orchestrate::RequestChange;

/// Why the row may not perform `stage` yet because of a dependency: the
/// first (by name) dependency whose row on this target has not completed
/// `stage`, or has no row at all.
pub fn dependency_blocker(stage: Stage, dependencies: &[Dependency]) -> Option<Blocked> {
    let mut sorted: Vec<&Dependency> = dependencies.iter().collect();
    sorted.sort_by(|a, b| a.package.cmp(&b.package));
    sorted
        .into_iter()
        .find_map(|dependency| match &dependency.row {
            None => Some(Blocked::Dependency {
                package: dependency.package.clone(),
                stage,
                seen: None,
            }),
            Some(row) if row.effective_current() < stage => Some(Blocked::Dependency {
                package: dependency.package.clone(),
                stage,
                seen: Some(Seen::of(row)),
            }),
            Some(_) => None,
        })
}

/// Whether a row holds or wants its opkg: installed past the first stage or
/// requested past it. Such a row keeps what it depends on in place, and is
/// what [`conflicts_on_target`] checks against.
pub fn holds_or_wants(row: &Row) -> bool {
    row.requested > Stage::ShouldNotBeInstalled
        || row.effective_current() > Stage::ShouldNotBeInstalled
}

/// What the dependents of an opkg being uninstalled mean for its row:
/// `None` when none is left; a refusal naming the first dependent that is
/// still wanted; the requests taking dependents down when the caller asked
/// for that; or a wait for dependents already going down.
pub(crate) fn dependents_verdict(context: &Context) -> Option<Decision> {
    let mut dependents: Vec<&Row> = context
        .dependents
        .iter()
        .filter(|row| holds_or_wants(row))
        .collect();
    dependents.sort_by(|a, b| a.package.cmp(&b.package));
    let (wanted, leaving): (Vec<&Row>, Vec<&Row>) = dependents
        .into_iter()
        .partition(|row| row.requested > Stage::ShouldNotBeInstalled);
    if let Some(first) = wanted.first() {
        if !context.remove_dependents {
            return Some(Decision::Blocked(Blocked::DependentWanted {
                package: first.package.clone(),
                seen: Seen::of(first),
            }));
        }
        let changes = wanted
            .iter()
            .map(|row| RequestChange {
                target: row.target.clone(),
                package: row.package.clone(),
                requested: Stage::ShouldNotBeInstalled,
                create: false,
            })
            .collect();
        return Some(Decision::Request { changes });
    }
    leaving.first().map(|first| {
        Decision::Blocked(Blocked::DependentRemoving {
            package: first.package.clone(),
            seen: Seen::of(first),
        })
    })
}

/// An opkg's name with the opkgs it declares conflicts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflicts {
    /// The opkg.
    pub package: Name,
    /// The opkgs it conflicts with (resolved from config.xml `conflicts`).
    pub with: BTreeSet<Name>,
}

/// The opkgs `candidate` may not share a target with (SPEC §1.4): among
/// `present` (the opkgs installed or requested there, see
/// [`holds_or_wants`]), those it declares a conflict with or that declare
/// one with it. Sorted; empty means the request may go ahead.
pub fn conflicts_on_target(candidate: &Conflicts, present: &[Conflicts]) -> Vec<Name> {
    present
        .iter()
        .filter(|other| other.package != candidate.package)
        .filter(|other| {
            candidate.with.contains(&other.package) || other.with.contains(&candidate.package)
        })
        .map(|other| other.package.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
