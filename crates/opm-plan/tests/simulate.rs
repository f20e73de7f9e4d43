//! A small in-memory cluster driven only by the planner's decisions, under
//! random sequences of phase changes, install and remove requests, stage
//! outcomes (success, failure, crash mid-stage) and operator retries.
//!
//! As the engine does, only pending rows are worked, and each decision to
//! perform a stage must pass the store's acceptance rule, judged from the
//! row and its newest attempt as the store keeps them: a refusal would make
//! the engine decide the same again forever (issue 16). Crashes happen
//! before, between and after a stage's actions.
//!
//! Checked after every step: no stage is skipped, a row in error is never
//! acted on, `current` is never a failed stage, gates hold, image work goes
//! into the image, the store admits every stage the planner decides. Checked at the end, once every gate is open and no
//! failure is injected: every row converges; an installed opkg is on the
//! server, every image and every node of its groups; a removed one ends at
//! `should_not_be_installed` everywhere with no native package left behind.

// Test code: the simulator's own bookkeeping unwraps what it just created.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use opm_model::{
    Lease, Name, NameKind, Part, Phase, Row, Stage, Status, Target, TargetKind, legal_step,
};
use opm_plan::{
    Action, Blocked, Cluster, Decision, Idle, RequestChange, RootRef, Step, Unfinished, Work,
};
use proptest::prelude::*;

const PACKAGES: [&str; 3] = ["base", "app", "tool"];
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
    Phase(Phase),
    Install(usize),
    Remove(usize, bool),
    Step(usize, Outcome),
    Retry(usize),
    Tick(i64),
}

#[derive(Debug, PartialEq, Eq)]
enum Acted {
    Nothing,
    Performed,
    Requested,
}

struct Sim {
    cluster: Cluster,
    now: i64,
    /// Native packages present in each target's root.
    installed: BTreeMap<Target, BTreeSet<String>>,
    /// The stage each row last failed going up at; `None` when its last
    /// failure was the uninstall path (which leaves `current` as it was).
    last_failed: BTreeMap<(Target, Name), Option<Stage>>,
    /// Each row's newest attempt as the store's history holds it: its
    /// stage and whether it passed (a crashed one has not).
    newest_attempt: BTreeMap<(Target, Name), (Stage, bool)>,
}

impl Sim {
    fn new() -> Sim {
        let mut cluster = Cluster::new(name(NameKind::Node, "head"), Phase::SetupWizard);
        let clients = name(NameKind::Group, "oscar_clients");
        let gpu = name(NameKind::Group, "gpu");
        cluster.nodes.insert(
            name(NameKind::Node, "n1"),
            [clients.clone()].into_iter().collect(),
        );
        cluster.nodes.insert(
            name(NameKind::Node, "n2"),
            [clients.clone(), gpu].into_iter().collect(),
        );
        cluster.images.insert(
            name(NameKind::Image, "img1"),
            PathBuf::from("/var/lib/oscar/images/img1"),
        );
        for package in PACKAGES {
            cluster
                .selections
                .insert(opkg(package), [clients.clone()].into_iter().collect());
        }
        cluster
            .depends_on
            .insert(opkg("app"), [opkg("base")].into_iter().collect());
        Sim {
            cluster,
            now: 0,
            installed: BTreeMap::new(),
            last_failed: BTreeMap::new(),
            newest_attempt: BTreeMap::new(),
        }
    }

    /// The rows the engine works: the pending ones, as the store's
    /// pending index holds them.
    fn pending(&self) -> Vec<Row> {
        self.cluster
            .rows()
            .filter(|row| row.is_pending())
            .cloned()
            .collect()
    }

    /// Whether the store admits an attempt of `work` on `row`: the store's
    /// check, on the row and the newest attempt it keeps.
    fn store_admits(&self, row: &Row, work: &Work) -> bool {
        let unfinished = self
            .newest_attempt
            .get(&(row.target.clone(), row.package.clone()))
            .and_then(|(stage, passed)| Unfinished::after(*stage, *passed));
        legal_step(row.current, row.requested, unfinished).begins(work.stage)
    }

    fn rows(&self) -> Vec<Row> {
        self.cluster.rows().cloned().collect()
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Phase(phase) => self.cluster.phase = phase,
            Op::Install(index) => self.install(&opkg(PACKAGES[index])),
            Op::Remove(index, with_dependents) => {
                self.remove(&opkg(PACKAGES[index]), with_dependents);
            }
            Op::Step(index, outcome) => {
                let rows = self.pending();
                if !rows.is_empty() {
                    self.act(&rows[index % rows.len()], outcome);
                }
            }
            Op::Retry(index) => {
                let failed: Vec<Row> = self
                    .rows()
                    .into_iter()
                    .filter(|row| matches!(row.status, Status::Error { .. }))
                    .collect();
                if !failed.is_empty() {
                    self.retry(failed[index % failed.len()].clone());
                }
            }
            Op::Tick(ms) => self.now += ms,
        }
        self.check_rows();
    }

    /// `opm install`: the opkg and (as an admin would) what it depends on.
    fn install(&mut self, package: &Name) {
        let mut wanted = vec![package.clone()];
        if let Some(dependencies) = self.cluster.depends_on.get(package) {
            wanted.extend(dependencies.iter().cloned());
        }
        for package in wanted {
            self.cluster.remove_dependents.remove(&package);
            for change in self.cluster.install_requests(&package) {
                self.request(&change);
            }
        }
    }

    /// `opm remove`, refused while a dependent is installed or requested on
    /// the head node unless it takes the dependents along.
    fn remove(&mut self, package: &Name, with_dependents: bool) {
        match self.cluster.remove_requests(package, with_dependents) {
            Ok(changes) => {
                for change in changes {
                    if with_dependents {
                        self.cluster
                            .remove_dependents
                            .insert(change.package.clone());
                    }
                    self.request(&change);
                }
            }
            Err(dependents) => {
                assert!(!with_dependents && !dependents.is_empty());
            }
        }
    }

    fn retry(&mut self, mut row: Row) {
        row.status = Status::Ok;
        let (target, package) = (row.target.clone(), row.package.clone());
        self.cluster.upsert(row);
        self.keep_pending(&target, &package);
    }

    /// A request change, as the store writes it.
    fn request(&mut self, change: &RequestChange) {
        self.cluster.apply(change);
        self.keep_pending(&change.target, &change.package);
    }

    /// The store's rule after a request or a retry: a row that would look
    /// converged while its newest attempt left work the ladder asks for
    /// gets `current` unknown, so it stays pending.
    fn keep_pending(&mut self, target: &Target, package: &Name) {
        let Some(row) = self.cluster.row(target, package) else {
            return;
        };
        let unfinished = self
            .newest_attempt
            .get(&(target.clone(), package.clone()))
            .and_then(|(stage, passed)| Unfinished::after(*stage, *passed));
        let step = legal_step(row.current, row.requested, unfinished);
        if row.status == Status::Ok
            && row.current == Some(row.requested)
            && !matches!(step, Step::Converged | Step::Ahead)
        {
            let mut row = row.clone();
            row.current = None;
            self.cluster.upsert(row);
        }
    }

    /// Asks the planner about `row` and carries the decision out.
    fn act(&mut self, row: &Row, outcome: Outcome) -> Acted {
        let decision = self.cluster.decide(row, self.now).unwrap();
        if matches!(row.status, Status::Error { .. }) {
            assert!(
                matches!(decision, Decision::Blocked(Blocked::Error { .. })),
                "{row} is in error but the planner said: {decision}"
            );
        }
        match decision {
            Decision::Perform(work) => {
                assert!(
                    self.store_admits(row, &work),
                    "{row}: the planner decided {work}, the store would refuse it \
                     (the engine would decide it again forever)"
                );
                self.check_work(row, &work);
                self.perform(row, &work, outcome);
                Acted::Performed
            }
            Decision::Request { changes } => {
                assert!(!changes.is_empty(), "{row}: empty request");
                for change in &changes {
                    let before = self.cluster.row(&change.target, &change.package);
                    assert!(
                        before.is_none_or(|before| before.requested != change.requested),
                        "{row}: request {change} changes nothing, the planner would loop"
                    );
                    self.request(change);
                }
                Acted::Requested
            }
            Decision::Release { .. } => {
                let Status::Running { lease } = &row.status else {
                    panic!("{row}: release without a lease");
                };
                assert!(lease.expired(self.now), "{row}: released a live lease");
                self.retry(row.clone());
                Acted::Performed
            }
            Decision::Blocked(Blocked::Leased { expires_at_ms, .. }) => {
                assert!(expires_at_ms > self.now);
                Acted::Nothing
            }
            Decision::Blocked(_) | Decision::Idle(_) => Acted::Nothing,
        }
    }

    fn check_work(&self, row: &Row, work: &Work) {
        assert_eq!(work.package, row.package);
        assert_eq!(
            work.interrupted,
            matches!(row.status, Status::Running { .. }),
            "{row}: interrupted flag"
        );
        let current = row.effective_current();
        if work.is_uninstall() {
            let finishing = self.unfinished(row) == Some(Unfinished::Uninstall);
            assert!(
                row.requested == Stage::ShouldNotBeInstalled || finishing,
                "{row}: uninstall not requested"
            );
            assert!(
                current > Stage::ShouldNotBeInstalled || self.unfinished(row).is_some(),
                "{row}: nothing to uninstall"
            );
        } else {
            assert_eq!(current.next(), Some(work.stage), "{row}: skipped a stage");
            assert!(work.stage <= row.requested, "{row}: past the request");
            if let Some(gate) = work.stage.gate() {
                assert!(self.cluster.phase.opens(gate), "{row}: gate {gate} closed");
            }
        }
        if row.target.kind == TargetKind::Image {
            for action in &work.actions {
                if let Action::Install { root, .. } | Action::Remove { root, .. } = action {
                    assert!(
                        matches!(root, RootRef::Image(image) if image.name == row.target.name),
                        "{row}: image work outside the image"
                    );
                }
            }
        }
    }

    fn unfinished(&self, row: &Row) -> Option<Unfinished> {
        self.cluster
            .unfinished
            .get(&(row.target.clone(), row.package.clone()))
            .copied()
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
            self.carry_out(row, action);
        }
        let mut updated = self.cluster.row(&row.target, &row.package).unwrap().clone();
        // What the engine reads from history: did the last attempt go above
        // current and not complete?
        let key = (row.target.clone(), row.package.clone());
        self.newest_attempt
            .insert(key.clone(), (work.stage, status.is_none()));
        if status.is_none() {
            self.cluster.unfinished.remove(&key);
        } else if work.is_uninstall() {
            self.cluster.unfinished.insert(key, Unfinished::Uninstall);
        } else {
            self.cluster.unfinished.insert(key, Unfinished::Up);
        }
        match status {
            None => {
                updated.current = Some(work.stage);
                updated.status = Status::Ok;
            }
            Some(status) => {
                if matches!(status, Status::Error { .. }) {
                    let up = (!work.is_uninstall()).then_some(work.stage);
                    self.last_failed
                        .insert((row.target.clone(), row.package.clone()), up);
                    // The store's finish: an attempt from the bottom that
                    // did not pass leaves current unknown.
                    if updated.effective_current() == Stage::ShouldNotBeInstalled {
                        updated.current = None;
                    }
                }
                updated.status = status;
            }
        }
        let before = row.effective_current();
        let after = updated.effective_current();
        assert!(
            after == before
                || Some(after) == before.next()
                || (work.is_uninstall() && after == Stage::ShouldNotBeInstalled),
            "{row}: current jumped from {before} to {after}"
        );
        self.cluster.upsert(updated);
    }

    fn carry_out(&mut self, row: &Row, action: &Action) {
        let root_target = |root: &RootRef| match root {
            RootRef::Own => row.target.clone(),
            RootRef::Image(image) => Target::image(image.name.clone()),
        };
        match action {
            Action::Install { part, root } => {
                self.installed
                    .entry(root_target(root))
                    .or_default()
                    .insert(part.native_name(row.package.as_str()));
            }
            Action::Remove { part, root } => {
                self.installed
                    .entry(root_target(root))
                    .or_default()
                    .remove(&part.native_name(row.package.as_str()));
            }
            Action::AssignClients => {
                for change in self.cluster.assign_clients(&row.package) {
                    self.request(&change);
                }
            }
            Action::RunScript { .. } | Action::SettleConfiguration => {}
        }
    }

    /// Invariants that hold between any two steps.
    fn check_rows(&self) {
        for row in self.cluster.rows() {
            if matches!(row.status, Status::Error { .. }) {
                let failed = self
                    .last_failed
                    .get(&(row.target.clone(), row.package.clone()))
                    .expect("an error row has a failed stage");
                if let Some(failed) = failed {
                    assert_ne!(
                        row.effective_current(),
                        *failed,
                        "{row}: current is the failed stage"
                    );
                }
            }
        }
    }

    /// Opens every gate, lets every lease lapse, retries every error and
    /// runs passes without failures until nothing moves.
    fn settle(&mut self) {
        self.cluster.phase = Phase::Complete;
        for _ in 0..200 {
            self.now += 10 * LEASE_MS;
            for row in self.rows() {
                if matches!(row.status, Status::Error { .. }) {
                    self.retry(row);
                }
            }
            let mut moved = false;
            for row in self.pending() {
                // Earlier rows of this pass may have changed this one.
                let row = self.cluster.row(&row.target, &row.package).unwrap().clone();
                if !row.is_pending() {
                    continue;
                }
                moved |= self.act(&row, Outcome::Success) != Acted::Nothing;
                self.check_rows();
            }
            if !moved {
                return;
            }
        }
        panic!("the cluster did not settle in 200 passes");
    }

    fn check_converged(&self) {
        for row in self.cluster.rows() {
            let decision = self.cluster.decide(row, self.now).unwrap();
            assert_eq!(
                decision,
                Decision::Idle(Idle::Converged {
                    stage: row.requested
                }),
                "{row} did not converge: {decision}"
            );
            assert_eq!(row.status, Status::Ok, "{row}");
        }
        let head = Target::node(self.cluster.head.clone());
        for package in PACKAGES.map(opkg) {
            let natives = Part::ALL.map(|part| part.native_name(package.as_str()));
            let present_on = |target: &Target| -> BTreeSet<&str> {
                self.installed
                    .get(target)
                    .into_iter()
                    .flatten()
                    .filter(|native| natives.contains(native))
                    .map(String::as_str)
                    .collect()
            };
            let wanted = self
                .cluster
                .row(&head, &package)
                .is_some_and(|row| row.requested == Stage::Finished);
            let mut clients: Vec<Target> = self
                .cluster
                .nodes
                .keys()
                .cloned()
                .map(Target::node)
                .collect();
            clients.extend(self.cluster.images.keys().cloned().map(Target::image));
            if wanted {
                let server_parts: BTreeSet<&str> =
                    [natives[0].as_str(), natives[1].as_str()].into();
                assert_eq!(present_on(&head), server_parts, "{package} on the server");
                for target in std::iter::once(&head).chain(&clients) {
                    let row = self.cluster.row(target, &package);
                    assert_eq!(
                        row.and_then(|row| row.current),
                        Some(Stage::Finished),
                        "{target} / {package} should be installed"
                    );
                }
                for target in &clients {
                    let client_part: BTreeSet<&str> = [natives[2].as_str()].into();
                    assert_eq!(present_on(target), client_part, "{target} / {package}");
                }
            } else {
                for row in self.cluster.rows_of(&package) {
                    assert_eq!(
                        row.current,
                        Some(Stage::ShouldNotBeInstalled),
                        "{row} should be uninstalled"
                    );
                }
                for target in std::iter::once(&head).chain(&clients) {
                    assert!(
                        present_on(target).is_empty(),
                        "{target} / {package}: {:?} left behind",
                        present_on(target)
                    );
                }
            }
        }
    }
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        6 => Just(Outcome::Success),
        1 => any::<usize>().prop_map(Outcome::Fail),
        1 => any::<usize>().prop_map(Outcome::Crash),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => proptest::sample::select(Phase::ALL.to_vec()).prop_map(Op::Phase),
        2 => (0..PACKAGES.len()).prop_map(Op::Install),
        1 => (0..PACKAGES.len(), any::<bool>()).prop_map(|(p, with)| Op::Remove(p, with)),
        10 => (any::<usize>(), outcome()).prop_map(|(row, outcome)| Op::Step(row, outcome)),
        1 => any::<usize>().prop_map(Op::Retry),
        1 => (0..3 * LEASE_MS).prop_map(Op::Tick),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_keep_the_rules_and_converge(ops in proptest::collection::vec(op(), 0..150)) {
        let mut sim = Sim::new();
        for op in &ops {
            sim.apply(op);
        }
        sim.settle();
        sim.check_converged();
    }
}

#[test]
fn a_whole_install_then_remove_walks_every_row_to_the_end() {
    let mut sim = Sim::new();
    for package in 0..PACKAGES.len() {
        sim.apply(&Op::Install(package));
    }
    // Gates opened one phase at a time, as the install wizard would.
    for phase in Phase::ALL {
        sim.apply(&Op::Phase(phase));
        sim.settle_in_phase(phase);
    }
    sim.check_converged();
    // 3 opkgs × (head + 2 nodes + 1 image).
    assert_eq!(sim.cluster.rows().count(), 12);
    assert!(
        sim.cluster
            .rows()
            .all(|row| row.current == Some(Stage::Finished))
    );

    // base is needed by app: refused, then taken along.
    sim.apply(&Op::Remove(0, false));
    assert!(
        sim.cluster
            .rows()
            .all(|row| row.requested == Stage::Finished)
    );
    sim.apply(&Op::Remove(0, true));
    sim.settle();
    sim.check_converged();
    for package in ["base", "app"] {
        assert!(
            sim.cluster
                .rows_of(&opkg(package))
                .all(|row| row.current == Some(Stage::ShouldNotBeInstalled))
        );
    }
    assert!(
        sim.cluster
            .rows_of(&opkg("tool"))
            .all(|row| row.current == Some(Stage::Finished))
    );
}

impl Sim {
    /// Runs passes in the current phase (no failures) until nothing moves.
    fn settle_in_phase(&mut self, phase: Phase) {
        loop {
            let mut moved = false;
            for row in self.rows() {
                let row = self.cluster.row(&row.target, &row.package).unwrap().clone();
                moved |= self.act(&row, Outcome::Success) != Acted::Nothing;
            }
            self.check_rows();
            assert_eq!(self.cluster.phase, phase);
            if !moved {
                return;
            }
        }
    }
}

/// Found by the property once it worked only pending rows: an uninstall
/// that failed after removing the image's package, then `opm install`
/// again and `opm retry`, left the row converged at finished (not pending)
/// with the package gone. The store's rule keeps it pending; the
/// uninstall is finished and the row climbs again.
#[test]
fn a_failed_uninstall_requested_back_up_is_finished_and_climbs_again() {
    let mut sim = Sim::new();
    sim.apply(&Op::Install(2));
    sim.settle();
    sim.check_converged();
    let tool = opkg("tool");
    let head = Target::node(sim.cluster.head.clone());
    let image = Target::image(name(NameKind::Image, "img1"));
    sim.apply(&Op::Remove(2, false));
    // Every row of the opkg is requested down; the server waits for the
    // image.
    let server = sim.cluster.row(&head, &tool).unwrap().clone();
    assert_eq!(sim.act(&server, Outcome::Success), Acted::Nothing);
    // The image's uninstall removes the package, then a script fails.
    let row = sim.cluster.row(&image, &tool).unwrap().clone();
    assert_eq!(sim.act(&row, Outcome::Fail(2)), Acted::Performed);
    assert!(!sim.installed[&image].contains("opkg-tool-client"));
    sim.apply(&Op::Install(2));
    let row = sim.cluster.row(&image, &tool).unwrap().clone();
    sim.retry(row);
    let row = sim.cluster.row(&image, &tool).unwrap();
    assert!(row.is_pending(), "{row:?}");
    sim.settle();
    sim.check_converged();
}
