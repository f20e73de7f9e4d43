//! The engine's own decisions about one target's work, free of I/O: in which
//! order the opkgs go (SPEC §1.4: what an opkg depends on first), which
//! `install-bin-pkgs` installs and which uninstall removals share one
//! package-manager transaction, and which stages may run side by side where
//! the site opted in.

use std::collections::{BTreeMap, BTreeSet};

use opm_model::{Name, Part, Script, Stage};
use opm_plan::{Action, RootRef, Work};

/// `works` (all on one target) in dependency order: an opkg after every
/// opkg it depends on (directly or not), ties broken by name; the uninstall
/// path goes the other way (dependents first). A dependency cycle cannot
/// stall the order: the rest of a cycle goes by name.
pub fn order_on_target(
    mut works: Vec<Work>,
    depends_on: &BTreeMap<Name, BTreeSet<Name>>,
) -> Vec<Work> {
    works.sort_by(|a, b| a.package.cmp(&b.package));
    let present: BTreeSet<Name> = works.iter().map(|work| work.package.clone()).collect();
    let mut placed: BTreeSet<Name> = BTreeSet::new();
    let mut ordered: Vec<Work> = Vec::with_capacity(works.len());
    let (mut uninstalls, mut ups): (Vec<Work>, Vec<Work>) =
        works.into_iter().partition(Work::is_uninstall);

    // Installs: repeatedly take the first (by name) whose dependencies
    // among the present opkgs are placed.
    while !ups.is_empty() {
        let ready = ups
            .iter()
            .position(|work| {
                depends_on.get(&work.package).is_none_or(|deps| {
                    deps.iter()
                        .all(|dep| !present.contains(dep) || placed.contains(dep))
                })
            })
            .unwrap_or(0);
        let work = ups.remove(ready);
        placed.insert(work.package.clone());
        ordered.push(work);
    }
    // Uninstalls: take the first that no remaining uninstall depends on.
    while !uninstalls.is_empty() {
        let ready = uninstalls
            .iter()
            .position(|work| {
                !uninstalls.iter().any(|other| {
                    other.package != work.package
                        && depends_on
                            .get(&other.package)
                            .is_some_and(|deps| deps.contains(&work.package))
                })
            })
            .unwrap_or(0);
        ordered.push(uninstalls.remove(ready));
    }
    ordered
}

/// Native packages installed (or removed) together in one package-manager
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallBatch {
    /// The part installed (or removed) for every member.
    pub part: Part,
    /// The root they go into.
    pub root: RootRef,
    /// The opkgs whose part is installed (or removed), in work order.
    pub packages: Vec<Name>,
    /// The version each is installed at, in member order (SPEC §1.9).
    pub versions: Vec<Option<String>>,
}

impl InstallBatch {
    /// The native package names, in member order.
    pub fn native_names(&self) -> Vec<String> {
        self.packages
            .iter()
            .map(|package| self.part.native_name(package.as_str()))
            .collect()
    }

    /// The native packages with their versions, in member order.
    pub fn native_versions(&self) -> Vec<(String, Option<String>)> {
        self.native_names()
            .into_iter()
            .zip(self.versions.iter().cloned())
            .collect()
    }
}

/// The `install-bin-pkgs` installs of `works` (one target) that can share a
/// transaction: each stage whose first action installs a part into a root
/// joins the batch of that (part, root). Only batches of two or more are
/// returned; a single install runs as its work's own first action.
pub fn install_batches(works: &[Work]) -> Vec<InstallBatch> {
    let mut batches: Vec<InstallBatch> = Vec::new();
    for work in works {
        if work.stage != Stage::InstallBinPkgs {
            continue;
        }
        let Some(Action::Install { part, root }) = work.actions.first() else {
            continue;
        };
        match batches
            .iter_mut()
            .find(|batch| batch.part == *part && batch.root == *root)
        {
            Some(batch) => {
                batch.packages.push(work.package.clone());
                batch.versions.push(work.version.clone());
            }
            None => batches.push(InstallBatch {
                part: *part,
                root: root.clone(),
                packages: vec![work.package.clone()],
                versions: vec![work.version.clone()],
            }),
        }
    }
    batches.retain(|batch| batch.packages.len() > 1);
    batches
}

/// The uninstall removals of `works` (one target) that can share a
/// transaction: each uninstall stage with exactly one removal, before which
/// only scripts run that `ships` says are absent (so removing early skips
/// nothing that must come first), joins the batch of that (part, root).
/// The server role's path (two removals with scripts between) never
/// joins. Only batches of two or more are returned.
pub fn remove_batches(works: &[Work], ships: impl Fn(&Name, Script) -> bool) -> Vec<InstallBatch> {
    let mut batches: Vec<InstallBatch> = Vec::new();
    for work in works {
        if work.stage != Stage::ShouldNotBeInstalled {
            continue;
        }
        let removals: Vec<(usize, Part, &RootRef)> = work
            .actions
            .iter()
            .enumerate()
            .filter_map(|(index, action)| match action {
                Action::Remove { part, root } => Some((index, *part, root)),
                _ => None,
            })
            .collect();
        let [(index, part, root)] = removals[..] else {
            continue;
        };
        let nothing_first = work.actions[..index].iter().all(|action| match action {
            Action::RunScript { script, .. } => !ships(&work.package, *script),
            _ => false,
        });
        if !nothing_first {
            continue;
        }
        match batches
            .iter_mut()
            .find(|batch| batch.part == part && batch.root == *root)
        {
            // A removal takes out whatever version is there.
            Some(batch) => {
                batch.packages.push(work.package.clone());
                batch.versions.push(None);
            }
            None => batches.push(InstallBatch {
                part,
                root: root.clone(),
                packages: vec![work.package.clone()],
                versions: vec![None],
            }),
        }
    }
    batches.retain(|batch| batch.packages.len() > 1);
    batches
}

/// The opkgs of `works` (one target) whose stages may run side by side:
/// stages that only run scripts (or do nothing), of opkgs with no
/// dependency path either way to another opkg with work here. SPEC §1.4
/// orders only related opkgs, directly or not, so a path through an opkg
/// without work here relates its two ends as well; package-manager steps
/// share the target's package database and lock, and configuration or
/// client assignment write state other stages read, so those keep the
/// serial dependency order. The engine asks only when the site opted in
/// (`EngineConfig::side_by_side`).
pub fn side_by_side(works: &[Work], depends_on: &BTreeMap<Name, BTreeSet<Name>>) -> BTreeSet<Name> {
    let present: BTreeSet<&Name> = works.iter().map(|work| &work.package).collect();
    let mut related: BTreeSet<&Name> = BTreeSet::new();
    for work in works {
        for reached in reachable(&work.package, depends_on) {
            if let Some(&other) = present.get(reached)
                && *other != work.package
            {
                related.insert(&work.package);
                related.insert(other);
            }
        }
    }
    works
        .iter()
        .filter(|work| !related.contains(&work.package))
        .filter(|work| {
            work.actions
                .iter()
                .all(|action| matches!(action, Action::RunScript { .. }))
        })
        .map(|work| work.package.clone())
        .collect()
}

/// Every opkg `from` depends on, directly or not; a cycle ends the walk
/// instead of looping.
fn reachable<'a>(
    from: &Name,
    depends_on: &'a BTreeMap<Name, BTreeSet<Name>>,
) -> BTreeSet<&'a Name> {
    let mut seen: BTreeSet<&Name> = BTreeSet::new();
    let mut pending: Vec<&Name> = depends_on.get(from).into_iter().flatten().collect();
    while let Some(next) = pending.pop() {
        if seen.insert(next) {
            pending.extend(depends_on.get(next).into_iter().flatten());
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::NameKind;
    use opm_plan::{ImageRef, RowRole, stage_actions, uninstall_actions};

    fn name(text: &str) -> Name {
        Name::new(NameKind::Opkg, text).unwrap()
    }

    fn work(package: &str, stage: Stage, role: &RowRole) -> Work {
        Work {
            package: name(package),
            stage,
            actions: if stage == Stage::ShouldNotBeInstalled {
                uninstall_actions(role)
            } else {
                stage_actions(role, stage, &[])
            },
            interrupted: false,
            version: None,
            upgrade_from: None,
        }
    }

    fn deps(pairs: &[(&str, &[&str])]) -> BTreeMap<Name, BTreeSet<Name>> {
        pairs
            .iter()
            .map(|(from, to)| (name(from), to.iter().map(|t| name(t)).collect()))
            .collect()
    }

    fn names(works: &[Work]) -> Vec<&str> {
        works.iter().map(|w| w.package.as_str()).collect()
    }

    #[test]
    fn only_unrelated_script_stages_run_side_by_side() {
        let role = RowRole::Server;
        let works = vec![
            // Scripts only, unrelated: side by side.
            work("aa", Stage::RunScriptPostInstall, &role),
            work("bb", Stage::RunScriptPostInstall, &role),
            // Nothing to do at all: side by side too.
            work("cc", Stage::Finished, &role),
            // Scripts only, but dd depends on ee, both here: serial.
            work("dd", Stage::RunScriptPostInstall, &role),
            work("ee", Stage::RunScriptPostInstall, &role),
            // A package-manager step: serial.
            work("ff", Stage::InstallBinPkgs, &role),
            // Settling the configuration: serial.
            work("gg", Stage::RunConfigurator, &role),
            // Depends on an opkg without work here: still free.
            work("hh", Stage::RunScriptPostInstall, &role),
        ];
        let free = side_by_side(&works, &deps(&[("dd", &["ee"]), ("hh", &["absent"])]));
        let free: Vec<&str> = free.iter().map(Name::as_str).collect();
        assert_eq!(free, ["aa", "bb", "cc", "hh"]);
        assert!(side_by_side(&[], &deps(&[])).is_empty());
    }

    #[test]
    fn a_dependency_path_through_an_opkg_without_work_here_still_relates() {
        let role = RowRole::Server;
        let works = vec![
            work("aa", Stage::RunScriptPostInstall, &role),
            work("bb", Stage::RunScriptPostInstall, &role),
            work("cc", Stage::RunScriptPostInstall, &role),
        ];
        // aa -> mid -> bb, mid without work on this target; cc's path
        // runs into a cycle, which must end the walk, not loop.
        let graph = deps(&[
            ("aa", &["mid"]),
            ("mid", &["bb"]),
            ("cc", &["xx"]),
            ("xx", &["yy"]),
            ("yy", &["xx"]),
        ]);
        let free = side_by_side(&works, &graph);
        let free: Vec<&str> = free.iter().map(Name::as_str).collect();
        assert_eq!(free, ["cc"]);
    }

    #[test]
    fn dependencies_go_first_even_when_their_names_sort_later() {
        let role = RowRole::Server;
        let works = vec![
            work("aa", Stage::ShouldBeInstalled, &role),
            work("zz", Stage::ShouldBeInstalled, &role),
            work("mm", Stage::ShouldBeInstalled, &role),
        ];
        // aa needs mm, mm needs zz (transitive), unrelated opkgs by name.
        let ordered = order_on_target(works, &deps(&[("aa", &["mm"]), ("mm", &["zz"])]));
        assert_eq!(names(&ordered), ["zz", "mm", "aa"]);
    }

    #[test]
    fn absent_dependencies_do_not_hold_anything_back() {
        let role = RowRole::Server;
        let works = vec![
            work("bb", Stage::RunConfigurator, &role),
            work("aa", Stage::RunConfigurator, &role),
        ];
        let ordered = order_on_target(works, &deps(&[("aa", &["not-here"])]));
        assert_eq!(names(&ordered), ["aa", "bb"]);
    }

    #[test]
    fn uninstalls_take_dependents_first_and_come_after_installs() {
        let role = RowRole::Client;
        let works = vec![
            work("base", Stage::ShouldNotBeInstalled, &role),
            work("top", Stage::ShouldNotBeInstalled, &role),
            work("other", Stage::InstallBinPkgs, &role),
        ];
        let ordered = order_on_target(works, &deps(&[("top", &["base"])]));
        assert_eq!(names(&ordered), ["other", "top", "base"]);
    }

    #[test]
    fn a_cycle_still_yields_every_work_once() {
        let role = RowRole::Server;
        let works = vec![
            work("xx", Stage::ShouldBeInstalled, &role),
            work("yy", Stage::ShouldBeInstalled, &role),
            work("zz", Stage::ShouldBeInstalled, &role),
        ];
        let ordered = order_on_target(works, &deps(&[("xx", &["yy"]), ("yy", &["xx"])]));
        // What is free goes first; the cycle then goes by name.
        assert_eq!(names(&ordered), ["zz", "xx", "yy"]);
    }

    #[test]
    fn install_bin_pkgs_of_one_part_and_root_share_a_batch() {
        let image = RowRole::Image(ImageRef {
            name: Name::new(NameKind::Image, "img").unwrap(),
            path: "/images/img".into(),
        });
        let works = vec![
            work("aa", Stage::InstallBinPkgs, &image),
            work("bb", Stage::RunConfigurator, &RowRole::Server),
            work("cc", Stage::InstallBinPkgs, &image),
            work("dd", Stage::ShouldNotBeInstalled, &image),
        ];
        let batches = install_batches(&works);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].part, Part::Client);
        assert_eq!(
            batches[0].native_names(),
            ["opkg-aa-client", "opkg-cc-client"]
        );
        assert!(matches!(batches[0].root, RootRef::Image(_)));
    }

    #[test]
    fn scriptless_client_removals_of_one_root_share_a_batch() {
        let works = vec![
            work("aa", Stage::ShouldNotBeInstalled, &RowRole::Client),
            work("bb", Stage::ShouldNotBeInstalled, &RowRole::Server),
            work("cc", Stage::ShouldNotBeInstalled, &RowRole::Client),
            work("dd", Stage::InstallBinPkgs, &RowRole::Client),
            work("ee", Stage::ShouldNotBeInstalled, &RowRole::Client),
        ];
        // ee ships a client-pre-uninstall: it must run before ee's removal.
        let ships = |package: &Name, script: Script| {
            package.as_str() == "ee" && script == Script::ClientPreUninstall
        };
        let batches = remove_batches(&works, ships);
        assert_eq!(batches.len(), 1);
        assert_eq!(
            batches[0].native_names(),
            ["opkg-aa-client", "opkg-cc-client"]
        );
        assert_eq!(batches[0].root, RootRef::Own);
        // With a script before every removal but one, nothing is batched.
        let all = |package: &Name, _: Script| package.as_str() != "aa";
        assert!(remove_batches(&works, all).is_empty());
    }

    #[test]
    fn a_lone_install_is_not_a_batch() {
        let works = vec![
            work("aa", Stage::InstallBinPkgs, &RowRole::Client),
            work("bb", Stage::ShouldBeInstalled, &RowRole::Server),
        ];
        assert!(install_batches(&works).is_empty());
        // A stage whose actions do not start with an install never joins.
        let odd = Work {
            package: name("cc"),
            stage: Stage::InstallBinPkgs,
            actions: vec![Action::RunScript {
                script: Script::ClientPostInstall,
                args: Vec::new(),
                chroot: None,
            }],
            interrupted: false,
            version: None,
            upgrade_from: None,
        };
        let mut with_odd = works.clone();
        with_odd.push(odd);
        with_odd.push(work("dd", Stage::InstallBinPkgs, &RowRole::Client));
        let batches = install_batches(&with_odd);
        assert_eq!(batches.len(), 1);
        assert_eq!(
            batches[0].native_names(),
            ["opkg-aa-client", "opkg-dd-client"]
        );
    }
}
