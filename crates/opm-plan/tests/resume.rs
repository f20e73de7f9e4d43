//! Named cases for [`opm_plan::resume`]: where the next attempt of a stage
//! begins, given the row's newest attempt (SPEC §1.1 last paragraph, §1.3
//! rule 6, issue 25).

// Test helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

use opm_model::{Name, NameKind, PastAttempt, Stage, StepRecord, StepResult};
use opm_plan::{Resume, RowRole, Work, resume, stage_actions, uninstall_actions};

fn work(stage: Stage) -> Work {
    let actions = if stage == Stage::ShouldNotBeInstalled {
        uninstall_actions(&RowRole::Server)
    } else {
        stage_actions(&RowRole::Server, stage, &[])
    };
    Work {
        package: Name::new(NameKind::Opkg, "nfs").unwrap(),
        stage,
        actions,
        interrupted: true,
        version: None,
        upgrade_from: None,
    }
}

fn step(work: &Work, position: usize, result: StepResult, passed_in: Option<i64>) -> StepRecord {
    StepRecord {
        position: u32::try_from(position).unwrap(),
        action: work.actions[position].describe(&work.package),
        result,
        passed_in,
        started_ms: 1,
        ended_ms: None,
        exit_code: None,
        output: String::new(),
        output_bytes: None,
    }
}

fn earlier(
    id: i64,
    stage: Stage,
    passed: bool,
    restarted: bool,
    steps: Vec<StepRecord>,
) -> PastAttempt {
    PastAttempt {
        id,
        stage,
        passed,
        restarted,
        steps,
    }
}

/// A named case: the stage, the row's newest attempt, the first step to
/// run, and the attempt each carried step passed in.
type Case<'a> = (&'a str, &'a Work, Option<PastAttempt>, usize, Vec<i64>);

/// The start step of each case, and what it carries from where.
fn starts(case: &str, work: &Work, past: Option<&PastAttempt>, start: usize, passed_in: &[i64]) {
    let got = resume(work, past);
    assert_eq!(got.start, start, "{case}: {got:?}");
    assert_eq!(got.carried.len(), start, "{case}: {got:?}");
    let carried_from: Vec<i64> = got.carried.iter().map(|c| c.passed_in).collect();
    assert_eq!(carried_from, passed_in, "{case}");
    for (position, carried) in got.carried.iter().enumerate() {
        assert_eq!(carried.position, position, "{case}");
        assert_eq!(
            carried.action,
            work.actions[position].describe(&work.package),
            "{case}"
        );
    }
}

#[test]
fn where_the_next_attempt_begins() {
    use StepResult::*;
    let install = work(Stage::ShouldBeInstalled);
    let configure = work(Stage::RunConfigurator);
    let s = |position, result| step(&install, position, result, None);
    let cases: Vec<Case> = vec![
        (
            "§1.1 a first attempt runs every step",
            &install,
            None,
            0,
            vec![],
        ),
        (
            "§1.1 killed in the second script: the install and first script are not run again",
            &install,
            Some(earlier(
                7,
                Stage::ShouldBeInstalled,
                false,
                false,
                vec![s(0, Passed), s(1, Passed), s(2, Running)],
            )),
            2,
            vec![7, 7],
        ),
        (
            "§1.1 killed between a step's end and the next one's start",
            &install,
            Some(earlier(
                7,
                Stage::ShouldBeInstalled,
                false,
                false,
                vec![s(0, Passed)],
            )),
            1,
            vec![7],
        ),
        (
            "§1.1 killed before any step began: the whole stage",
            &install,
            Some(earlier(7, Stage::ShouldBeInstalled, false, false, vec![])),
            0,
            vec![],
        ),
        (
            "§1.1 every step passed but the stage was not recorded: nothing runs",
            &install,
            Some(earlier(
                7,
                Stage::ShouldBeInstalled,
                false,
                false,
                vec![s(0, Passed), s(1, Passed), s(2, Passed)],
            )),
            3,
            vec![7, 7, 7],
        ),
        (
            "§1.3 rule 6 a failed step runs again after opm retry, the ones before it do not",
            &install,
            Some(earlier(
                7,
                Stage::ShouldBeInstalled,
                false,
                false,
                vec![s(0, Passed), s(1, Failed)],
            )),
            1,
            vec![7],
        ),
        (
            "§1.3 rule 6 opm retry --whole-stage runs from the first step",
            &install,
            Some(earlier(
                7,
                Stage::ShouldBeInstalled,
                false,
                true,
                vec![s(0, Passed), s(1, Failed)],
            )),
            0,
            vec![],
        ),
        (
            "§1.1 a second crash: carried steps keep the attempt they passed in",
            &install,
            Some(earlier(
                9,
                Stage::ShouldBeInstalled,
                false,
                false,
                vec![
                    step(&install, 0, Carried, Some(7)),
                    s(1, Passed),
                    s(2, Interrupted),
                ],
            )),
            2,
            vec![7, 9],
        ),
        (
            "§1.1 a gap stops the carrying: later passed steps run again",
            &install,
            Some(earlier(
                7,
                Stage::ShouldBeInstalled,
                false,
                false,
                vec![s(0, Passed), s(1, Failed), s(2, Passed)],
            )),
            1,
            vec![7],
        ),
        (
            "§1.1 a passed stage (opm rerun) runs whole",
            &install,
            Some(earlier(
                7,
                Stage::ShouldBeInstalled,
                true,
                false,
                vec![s(0, Passed), s(1, Passed), s(2, Passed)],
            )),
            0,
            vec![],
        ),
        (
            "§1.5 the newest attempt is of another stage: nothing carries over",
            &install,
            Some(earlier(
                7,
                Stage::ShouldNotBeInstalled,
                false,
                false,
                vec![step(&work(Stage::ShouldNotBeInstalled), 0, Passed, None)],
            )),
            0,
            vec![],
        ),
        (
            "§1.8 a step whose action changed runs again",
            &configure,
            Some(earlier(
                7,
                Stage::RunConfigurator,
                false,
                false,
                vec![StepRecord {
                    action: "run something-else".to_owned(),
                    ..step(&configure, 0, Passed, None)
                }],
            )),
            0,
            vec![],
        ),
    ];
    for (case, work, past, start, passed_in) in cases {
        starts(case, work, past.as_ref(), start, &passed_in);
    }
}

#[test]
fn the_uninstall_path_resumes_after_its_removal() {
    let down = work(Stage::ShouldNotBeInstalled);
    let steps: Vec<StepRecord> = (0..3)
        .map(|position| step(&down, position, StepResult::Passed, None))
        .chain([step(&down, 3, StepResult::Running, None)])
        .collect();
    let past = earlier(3, Stage::ShouldNotBeInstalled, false, false, steps);
    let got = resume(&down, Some(&past));
    assert_eq!(got.start, 3);
    assert_eq!(got.from, Some(3));
    assert_eq!(
        got.to_string(),
        "resuming attempt 3 at step 4: steps 1 to 3 passed already"
    );
}

#[test]
fn a_fresh_stage_says_so() {
    let install = work(Stage::ShouldBeInstalled);
    assert_eq!(resume(&install, None), Resume::whole());
    assert_eq!(
        Resume::whole().to_string(),
        "running the stage from its first step"
    );
}
