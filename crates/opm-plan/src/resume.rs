//! Which step of a stage runs first (SPEC §1.1, issue 25): a stage cut
//! short (a crash, a failed step, transient trouble) resumes at the first
//! step its earlier attempt did not pass, so a script that completed is not
//! run again; a step that was under way runs again, as nothing better is
//! possible. The engine, the server (for agents) and the agent all ask
//! [`resume`]; none of them reads history here.

use std::fmt;

use opm_model::{PastAttempt, StepResult};
use serde::Serialize;

use crate::decision::Work;

/// A step not run again: it passed in an earlier attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Carried {
    /// Its place in the stage's action list.
    pub position: usize,
    /// What it does, as one line.
    pub action: String,
    /// The attempt it passed in.
    pub passed_in: i64,
}

/// Where an attempt begins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resume {
    /// The first step to run; every step before it is carried.
    pub start: usize,
    /// The steps before `start`, each with the attempt it passed in.
    pub carried: Vec<Carried>,
    /// The attempt resumed, when there is one.
    pub from: Option<i64>,
}

impl Resume {
    /// The whole stage, from its first step.
    pub fn whole() -> Resume {
        Resume {
            start: 0,
            carried: Vec::new(),
            from: None,
        }
    }
}

impl fmt::Display for Resume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.from, self.carried.as_slice()) {
            (Some(from), [_]) => write!(
                f,
                "resuming attempt {from} at step 2: step 1 passed already"
            ),
            (Some(from), [_, ..]) => write!(
                f,
                "resuming attempt {from} at step {}: steps 1 to {} passed already",
                self.start + 1,
                self.start
            ),
            _ => f.write_str("running the stage from its first step"),
        }
    }
}

/// Where the next attempt of `work` begins, given the row's newest attempt
/// `earlier` (of any stage). It resumes `earlier` only when that attempt
/// is of the same stage, did not pass, and no operator asked since for the
/// whole stage; then it skips the longest run of leading steps that are
/// done (passed, or carried from an attempt before) and still describe
/// the same action (a changed action list, such as another set of images
/// for `api-post-image`, is run from the first step that differs).
pub fn resume(work: &Work, earlier: Option<&PastAttempt>) -> Resume {
    let Some(earlier) = earlier else {
        return Resume::whole();
    };
    if earlier.stage != work.stage || earlier.passed || earlier.restarted {
        return Resume::whole();
    }
    let mut carried = Vec::new();
    for (position, action) in work.actions.iter().enumerate() {
        let description = action.describe(&work.package);
        let done = earlier.steps.iter().find(|step| {
            usize::try_from(step.position).is_ok_and(|at| at == position)
                && step.action == description
                && step.result.is_done()
        });
        let Some(step) = done else {
            break;
        };
        let passed_in = match step.result {
            StepResult::Carried => step.passed_in.unwrap_or(earlier.id),
            _ => earlier.id,
        };
        carried.push(Carried {
            position,
            action: description,
            passed_in,
        });
    }
    Resume {
        start: carried.len(),
        carried,
        from: Some(earlier.id),
    }
}
