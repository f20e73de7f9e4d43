//! The steps of an attempt (SPEC §1.1): recorded when they start and when
//! they end under the attempt's lease, read back with a step cut short by a
//! crash shown as interrupted, and the row's newest attempt as the next one
//! resumes it; on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{import, node, opkg};
use opm_model::{PastAttempt, Stage, StepRecord, StepResult};
use opm_store::{AttemptId, Outcome, RowAfter, RowId, Store, StoreError};

fn running(position: u32, action: &str, at: i64) -> StepRecord {
    StepRecord {
        position,
        action: action.to_owned(),
        result: StepResult::Running,
        passed_in: None,
        started_ms: at,
        ended_ms: None,
        exit_code: None,
        output: String::new(),
        output_bytes: Some(0),
    }
}

fn ended(step: &StepRecord, passed: bool, code: i32, output: &str, at: i64) -> StepRecord {
    StepRecord {
        result: if passed {
            StepResult::Passed
        } else {
            StepResult::Failed
        },
        ended_ms: Some(at),
        exit_code: Some(code),
        output: output.to_owned(),
        output_bytes: Some(output.len() as u64),
        ..step.clone()
    }
}

/// A row of `pkg` on the head node requested finished, leased; its id and
/// the lease token.
async fn leased_row(store: &impl Store, pkg: &str) -> (RowId, u64) {
    store.import_opkg(&import(pkg), 1).await.unwrap();
    let row = store
        .request(&node("head"), &opkg(pkg), Stage::Finished, 1)
        .await
        .unwrap();
    let lease = store
        .acquire_lease(&node("head"), "engine", 60_000, 2)
        .await
        .unwrap();
    (row.id, lease.token)
}

async fn fail(store: &impl Store, attempt: AttemptId, token: u64, at: i64) {
    store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: false,
                exit_code: Some(3),
                output: "== run api-post-install\nboom\n".to_owned(),
                output_bytes: 29,
            },
            &RowAfter {
                current: None,
                error: Some("run api-post-install failed: exit code 3".to_owned()),
                version: None,
            },
            token,
            at,
        )
        .await
        .unwrap();
}

async fn steps_are_recorded_as_they_start_and_end(store: &impl Store) {
    let (row, token) = leased_row(store, "nfs").await;
    assert_eq!(store.last_attempt(row).await.unwrap(), None);
    let attempt = store
        .begin_attempt(row, Stage::ShouldBeInstalled, token, 3)
        .await
        .unwrap();
    let install = running(0, "install opkg-nfs into this machine's root", 4);
    store
        .record_steps(attempt, std::slice::from_ref(&install), token)
        .await
        .unwrap();
    assert_eq!(
        store.steps(attempt).await.unwrap(),
        std::slice::from_ref(&install)
    );
    let installed = ended(&install, true, 0, "unpacked\n", 5);
    let script = running(1, "run api-pre-install", 6);
    store
        .record_steps(attempt, &[installed.clone(), script.clone()], token)
        .await
        .unwrap();
    let done = ended(&script, true, 0, "exported /home\n", 7);
    store
        .record_steps(attempt, std::slice::from_ref(&done), token)
        .await
        .unwrap();
    // Sent again, or a late "running" for an ended step: nothing changes.
    store
        .record_steps(
            attempt,
            &[script.clone(), ended(&done, false, 9, "", 8)],
            token,
        )
        .await
        .unwrap();
    let post = running(2, "run api-post-install", 9);
    store
        .record_steps(attempt, std::slice::from_ref(&post), token)
        .await
        .unwrap();
    assert_eq!(
        store.steps(attempt).await.unwrap(),
        [installed.clone(), done.clone(), post.clone()]
    );
    // The process dies in api-post-install; the next attempt closes this
    // one: the step under way reads as interrupted.
    let next = store
        .begin_attempt(row, Stage::ShouldBeInstalled, token, 20)
        .await
        .unwrap();
    let cut = StepRecord {
        result: StepResult::Interrupted,
        ..post
    };
    let past = store.last_attempt(row).await.unwrap().unwrap();
    assert_eq!(
        past,
        PastAttempt {
            id: next.0,
            stage: Stage::ShouldBeInstalled,
            passed: false,
            restarted: false,
            steps: Vec::new(),
        }
    );
    assert_eq!(store.steps(attempt).await.unwrap(), [installed, done, cut]);
}
on_both_backends!(steps_are_recorded_as_they_start_and_end);

async fn the_newest_attempt_says_where_to_resume(store: &impl Store) {
    let (row, token) = leased_row(store, "nfs").await;
    let first = store
        .begin_attempt(row, Stage::ShouldBeInstalled, token, 3)
        .await
        .unwrap();
    let pre = ended(&running(1, "run api-pre-install", 4), true, 0, "", 5);
    let post = ended(
        &running(2, "run api-post-install", 6),
        false,
        3,
        "boom\n",
        7,
    );
    store
        .record_steps(first, &[pre.clone(), post.clone()], token)
        .await
        .unwrap();
    fail(store, first, token, 8).await;
    let past = store.last_attempt(row).await.unwrap().unwrap();
    assert_eq!(past.id, first.0);
    assert!(!past.passed && !past.restarted);
    assert_eq!(past.steps, [pre.clone(), post]);

    // opm retry: the stage resumes at the failed step.
    store
        .retry(&node("head"), &opkg("nfs"), "fixed exports", 9)
        .await
        .unwrap();
    assert!(!store.last_attempt(row).await.unwrap().unwrap().restarted);
    let lease = store
        .acquire_lease(&node("head"), "engine", 60_000, 100_000)
        .await
        .unwrap();
    let second = store
        .begin_attempt(row, Stage::ShouldBeInstalled, lease.token, 100_001)
        .await
        .unwrap();
    let carried = StepRecord {
        result: StepResult::Carried,
        passed_in: Some(first.0),
        ..pre
    };
    store
        .record_steps(second, std::slice::from_ref(&carried), lease.token)
        .await
        .unwrap();
    fail(store, second, lease.token, 100_002).await;
    assert_eq!(
        store.last_attempt(row).await.unwrap().unwrap().steps,
        [carried]
    );

    // opm retry --whole-stage: from the first step.
    store
        .restart_stage(&node("head"), &opkg("nfs"), "start over", 100_003)
        .await
        .unwrap();
    let past = store.last_attempt(row).await.unwrap().unwrap();
    assert_eq!(past.id, second.0);
    assert!(past.restarted);
    let history = store
        .history(&opm_store::HistoryFilter {
            target: None,
            opkg: None,
            limit: 10,
        })
        .await
        .unwrap();
    let restart = history.last().unwrap();
    assert_eq!(
        (restart.note.as_str(), restart.whole_stage),
        ("start over", true)
    );
    assert!(!history[history.len() - 3].whole_stage);
}
on_both_backends!(the_newest_attempt_says_where_to_resume);

async fn only_the_attempts_lease_records_its_steps(store: &impl Store) {
    let (row, token) = leased_row(store, "nfs").await;
    let attempt = store
        .begin_attempt(row, Stage::ShouldBeInstalled, token, 3)
        .await
        .unwrap();
    let step = running(0, "run api-pre-install", 4);
    let stale = store
        .record_steps(attempt, std::slice::from_ref(&step), token + 1)
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::StaleToken { .. }), "{stale:?}");
    let unknown = store
        .record_steps(
            AttemptId(attempt.0 + 100),
            std::slice::from_ref(&step),
            token,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, StoreError::UnknownAttempt { .. }),
        "{unknown:?}"
    );
    let cut = StepRecord {
        result: StepResult::Interrupted,
        ..step.clone()
    };
    let invalid = store
        .record_steps(attempt, &[cut], token)
        .await
        .unwrap_err();
    assert!(
        matches!(invalid, StoreError::InvalidStep { .. }) && invalid.is_bad_input(),
        "{invalid:?}"
    );
    let nameless = StepRecord {
        result: StepResult::Carried,
        ..step.clone()
    };
    let invalid = store
        .record_steps(attempt, &[step.clone(), nameless], token)
        .await
        .unwrap_err();
    assert!(
        invalid
            .to_string()
            .contains("names the attempt it passed in"),
        "{invalid}"
    );
    // A refused call wrote nothing, not even its valid first step.
    assert!(store.steps(attempt).await.unwrap().is_empty());
    fail(store, attempt, token, 5).await;
    let ended = store
        .record_steps(attempt, &[step], token)
        .await
        .unwrap_err();
    assert!(
        matches!(ended, StoreError::AttemptSuperseded { .. }),
        "{ended:?}"
    );
}
on_both_backends!(only_the_attempts_lease_records_its_steps);

async fn a_rerun_runs_whole_stages(store: &impl Store) {
    let (row, token) = leased_row(store, "nfs").await;
    let attempt = store
        .begin_attempt(row, Stage::ShouldBeInstalled, token, 3)
        .await
        .unwrap();
    store
        .record_steps(
            attempt,
            &[ended(&running(0, "run api-pre-install", 4), true, 0, "", 5)],
            token,
        )
        .await
        .unwrap();
    store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: true,
                exit_code: None,
                output: String::new(),
                output_bytes: 0,
            },
            &RowAfter {
                current: Some(Stage::ShouldBeInstalled),
                error: None,
                version: None,
            },
            token,
            6,
        )
        .await
        .unwrap();
    let past = store.last_attempt(row).await.unwrap().unwrap();
    assert!(past.passed && !past.restarted);
    store.release_lease(&node("head"), token).await.unwrap();
    store
        .rerun(&node("head"), &opkg("nfs"), Stage::ShouldBeInstalled, 7)
        .await
        .unwrap();
    assert!(store.last_attempt(row).await.unwrap().unwrap().restarted);
}
on_both_backends!(a_rerun_runs_whole_stages);

async fn every_byte_printed_is_counted_beyond_the_output_kept(store: &impl Store) {
    let (row, token) = leased_row(store, "nfs").await;
    let attempt = store
        .begin_attempt(row, Stage::ShouldBeInstalled, token, 3)
        .await
        .unwrap();
    // A script's flood, of which only the tail was kept; and a step from
    // an agent older than the count, whose output is all there is.
    let flooded = StepRecord {
        output_bytes: Some(4_194_344),
        ..ended(
            &running(0, "run api-pre-install", 4),
            true,
            0,
            "the end\n",
            5,
        )
    };
    let old = StepRecord {
        output_bytes: None,
        ..ended(&running(1, "run api-post-install", 6), true, 0, "done\n", 7)
    };
    store
        .record_steps(attempt, &[flooded.clone(), old], token)
        .await
        .unwrap();
    let counted: Vec<Option<u64>> = store
        .steps(attempt)
        .await
        .unwrap()
        .iter()
        .map(|step| step.output_bytes)
        .collect();
    assert_eq!(counted, [Some(4_194_344), Some(5)]);
    store
        .finish_attempt(
            attempt,
            &Outcome {
                passed: true,
                exit_code: None,
                output: "the end\ndone\n".to_owned(),
                output_bytes: 4_194_349,
            },
            &RowAfter {
                current: Some(Stage::ShouldBeInstalled),
                error: None,
                version: None,
            },
            token,
            8,
        )
        .await
        .unwrap();
    let entry = store.attempt(attempt).await.unwrap();
    assert_eq!(
        (entry.output.as_str(), entry.output_bytes),
        ("the end\ndone\n", 4_194_349)
    );
}
on_both_backends!(every_byte_printed_is_counted_beyond_the_output_kept);
