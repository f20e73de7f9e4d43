//! Why a test helper could not set something up.

/// A helper's setup failure; tests print it and skip or fail.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// A command the helper runs could not start or failed.
    #[error("{command}: {reason}")]
    Command {
        /// The command line, as run.
        command: String,
        /// Its exit status and stderr, or why it did not start.
        reason: String,
    },
    /// The machine lacks a tool the helper needs.
    #[error("{0} not found; install Debian's postgresql package")]
    Missing(&'static str),
    /// A filesystem step failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The database server refused a statement.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}
