//! A simulation of one head-node row walking up to `finished` and back down
//! to `should_not_be_installed`, each stage's steps recorded as they start
//! and end, under random step fates: done, failed (then `opm retry`, or
//! `opm retry --whole-stage`), or a crash before a step's start record,
//! during the step, or between its exit and its end record. Each attempt
//! begins where [`opm_plan::resume`] says (SPEC §1.1, issue 25).
//!
//! Checked: a step whose completion was recorded never runs again (unless
//! the operator asked for the whole stage); a step is carried only if its
//! completion was recorded; the only completed steps that run twice are
//! the ones killed between their exit and their record, each exactly once
//! more; every step of every stage completes; the row ends converged.

// Test code: the simulator's own bookkeeping unwraps what it just created.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use opm_model::{
    Lease, Name, NameKind, PastAttempt, Phase, Row, Stage, Status, StepRecord, StepResult, Target,
};
use opm_plan::{Cluster, Decision, Idle, resume};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Fate {
    Done,
    /// Fails; the operator's retry is `--whole-stage` when the flag says.
    Fail(bool),
    CrashBeforeStart,
    CrashDuring,
    CrashAfterExit,
}

struct Attempt {
    id: i64,
    stage: Stage,
    passed: bool,
    steps: Vec<StepRecord>,
}

struct Sim {
    cluster: Cluster,
    row: Row,
    now: i64,
    attempts: Vec<Attempt>,
    /// The attempt after which the operator asked for the whole stage.
    restarted: Option<i64>,
    fates: std::vec::IntoIter<Fate>,
    /// Completions of each (stage, step).
    completions: BTreeMap<(Stage, usize), u32>,
    /// Steps whose completion is recorded (reset by a whole-stage retry).
    recorded: BTreeSet<(Stage, usize)>,
    /// Steps killed between their exit and their record, not run since.
    unrecorded: BTreeSet<(Stage, usize)>,
    /// Steps killed between their exit and their record.
    unrecorded_exits: u32,
    /// Completed steps run again.
    second_runs: u32,
}

fn step(position: usize, action: String, result: StepResult) -> StepRecord {
    StepRecord {
        position: u32::try_from(position).unwrap(),
        action,
        result,
        passed_in: None,
        started_ms: 0,
        ended_ms: None,
        exit_code: None,
        output: String::new(),
        output_bytes: None,
    }
}

impl Sim {
    fn new(fates: Vec<Fate>) -> Sim {
        let head = Name::new(NameKind::Node, "head").unwrap();
        let mut cluster = Cluster::new(head.clone(), Phase::Complete);
        let row = Row {
            target: Target::node(head),
            package: Name::new(NameKind::Opkg, "nfs").unwrap(),
            requested: Stage::Finished,
            current: None,
            status: Status::Ok,
            version: opm_model::RowVersion::default(),
        };
        cluster.upsert(row.clone());
        Sim {
            cluster,
            row,
            now: 0,
            attempts: Vec::new(),
            restarted: None,
            fates: fates.into_iter(),
            completions: BTreeMap::new(),
            recorded: BTreeSet::new(),
            unrecorded: BTreeSet::new(),
            unrecorded_exits: 0,
            second_runs: 0,
        }
    }

    fn set_row(&mut self, row: Row) {
        self.row = row.clone();
        self.cluster.upsert(row);
    }

    fn crash(&mut self) {
        let lease = Lease {
            owner: "sim".to_owned(),
            token: 1,
            expires_at_ms: self.now,
        };
        let mut row = self.row.clone();
        row.status = Status::Running { lease };
        self.set_row(row);
    }

    fn complete(&mut self, key: (Stage, usize)) {
        let count = self.completions.entry(key).or_default();
        if *count > 0 {
            assert!(
                self.unrecorded.remove(&key),
                "{key:?} completed before and ran again, though not killed before its record"
            );
            self.second_runs += 1;
        }
        *count += 1;
    }

    /// One decision carried out; false once the row has converged.
    fn act(&mut self) -> bool {
        self.now += 10;
        let work = match self.cluster.decide(&self.row, self.now).unwrap() {
            Decision::Perform(work) => work,
            Decision::Idle(Idle::Converged { .. }) => return false,
            other => panic!("{}: unexpected {other}", self.row),
        };
        let earlier = self.attempts.last().map(|attempt| PastAttempt {
            id: attempt.id,
            stage: attempt.stage,
            passed: attempt.passed,
            restarted: self.restarted == Some(attempt.id),
            steps: attempt.steps.clone(),
        });
        let start = resume(&work, earlier.as_ref());
        for carried in &start.carried {
            assert!(
                self.recorded.contains(&(work.stage, carried.position)),
                "{}: carried step {} whose completion was never recorded",
                work.stage,
                carried.position
            );
        }
        let id = i64::try_from(self.attempts.len()).unwrap() + 1;
        let mut steps: Vec<StepRecord> = start
            .carried
            .iter()
            .map(|carried| StepRecord {
                passed_in: Some(carried.passed_in),
                ..step(
                    carried.position,
                    carried.action.clone(),
                    StepResult::Carried,
                )
            })
            .collect();
        let mut passed = true;
        for (position, action) in work.actions.iter().enumerate().skip(start.start) {
            let key = (work.stage, position);
            assert!(
                !self.recorded.contains(&key),
                "{}: step {position} ran again although its completion was recorded",
                work.stage
            );
            let description = action.describe(&work.package);
            let fate = self.fates.next().unwrap_or(Fate::Done);
            if !matches!(fate, Fate::CrashBeforeStart) {
                steps.push(step(position, description, StepResult::Running));
            }
            let end = |steps: &mut Vec<StepRecord>, result| {
                if let Some(last) = steps.last_mut() {
                    last.result = result;
                }
            };
            match fate {
                Fate::Done => {
                    self.complete(key);
                    end(&mut steps, StepResult::Passed);
                    self.recorded.insert(key);
                }
                Fate::Fail(whole_stage) => {
                    end(&mut steps, StepResult::Failed);
                    let mut row = self.row.clone();
                    row.status = Status::Error {
                        message: format!("{} failed", work.stage),
                    };
                    self.set_row(row);
                    self.attempts.push(Attempt {
                        id,
                        stage: work.stage,
                        passed: false,
                        steps,
                    });
                    // The operator's retry.
                    if whole_stage {
                        self.restarted = Some(id);
                        // Asked for: the stage's completed steps run again.
                        self.recorded.retain(|(stage, _)| *stage != work.stage);
                        self.completions
                            .retain(|(stage, _), _| *stage != work.stage);
                        let before = self.unrecorded.len();
                        self.unrecorded.retain(|(stage, _)| *stage != work.stage);
                        self.unrecorded_exits -=
                            u32::try_from(before - self.unrecorded.len()).unwrap();
                    }
                    let mut row = self.row.clone();
                    row.status = Status::Ok;
                    self.set_row(row);
                    return true;
                }
                Fate::CrashBeforeStart | Fate::CrashDuring | Fate::CrashAfterExit => {
                    if matches!(fate, Fate::CrashAfterExit) {
                        self.complete(key);
                        self.unrecorded.insert(key);
                        self.unrecorded_exits += 1;
                    }
                    passed = false;
                    break;
                }
            }
        }
        self.attempts.push(Attempt {
            id,
            stage: work.stage,
            passed,
            steps,
        });
        if passed {
            let mut row = self.row.clone();
            row.current = Some(work.stage);
            row.status = Status::Ok;
            self.set_row(row);
            // The stage is behind the row now; a later attempt of it (after
            // an uninstall) is a new one.
            self.recorded.retain(|(stage, _)| *stage != work.stage);
        } else {
            self.crash();
        }
        true
    }

    fn converge(&mut self) {
        for _ in 0..1_000 {
            if !self.act() {
                return;
            }
        }
        panic!("{} did not converge", self.row);
    }

    fn check(&self) {
        assert!(
            self.unrecorded.is_empty(),
            "never run again: {:?}",
            self.unrecorded
        );
        assert_eq!(
            self.second_runs, self.unrecorded_exits,
            "completed steps ran twice other than those killed before their record"
        );
        for attempt in &self.attempts {
            if !attempt.passed {
                continue;
            }
            for (position, recorded) in attempt.steps.iter().enumerate() {
                assert_eq!(usize::try_from(recorded.position).unwrap(), position);
                assert!(recorded.result.is_done(), "{}: {recorded:?}", attempt.stage);
                assert!(
                    self.completions.get(&(attempt.stage, position)) >= Some(&1),
                    "{} step {position} passed but never ran",
                    attempt.stage
                );
            }
        }
    }
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        6 => Just(Fate::Done),
        1 => any::<bool>().prop_map(Fate::Fail),
        1 => Just(Fate::CrashBeforeStart),
        1 => Just(Fate::CrashDuring),
        1 => Just(Fate::CrashAfterExit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn crashes_at_every_step_boundary_never_run_a_recorded_step_twice(
        fates in proptest::collection::vec(fate(), 0..80)
    ) {
        let mut sim = Sim::new(fates);
        sim.converge();
        prop_assert_eq!(sim.row.current, Some(Stage::Finished));
        let mut row = sim.row.clone();
        row.requested = Stage::ShouldNotBeInstalled;
        sim.set_row(row);
        sim.converge();
        prop_assert_eq!(sim.row.current, Some(Stage::ShouldNotBeInstalled));
        sim.check();
    }
}

#[test]
fn a_crash_after_every_step_loses_nothing_and_repeats_nothing() {
    // Killed right after each step's record: every step runs exactly once.
    let fates: Vec<Fate> = (0..40)
        .flat_map(|_| [Fate::Done, Fate::CrashBeforeStart])
        .collect();
    let mut sim = Sim::new(fates);
    sim.converge();
    sim.check();
    assert_eq!(sim.second_runs, 0);
    assert!(sim.completions.values().all(|count| *count == 1));
    assert!(sim.attempts.len() > 8, "the crashes did cut stages");
}
