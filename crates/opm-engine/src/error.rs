//! What can stop a pass (as opposed to a row error, which is recorded on
//! the row and does not stop anything).

use opm_plan::PlanError;
use opm_store::StoreError;

/// Why a pass could not go on.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed with something retrying does not cure, or stayed
    /// busy past the retry budget.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The rows refer to something the planner cannot place (an image row
    /// whose image is gone).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// This process's own identity could not be read (for lease owners).
    #[error("cannot read this process's identity from /proc: {0}")]
    Identity(#[source] std::io::Error),
    /// A blocking package-manager task died.
    #[error("a package-manager task ended abnormally: {0}")]
    Task(String),
}
