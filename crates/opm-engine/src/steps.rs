//! The records of a stage's steps (SPEC §1.1), as the head node's engine
//! writes them to the store and a node's agent to its journal and finish
//! report: one when a step starts, one when it ends, and one per step a
//! resumed attempt carries from the attempt it passed in.

use opm_model::{StepRecord, StepResult};
use opm_plan::Resume;

use crate::act::Failure;
use crate::output::Output;

/// The record of step `position` as it starts.
pub fn started(position: usize, action: String, now_ms: i64) -> StepRecord {
    StepRecord {
        position: u32::try_from(position).unwrap_or(u32::MAX),
        action,
        result: StepResult::Running,
        passed_in: None,
        started_ms: now_ms,
        ended_ms: None,
        exit_code: None,
        output: String::new(),
        output_bytes: Some(0),
    }
}

/// The record of a step that ended with `done` (a script's exit code, or
/// how it failed), having printed `output`.
pub fn ended(
    started: &StepRecord,
    done: &Result<Option<i32>, Failure>,
    mut output: Output,
    now_ms: i64,
) -> StepRecord {
    let (result, exit_code) = match done {
        Ok(code) => (StepResult::Passed, *code),
        Err(failure) => {
            output.push_str(&failure.output);
            (StepResult::Failed, failure.exit_code)
        }
    };
    let (output, printed) = output.into_parts();
    StepRecord {
        result,
        ended_ms: Some(now_ms),
        exit_code,
        output,
        output_bytes: Some(printed),
        ..started.clone()
    }
}

/// The records of the steps `resume` carries, each naming the attempt it
/// passed in.
pub fn carried(resume: &Resume, now_ms: i64) -> Vec<StepRecord> {
    resume
        .carried
        .iter()
        .map(|carried| StepRecord {
            result: StepResult::Carried,
            passed_in: Some(carried.passed_in),
            ended_ms: Some(now_ms),
            ..started(carried.position, carried.action.clone(), now_ms)
        })
        .collect()
}

/// The note at the head of an attempt's output: whether its stage begins
/// again after an interruption, and where.
pub fn note(interrupted: bool, resume: &Resume) -> Option<String> {
    match (interrupted, resume.carried.is_empty()) {
        (_, false) => Some(format!("note: {resume}\n")),
        (true, true) => {
            Some("note: the previous attempt was interrupted; running the stage again\n".to_owned())
        }
        (false, true) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_plan::Carried;

    fn printed(text: &str) -> Output {
        let mut output = Output::new();
        output.push_str(text);
        output
    }

    #[test]
    fn a_step_ends_with_its_exit_code_and_output() {
        let begun = started(2, "run api-post-install".to_owned(), 10);
        assert_eq!(begun.result, StepResult::Running);
        let passed = ended(&begun, &Ok(Some(0)), printed("ok\n"), 12);
        assert_eq!(
            (passed.result, passed.exit_code, passed.ended_ms),
            (StepResult::Passed, Some(0), Some(12))
        );
        let failure = Failure {
            exit_code: Some(3),
            output: "tool said no\n".to_owned(),
            ..Failure::terminal("boom".to_owned())
        };
        let failed = ended(&begun, &Err(failure), printed("partial\n"), 13);
        assert_eq!(failed.result, StepResult::Failed);
        assert_eq!(failed.exit_code, Some(3));
        assert_eq!(failed.output, "partial\ntool said no\n");
        assert_eq!(failed.output_bytes, Some(21));
    }

    #[test]
    fn carried_steps_name_their_attempt_and_the_note_says_where() {
        let resume = Resume {
            start: 1,
            carried: vec![Carried {
                position: 0,
                action: "run api-pre-install".to_owned(),
                passed_in: 41,
            }],
            from: Some(41),
        };
        let records = carried(&resume, 5);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].result, StepResult::Carried);
        assert_eq!(records[0].passed_in, Some(41));
        assert_eq!(
            note(true, &resume).unwrap(),
            "note: resuming attempt 41 at step 2: step 1 passed already\n"
        );
        assert_eq!(note(false, &Resume::whole()), None);
        assert!(
            note(true, &Resume::whole())
                .unwrap()
                .contains("running the stage again")
        );
    }
}
