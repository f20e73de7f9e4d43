//! Exit codes (SPEC §4) and how errors map onto them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the work failed or rows are in error |
//! | 2 | bad usage or bad input; nothing changed |
//! | 3 | work remains blocked |

use std::process::ExitCode;

/// The process outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success = 0,
    /// 1: the work failed or rows are in error.
    Failed = 1,
    /// 2: bad usage or bad input; nothing changed.
    BadInput = 2,
    /// 3: work remains blocked.
    Blocked = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// An error caused by what the user gave us (exit 2): nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Shorthand for a bad-input error.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    BadInput(message.into()).into()
}

/// Prints an error chain on stderr and maps the outcome to an exit code.
pub fn report(outcome: anyhow::Result<Exit>) -> ExitCode {
    match outcome {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("error: {error:#}");
            if error.downcast_ref::<BadInput>().is_some() {
                Exit::BadInput.into()
            } else {
                Exit::Failed.into()
            }
        }
    }
}
