//! What an operation answers when it cannot do what was asked, and
//! whether that was the asker's mistake (the CLI's exit 2, an HTTP 4xx).

use opm_store::StoreError;

use crate::error::EngineError;
use crate::requests::RequestError;

/// Why an operation did nothing (or failed part way, for the store).
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    /// What was asked names nothing or is malformed; nothing changed.
    #[error("{0}")]
    BadInput(String),
    /// A rule refused the request (unknown names, a conflict, dependents,
    /// a cycle); nothing changed.
    #[error(transparent)]
    Refused(#[from] RequestError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The planner could not place a row.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The server a remote operator talks to answered with an error, or
    /// could not be reached.
    #[error("{message}")]
    Remote {
        /// What it said.
        message: String,
        /// Whether it was the asker's mistake.
        bad_input: bool,
    },
}

impl OperateError {
    /// Whether the asker gave something wrong (nothing changed): the CLI
    /// exits 2 and the API answers 4xx.
    pub fn is_bad_input(&self) -> bool {
        match self {
            OperateError::BadInput(_) => true,
            OperateError::Refused(RequestError::Store(error)) | OperateError::Store(error) => {
                error.is_bad_input()
            }
            OperateError::Refused(_) => true,
            OperateError::Engine(_) => false,
            OperateError::Remote { bad_input, .. } => *bad_input,
        }
    }
}

impl From<opm_plan::PlanError> for OperateError {
    fn from(error: opm_plan::PlanError) -> OperateError {
        OperateError::Engine(error.into())
    }
}
