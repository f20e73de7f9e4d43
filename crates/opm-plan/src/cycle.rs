//! Dependency cycles among opkgs: `a` requires `b` and `b` requires `a`.
//! No row of a cycle can ever go first (SPEC §1.4: a dependency must pass a
//! stage before its dependent), so import and install refuse one, and a
//! row that waits on one is told so rather than left waiting forever.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use opm_model::Name;
use serde::Serialize;

/// A dependency cycle, spelled from an opkg back to itself:
/// `[a, b, a]` for `a -> b -> a`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Cycle(pub Vec<Name>);

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, name) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{name}")?;
        }
        Ok(())
    }
}

/// The shortest cycle through `package` in `depends_on` (opkg to the opkgs
/// it depends on), ties broken by name; `None` when `package` is on none.
pub fn cycle_through(depends_on: &BTreeMap<Name, BTreeSet<Name>>, package: &Name) -> Option<Cycle> {
    // Breadth first from `package`, remembering how each opkg was reached;
    // the first edge back to `package` closes the shortest cycle.
    let mut reached_from: BTreeMap<&Name, &Name> = BTreeMap::new();
    let mut queue: VecDeque<&Name> = VecDeque::from([package]);
    while let Some(current) = queue.pop_front() {
        for next in depends_on.get(current).into_iter().flatten() {
            if next == package {
                let mut path = vec![package.clone(), current.clone()];
                let mut at = current;
                while at != package {
                    at = reached_from.get(at).copied()?;
                    path.push(at.clone());
                }
                path.reverse();
                return Some(Cycle(path));
            }
            if !reached_from.contains_key(next) {
                reached_from.insert(next, current);
                queue.push_back(next);
            }
        }
    }
    None
}

/// A cycle `package` depends on, directly or through other opkgs (or is on
/// itself): the one through the nearest opkg on a cycle, ties broken by
/// name. Such a `package` can never be installed.
pub fn cycle_reachable(
    depends_on: &BTreeMap<Name, BTreeSet<Name>>,
    package: &Name,
) -> Option<Cycle> {
    let mut seen: BTreeSet<&Name> = BTreeSet::from([package]);
    let mut queue: VecDeque<&Name> = VecDeque::from([package]);
    while let Some(current) = queue.pop_front() {
        if let Some(cycle) = cycle_through(depends_on, current) {
            return Some(cycle);
        }
        for next in depends_on.get(current).into_iter().flatten() {
            if seen.insert(next) {
                queue.push_back(next);
            }
        }
    }
    None
}

/// The first cycle of the whole graph, by the name of its first opkg;
/// `None` when there is none.
pub fn first_cycle(depends_on: &BTreeMap<Name, BTreeSet<Name>>) -> Option<Cycle> {
    depends_on
        .keys()
        .find_map(|package| cycle_through(depends_on, package))
}
