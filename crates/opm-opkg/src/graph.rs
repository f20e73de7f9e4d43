//! Relations between opkgs (SPEC §1.4): opkg A depends on opkg B when one
//! of A's `requires` names `opkg-B`, `opkg-B-server`, `opkg-B-client`, or a
//! capability B provides; likewise for `conflicts`. A pure function over a
//! set of parsed opkgs on one (dist, arch). A relation naming a capability
//! the opkg provides itself points nowhere.
//!
//! Version bounds on such relations are carried in [`Edge::via`], not
//! judged: opm installs one version of each opkg, the one it was given.

use opm_model::{Name, Part};
use serde::Serialize;

use crate::deps::Dist;
use crate::model::{Opkg, Relation};

/// What one opkg says about another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// `from` may not pass a stage before `to` has on the same target.
    Depends,
    /// `from` and `to` may not both be requested on one target.
    Conflicts,
}

/// One relation between two different opkgs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// The opkg that states the relation.
    pub from: Name,
    /// The opkg it points at.
    pub to: Name,
    /// Depends or conflicts.
    pub kind: EdgeKind,
    /// The native part of `from` whose relation it is.
    pub part: Part,
    /// The relation as written.
    pub via: Relation,
}

/// Every relation between the opkgs of a set, on one (dist, arch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Graph {
    /// The edges, grouped by `from` in input order, then by part.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The relations among `opkgs` on (`dist`, `arch`), after filters
    /// (see [`Opkg::effective_deps`]). An opkg never relates to itself.
    pub fn of(opkgs: &[Opkg], dist: Option<&Dist>, arch: Option<&str>) -> Graph {
        let provided: Vec<Vec<String>> = opkgs
            .iter()
            .map(|opkg| {
                Part::ALL
                    .iter()
                    .flat_map(|part| opkg.effective_deps(*part, dist, arch).provides)
                    .map(|relation| relation.name)
                    .collect()
            })
            .collect();
        let targets = |name: &str, from: &Opkg| -> Vec<&Opkg> {
            opkgs
                .iter()
                .zip(&provided)
                .filter(|(to, provides)| {
                    to.name != from.name
                        && (Part::ALL
                            .iter()
                            .any(|part| part.native_name(to.name.as_str()) == name)
                            || provides.iter().any(|p| p == name))
                })
                .map(|(to, _)| to)
                .collect()
        };
        let mut edges = Vec::new();
        for (from, own) in opkgs.iter().zip(&provided) {
            for part in Part::ALL {
                let deps = from.effective_deps(part, dist, arch);
                for (kind, list) in [
                    (EdgeKind::Depends, &deps.requires),
                    (EdgeKind::Conflicts, &deps.conflicts),
                ] {
                    for relation in list {
                        // What an opkg provides itself it does not need
                        // from, nor hold against, anybody else.
                        if own.contains(&relation.name) {
                            continue;
                        }
                        for to in targets(&relation.name, from) {
                            edges.push(Edge {
                                from: from.name.clone(),
                                to: to.name.clone(),
                                kind,
                                part,
                                via: relation.clone(),
                            });
                        }
                    }
                }
            }
        }
        Graph { edges }
    }

    /// The opkgs `name` depends on, each once, in edge order.
    pub fn depends_on(&self, name: &Name) -> Vec<&Name> {
        self.unique(
            |e| e.kind == EdgeKind::Depends && &e.from == name,
            |e| &e.to,
        )
    }

    /// The opkgs that depend on `name`, each once, in edge order.
    pub fn dependents_of(&self, name: &Name) -> Vec<&Name> {
        self.unique(
            |e| e.kind == EdgeKind::Depends && &e.to == name,
            |e| &e.from,
        )
    }

    /// Whether `a` and `b` conflict, whichever of them says so.
    pub fn conflict(&self, a: &Name, b: &Name) -> bool {
        self.edges.iter().any(|e| {
            e.kind == EdgeKind::Conflicts
                && ((&e.from == a && &e.to == b) || (&e.from == b && &e.to == a))
        })
    }

    fn unique<'a>(
        &'a self,
        keep: impl Fn(&Edge) -> bool,
        pick: impl Fn(&'a Edge) -> &'a Name,
    ) -> Vec<&'a Name> {
        let mut names: Vec<&Name> = Vec::new();
        for edge in self.edges.iter().filter(|e| keep(e)) {
            let name = pick(edge);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}
