//! Upgrades in a small in-memory cluster driven only by the planner (SPEC
//! §1.9): a head node, three nodes and an image run two opkgs (`app`
//! depends on `base`) at 1.0-1; then 2.0-1 is imported, `opm upgrade app`
//! starts the rows its verdicts allow (the store's `start_upgrades`, here
//! on the in-memory rows), and random stage outcomes (success, failure,
//! a crash after any number of a stage's actions), retries and clock ticks
//! follow before everything settles.
//!
//! Checked after every step: an upgrade's stage says it is one (from and
//! to, what scripts see), installs at the new version and never removes a
//! package; the head node upgrades `opkg-<p>` before `opkg-<p>-server`; a
//! root holding a package at another version than its row records has a
//! row that says it is upgrading (never half-old, half-new silently).
//! Checked at the end: every row is finished at 2.0-1 with no upgrade
//! left, every root holds its parts at 2.0-1, and on every target `base`
//! was upgraded before `app`. A pin on the version in place makes the
//! rows up to date; a pin on an older one is a downgrade, refused unless
//! allowed, and then carried out the same way.

// Test code: the simulator's own bookkeeping unwraps what it just created.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use opm_model::{Lease, Name, NameKind, Part, Phase, Row, Stage, Status, Target, Unfinished};
use opm_plan::{
    Action, Cluster, Decision, RootRef, UpgradeVerdict, Work, upgrade_verdict, with_dependencies,
};
use proptest::prelude::*;

const OLD: &str = "1.0-1";
const NEW: &str = "2.0-1";
const LEASE_MS: i64 = 1_000;

fn name(kind: NameKind, text: &str) -> Name {
    Name::new(kind, text).unwrap()
}

fn opkg(text: &str) -> Name {
    name(NameKind::Opkg, text)
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Success,
    /// Fails after this many of the stage's actions (modulo their count + 1).
    Fail(usize),
    /// The process dies after this many actions, leaving its lease behind.
    Crash(usize),
}

#[derive(Debug, Clone)]
enum Op {
    Step(usize, Outcome),
    Retry(usize),
    Tick(i64),
}

struct Sim {
    cluster: Cluster,
    now: i64,
    /// The native packages in each root, with their versions.
    roots: BTreeMap<Target, BTreeMap<String, String>>,
    /// Per target, the opkgs in the order their upgrade installed a part.
    upgraded: BTreeMap<Target, Vec<Name>>,
}

impl Sim {
    fn new() -> Sim {
        let mut cluster = Cluster::new(name(NameKind::Node, "head"), Phase::Complete);
        let clients = name(NameKind::Group, "oscar_clients");
        for node in ["n1", "n2", "n3"] {
            cluster.nodes.insert(
                name(NameKind::Node, node),
                [clients.clone()].into_iter().collect(),
            );
        }
        cluster.images.insert(
            name(NameKind::Image, "img1"),
            PathBuf::from("/var/lib/oscar/images/img1"),
        );
        for package in ["base", "app"] {
            cluster
                .selections
                .insert(opkg(package), [clients.clone()].into_iter().collect());
            cluster.wanted.insert(opkg(package), OLD.to_owned());
        }
        cluster
            .depends_on
            .insert(opkg("app"), [opkg("base")].into_iter().collect());
        let mut sim = Sim {
            cluster,
            now: 0,
            roots: BTreeMap::new(),
            upgraded: BTreeMap::new(),
        };
        for package in ["base", "app"] {
            for change in sim.cluster.install_requests(&opkg(package)) {
                sim.cluster.apply(&change);
            }
        }
        sim.settle();
        for row in sim.cluster.rows() {
            assert_eq!(row.current, Some(Stage::Finished), "{row}");
            assert_eq!(row.version.reached.as_deref(), Some(OLD), "{row}");
        }
        sim
    }

    /// `opm opkg import` of 2.0-1, then `opm upgrade app`.
    fn import_and_upgrade_app(&mut self) {
        let verdicts = self.upgrade_app_to(NEW, false);
        assert!(
            verdicts.iter().all(|verdict| matches!(
                verdict,
                UpgradeVerdict::Start {
                    downgrade: false,
                    ..
                }
            )),
            "{verdicts:?}"
        );
    }

    /// Makes `version` the wanted one of both opkgs (an import or a pin),
    /// then `opm upgrade [--allow-downgrade] app`: each covered row's
    /// verdict; the rows are started unless one is a refused downgrade.
    fn upgrade_app_to(&mut self, version: &str, allow_downgrade: bool) -> Vec<UpgradeVerdict> {
        for package in ["base", "app"] {
            self.cluster
                .wanted
                .insert(opkg(package), version.to_owned());
        }
        let covered = with_dependencies(&BTreeSet::from([opkg("app")]), &self.cluster.depends_on);
        assert_eq!(covered, BTreeSet::from([opkg("app"), opkg("base")]));
        let rows: Vec<Row> = self
            .cluster
            .rows()
            .filter(|row| covered.contains(&row.package))
            .cloned()
            .collect();
        let verdicts: Vec<(Row, UpgradeVerdict)> = rows
            .into_iter()
            .map(|row| {
                let wanted = self.cluster.wanted.get(&row.package).map(String::as_str);
                let verdict = upgrade_verdict(&row, wanted, allow_downgrade);
                (row, verdict)
            })
            .collect();
        let refused = verdicts
            .iter()
            .any(|(_, verdict)| matches!(verdict, UpgradeVerdict::Downgrade { .. }));
        for (mut row, verdict) in verdicts.clone() {
            if let (false, UpgradeVerdict::Start { from, to, .. }) = (refused, verdict) {
                // What the store's start_upgrades writes.
                row.current = Some(Stage::RunConfigurator);
                row.version.work = Some(to);
                row.version.upgrade_from = Some(from);
                self.cluster.upsert(row);
            }
        }
        verdicts.into_iter().map(|(_, verdict)| verdict).collect()
    }

    fn pending(&self) -> Vec<Row> {
        self.cluster
            .rows()
            .filter(|row| row.is_pending())
            .cloned()
            .collect()
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Step(index, outcome) => {
                let rows = self.pending();
                if !rows.is_empty() {
                    self.act(&rows[index % rows.len()], outcome);
                }
            }
            Op::Retry(index) => {
                let failed: Vec<Row> = self
                    .cluster
                    .rows()
                    .filter(|row| matches!(row.status, Status::Error { .. }))
                    .cloned()
                    .collect();
                if !failed.is_empty() {
                    let mut row = failed[index % failed.len()].clone();
                    row.status = Status::Ok;
                    self.cluster.upsert(row);
                }
            }
            Op::Tick(ms) => self.now += ms,
        }
        self.check_roots();
    }

    fn act(&mut self, row: &Row, outcome: Outcome) -> bool {
        match self.cluster.decide(row, self.now).unwrap() {
            Decision::Perform(work) => {
                self.check_work(row, &work);
                self.perform(row, &work, outcome);
                true
            }
            Decision::Request { changes } => {
                for change in &changes {
                    self.cluster.apply(change);
                }
                true
            }
            Decision::Release { .. } => {
                let mut row = row.clone();
                row.status = Status::Ok;
                self.cluster.upsert(row);
                true
            }
            Decision::Blocked(_) | Decision::Idle(_) => false,
        }
    }

    fn check_work(&self, row: &Row, work: &Work) {
        let Some((from, to)) = row.version.upgrade() else {
            return;
        };
        assert_eq!(work.upgrade(), Some((from, to)), "{row}: {work}");
        assert_ne!(from, to, "{row}");
        assert!(
            !work
                .actions
                .iter()
                .any(|action| matches!(action, Action::Remove { .. })),
            "{row}: an upgrade removed a package: {work}"
        );
        let position = |part| {
            work.actions
                .iter()
                .position(|action| matches!(action, Action::Install { part: p, .. } if *p == part))
        };
        if let (Some(api), Some(server)) = (position(Part::Api), position(Part::Server)) {
            assert!(
                api < server,
                "{row}: the server part before the api: {work}"
            );
        }
        if row.target == Target::node(self.cluster.head.clone())
            && work.stage == Stage::InstallBinPkgs
        {
            assert!(position(Part::Api).is_some(), "{row}: api not upgraded");
        }
    }

    fn perform(&mut self, row: &Row, work: &Work, outcome: Outcome) {
        let count = work.actions.len();
        let (done, status) = match outcome {
            Outcome::Success => (count, None),
            Outcome::Fail(after) => (
                after % (count + 1),
                Some(Status::Error {
                    message: format!("{} failed", work.stage),
                }),
            ),
            Outcome::Crash(after) => (
                after % (count + 1),
                Some(Status::Running {
                    lease: Lease {
                        owner: "sim".into(),
                        token: 0,
                        expires_at_ms: self.now + LEASE_MS,
                    },
                }),
            ),
        };
        for action in &work.actions[..done] {
            self.carry_out(row, work, action);
        }
        let key = (row.target.clone(), row.package.clone());
        let mut updated = self.cluster.row(&row.target, &row.package).unwrap().clone();
        match status {
            None => {
                self.cluster.unfinished.remove(&key);
                updated.current = Some(work.stage);
                updated.version = updated.version.after_pass(
                    work.stage,
                    updated.requested,
                    work.version.as_deref(),
                );
                updated.status = Status::Ok;
            }
            Some(status) => {
                let unfinished = if work.is_uninstall() {
                    Unfinished::Uninstall
                } else {
                    Unfinished::Up
                };
                self.cluster.unfinished.insert(key, unfinished);
                updated.status = status;
            }
        }
        self.cluster.upsert(updated);
    }

    fn carry_out(&mut self, row: &Row, work: &Work, action: &Action) {
        let root = |root: &RootRef| match root {
            RootRef::Own => row.target.clone(),
            RootRef::Image(image) => Target::image(image.name.clone()),
        };
        match action {
            Action::Install { part, root: into } => {
                let target = root(into);
                let version = work.version.clone().expect("an install knows its version");
                if work.upgrade().is_some() {
                    let order = self.upgraded.entry(target.clone()).or_default();
                    if !order.contains(&row.package) {
                        order.push(row.package.clone());
                    }
                }
                self.roots
                    .entry(target)
                    .or_default()
                    .insert(part.native_name(row.package.as_str()), version);
            }
            Action::Remove { part, root: from } => {
                self.roots
                    .entry(root(from))
                    .or_default()
                    .remove(&part.native_name(row.package.as_str()));
            }
            Action::AssignClients => {
                for change in self.cluster.assign_clients(&row.package) {
                    self.cluster.apply(&change);
                }
            }
            Action::RunScript { .. } | Action::SettleConfiguration => {}
        }
    }

    /// A package in a root at another version than its row records is
    /// only ever there while the row says it is upgrading.
    fn check_roots(&self) {
        for row in self.cluster.rows() {
            let Some(root) = self.roots.get(&row.target) else {
                continue;
            };
            for part in Part::ALL {
                let Some(version) = root.get(&part.native_name(row.package.as_str())) else {
                    continue;
                };
                if Some(version.as_str()) != row.version.reached.as_deref() {
                    assert!(
                        row.version.upgrade().is_some(),
                        "{row}: {} at {version} but the row records {:?} and no upgrade",
                        part.native_name(row.package.as_str()),
                        row.version.reached
                    );
                }
            }
        }
    }

    fn settle(&mut self) {
        for _ in 0..200 {
            self.now += 10 * LEASE_MS;
            let mut moved = false;
            for row in self.pending() {
                let mut row = self.cluster.row(&row.target, &row.package).unwrap().clone();
                if matches!(row.status, Status::Error { .. }) {
                    row.status = Status::Ok;
                    self.cluster.upsert(row.clone());
                }
                if row.is_pending() {
                    moved |= self.act(&row, Outcome::Success);
                }
                self.check_roots();
            }
            if !moved {
                return;
            }
        }
        panic!("the cluster did not settle in 200 passes");
    }

    fn check_upgraded(&self) {
        self.check_at(NEW);
        for (target, order) in &self.upgraded {
            assert_eq!(
                order,
                &[opkg("base"), opkg("app")],
                "{target}: app upgraded before base"
            );
        }
        assert_eq!(self.upgraded.len(), 5, "head, three nodes and the image");
    }

    /// Every row finished at `version` with no upgrade left, and every
    /// root holding its parts at it.
    fn check_at(&self, version: &str) {
        let head = Target::node(self.cluster.head.clone());
        for row in self.cluster.rows() {
            assert_eq!(row.current, Some(Stage::Finished), "{row}");
            assert_eq!(row.status, Status::Ok, "{row}");
            assert_eq!(row.version.reached.as_deref(), Some(version), "{row}");
            assert_eq!(row.version.upgrade(), None, "{row}");
            let parts: &[Part] = if row.target == head {
                &[Part::Api, Part::Server]
            } else {
                &[Part::Client]
            };
            let root = &self.roots[&row.target];
            for part in parts {
                assert_eq!(
                    root.get(&part.native_name(row.package.as_str()))
                        .map(String::as_str),
                    Some(version),
                    "{row}: {part:?}"
                );
            }
        }
    }
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        5 => Just(Outcome::Success),
        1 => any::<usize>().prop_map(Outcome::Fail),
        2 => any::<usize>().prop_map(Outcome::Crash),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (any::<usize>(), outcome()).prop_map(|(row, outcome)| Op::Step(row, outcome)),
        1 => any::<usize>().prop_map(Op::Retry),
        1 => (0..3 * LEASE_MS).prop_map(Op::Tick),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_upgrades_with_failures_and_crashes_end_at_the_new_version(
        ops in proptest::collection::vec(op(), 0..120)
    ) {
        let mut sim = Sim::new();
        sim.import_and_upgrade_app();
        for op in &ops {
            sim.apply(op);
        }
        sim.settle();
        sim.check_upgraded();
    }
}

#[test]
fn a_crash_after_the_api_upgrade_resumes_the_head_nodes_upgrade() {
    let mut sim = Sim::new();
    sim.import_and_upgrade_app();
    let head = Target::node(sim.cluster.head.clone());
    let base = sim.cluster.row(&head, &opkg("base")).unwrap().clone();
    // install-bin-pkgs: opkg-base goes to 2.0-1, then the process dies.
    assert!(sim.act(&base, Outcome::Crash(1)));
    let crashed = sim.cluster.row(&head, &opkg("base")).unwrap().clone();
    assert_eq!(sim.roots[&head]["opkg-base"], NEW);
    assert_eq!(sim.roots[&head]["opkg-base-server"], OLD);
    assert_eq!(crashed.current, Some(Stage::RunConfigurator));
    assert_eq!(crashed.version.upgrade(), Some((OLD, NEW)));
    sim.check_roots();
    // Once the lease lapsed the stage runs again, still as the upgrade.
    sim.now += 2 * LEASE_MS;
    let Decision::Perform(again) = sim.cluster.decide(&crashed, sim.now).unwrap() else {
        panic!("the interrupted upgrade is not resumed");
    };
    assert!(again.interrupted);
    assert_eq!(again.stage, Stage::InstallBinPkgs);
    assert_eq!(again.upgrade(), Some((OLD, NEW)));
    sim.settle();
    sim.check_upgraded();
}

#[test]
fn a_pin_on_the_version_in_place_is_up_to_date_and_an_older_one_a_refused_downgrade() {
    let mut sim = Sim::new();
    // Pinned where the rows are: nothing to do.
    let verdicts = sim.upgrade_app_to(OLD, false);
    assert!(
        verdicts
            .iter()
            .all(|verdict| matches!(verdict, UpgradeVerdict::UpToDate { .. })),
        "{verdicts:?}"
    );
    sim.import_and_upgrade_app();
    sim.settle();
    sim.check_upgraded();
    // Pinned back at 1.0-1: a downgrade, refused, and nothing moves.
    let before: Vec<Row> = sim.cluster.rows().cloned().collect();
    let verdicts = sim.upgrade_app_to(OLD, false);
    assert!(
        verdicts
            .iter()
            .all(|verdict| matches!(verdict, UpgradeVerdict::Downgrade { .. })),
        "{verdicts:?}"
    );
    assert_eq!(sim.cluster.rows().cloned().collect::<Vec<_>>(), before);
    assert!(sim.pending().is_empty());
    // Allowed: every row and root goes back to 1.0-1, in place.
    let verdicts = sim.upgrade_app_to(OLD, true);
    assert!(
        verdicts.iter().all(|verdict| matches!(
            verdict,
            UpgradeVerdict::Start {
                downgrade: true,
                ..
            }
        )),
        "{verdicts:?}"
    );
    sim.settle();
    sim.check_at(OLD);
}
