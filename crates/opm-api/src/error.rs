//! Errors of the server's handlers (each an HTTP answer) and of the agent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opm_model::api::ApiError;
use opm_store::StoreError;

/// A handler's refusal or failure, answered as a status and one line of JSON.
#[derive(Debug, thiserror::Error)]
pub enum ApiFailure {
    /// No token, or one nobody holds.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token asking for what it may not see or do.
    #[error("{0}")]
    Forbidden(String),
    /// A body or parameter that is malformed or names nothing.
    #[error("{0}")]
    BadRequest(String),
    /// A body larger than the server reads.
    #[error("{0}")]
    TooLarge(String),
    /// The request does not fit the state it meets: the lease it runs
    /// under is gone, the row has moved on or is not in error, a stage was
    /// not handed out, an opkg conflicts.
    #[error("{0}")]
    Conflict(String),
    /// The head node's engine could not plan.
    #[error("planning failed: {0}")]
    Engine(String),
    /// The store failed; the client may try again.
    #[error("the state store failed: {0}")]
    Store(StoreError),
}

impl From<StoreError> for ApiFailure {
    /// A client's mistake is a 4xx, never a 5xx: every variant is named
    /// here, so a new one has to be sorted into one or the other.
    fn from(error: StoreError) -> ApiFailure {
        match error {
            StoreError::StaleToken { .. }
            | StoreError::AttemptSuperseded { .. }
            | StoreError::LeaseHeld { .. }
            | StoreError::RowMoved { .. }
            | StoreError::RowBusy { .. }
            | StoreError::NotInError { .. }
            | StoreError::AlreadyExists { .. }
            | StoreError::HeadNodeRemoval { .. }
            | StoreError::ImageInUse { .. } => ApiFailure::Conflict(error.to_string()),
            StoreError::UnknownNode { .. }
            | StoreError::UnknownImage { .. }
            | StoreError::UnknownGroup { .. }
            | StoreError::UnknownOpkg { .. }
            | StoreError::UnknownVersion { .. }
            | StoreError::UnknownRow { .. }
            | StoreError::UnknownRowId { .. }
            | StoreError::UnknownAttempt { .. }
            | StoreError::InvalidStep { .. }
            | StoreError::RowInError { .. }
            | StoreError::InvalidRerun { .. } => ApiFailure::BadRequest(error.to_string()),
            // The server's own database and configuration: not the client's.
            StoreError::NotInitialised { .. }
            | StoreError::SchemaTooOld { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::NotOpmDatabase { .. }
            | StoreError::NotWritable { .. }
            | StoreError::NonUtf8Path { .. }
            | StoreError::HeadNodeMismatch { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Busy(_)
            | StoreError::Migrate(_)
            | StoreError::Database(_) => ApiFailure::Store(error),
        }
    }
}

impl From<opm_engine::requests::RequestError> for ApiFailure {
    fn from(error: opm_engine::requests::RequestError) -> ApiFailure {
        use opm_engine::requests::RequestError;
        match error {
            RequestError::Store(error) => error.into(),
            // What the cluster's opkgs are now stands in the way: 409.
            RequestError::Conflict { .. }
            | RequestError::Dependents { .. }
            | RequestError::Cycle { .. } => ApiFailure::Conflict(error.to_string()),
            // No head node is the server's database, not the client.
            RequestError::NoHead => ApiFailure::Engine(error.to_string()),
            RequestError::UnknownOpkg(_)
            | RequestError::UnknownNode(_)
            | RequestError::UnknownImage(_)
            | RequestError::UnknownGroup(_) => ApiFailure::BadRequest(error.to_string()),
        }
    }
}

impl From<opm_engine::operate::OperateError> for ApiFailure {
    fn from(error: opm_engine::operate::OperateError) -> ApiFailure {
        use opm_engine::operate::OperateError;
        match error {
            OperateError::BadInput(message) => ApiFailure::BadRequest(message),
            OperateError::Refused(error) => error.into(),
            OperateError::Store(error) => error.into(),
            OperateError::Engine(error) => error.into(),
            // A server does not operate through another server.
            OperateError::Remote { message, .. } => ApiFailure::Engine(message),
        }
    }
}

impl From<opm_engine::EngineError> for ApiFailure {
    fn from(error: opm_engine::EngineError) -> ApiFailure {
        ApiFailure::Engine(error.to_string())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiFailure::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiFailure::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiFailure::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiFailure::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiFailure::Conflict(_) => StatusCode::CONFLICT,
            ApiFailure::Store(error) if error.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            ApiFailure::Store(_) | ApiFailure::Engine(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = ApiError {
            error: self.to_string(),
        };
        (status, Json(body)).into_response()
    }
}

/// Why the agent could not do its round.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server cannot be reached or answered 5xx: back off and try again.
    #[error("the server at {url} is unreachable: {reason}")]
    Unreachable {
        /// The server's URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server refused the call (a bad token, a call it cannot take).
    #[error("the server refused {call} ({status}): {message}")]
    Refused {
        /// The call.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server was reached but cannot be trusted, or speaks another
    /// protocol than the URL says: waiting does not cure it, the agent's
    /// settings (or the server's certificate) have to change.
    #[error("the server at {url} {problem}")]
    Untrusted {
        /// The server's URL.
        url: String,
        /// What is wrong, and what to do.
        problem: String,
    },
    /// The TLS setup cannot be used (no or bad CA certificates).
    #[error("TLS: {reason}")]
    Tls {
        /// What is wrong.
        reason: String,
    },
    /// The token file cannot be read, holds no token, or cannot be
    /// written at the first contact's trade.
    #[error("token file {path}: {reason}")]
    TokenFile {
        /// The token file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The node's package database could not be read for a verify: its
    /// rows keep their status (nothing is called missing on a guess).
    #[error("cannot verify node {node}: {reason}")]
    PackageDatabase {
        /// The node.
        node: String,
        /// What the package manager said.
        reason: String,
    },
    /// The local spool file of unsent reports cannot be read or written.
    #[error("spool {path}: {reason}")]
    Spool {
        /// The spool file.
        path: String,
        /// What failed.
        reason: String,
    },
}

impl AgentError {
    /// Whether waiting and trying again may cure it.
    pub fn is_transient(&self) -> bool {
        matches!(self, AgentError::Unreachable { .. })
    }
}
