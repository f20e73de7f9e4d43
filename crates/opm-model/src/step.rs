//! The steps of a stage attempt (SPEC §1.1): each package install or
//! removal, each script, settling the configuration values and assigning
//! clients is recorded when it starts and when it ends, so a stage cut
//! short resumes at the first step that did not pass. The same records go
//! into the store, over the wire (an agent's finish report) and into an
//! agent's journal.

use serde::{Deserialize, Serialize};

use crate::Stage;

/// How a recorded step ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    /// Under way (or its process died and nothing recorded its end).
    Running,
    /// It ran and passed.
    Passed,
    /// It ran and failed.
    Failed,
    /// Not run again: it passed in an earlier attempt of the same stage,
    /// which this attempt resumed.
    Carried,
    /// It was under way when its attempt ended without it (a crash).
    Interrupted,
}

impl StepResult {
    /// The result's name, as stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            StepResult::Running => "running",
            StepResult::Passed => "passed",
            StepResult::Failed => "failed",
            StepResult::Carried => "carried",
            StepResult::Interrupted => "interrupted",
        }
    }

    /// The result named `name`, if it is one.
    pub fn parse(name: &str) -> Option<StepResult> {
        Some(match name {
            "running" => StepResult::Running,
            "passed" => StepResult::Passed,
            "failed" => StepResult::Failed,
            "carried" => StepResult::Carried,
            "interrupted" => StepResult::Interrupted,
            _ => return None,
        })
    }

    /// Whether the step's work is done: it passed in this attempt or in
    /// the one it was carried from.
    pub fn is_done(self) -> bool {
        matches!(self, StepResult::Passed | StepResult::Carried)
    }
}

/// One step of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Its place in the stage's action list, from 0.
    pub position: u32,
    /// What it does, as one line (`run api-post-install`): a resumed
    /// attempt carries a step only when its action is still the same.
    pub action: String,
    /// How it ended.
    pub result: StepResult,
    /// For a carried step: the attempt it passed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed_in: Option<i64>,
    /// When it began (milliseconds since the epoch).
    pub started_ms: i64,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    /// The exit code of its command, if one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What it printed, as kept (a flood of output keeps its head and tail).
    #[serde(default)]
    pub output: String,
    /// Every byte it printed, `output` holding all or part of them; absent
    /// from agents older than this count, whose `output` is all there is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
}

/// A row's newest attempt, which the row's next attempt may resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastAttempt {
    /// Its history id.
    pub id: i64,
    /// The stage it attempted.
    pub stage: Stage,
    /// Whether it passed (a passed stage runs again only from its start).
    pub passed: bool,
    /// Whether an operator asked since for the stage to run from its
    /// start (`opm retry --whole-stage`, `opm rerun`).
    pub restarted: bool,
    /// Its steps, by position.
    pub steps: Vec<StepRecord>,
}
