//! What opm has stored of a node's drain through the cluster's scheduler
//! (issue 20): a word of the vocabulary, stored by `opm-store` and decided
//! on by `opm_plan::drain`.

/// What opm has stored of a node's drain; no state means opm has not
/// drained it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainState {
    /// `drain_command` ran at `since_ms`; the scheduler has not yet said
    /// the node is drained.
    Draining {
        /// When opm asked for the drain (ms since the epoch).
        since_ms: i64,
    },
    /// The node is drained: its work may run.
    Drained {
        /// Whether opm drained it (and so resumes it); `false` when it was
        /// drained by somebody else before opm asked.
        ours: bool,
    },
}

impl DrainState {
    /// The state's name as stored: `draining`, `drained` or `drained-by-others`.
    pub fn name(self) -> &'static str {
        match self {
            DrainState::Draining { .. } => "draining",
            DrainState::Drained { ours: true } => "drained",
            DrainState::Drained { ours: false } => "drained-by-others",
        }
    }

    /// The state stored as `name` with `since_ms`.
    ///
    /// # Errors
    /// The unknown name, for the store to report.
    pub fn from_stored(name: &str, since_ms: i64) -> Result<DrainState, String> {
        match name {
            "draining" => Ok(DrainState::Draining { since_ms }),
            "drained" => Ok(DrainState::Drained { ours: true }),
            "drained-by-others" => Ok(DrainState::Drained { ours: false }),
            other => Err(format!("unknown drain state '{other}'")),
        }
    }
}
