//! The handlers, one module per resource: the agents' work, their first
//! contact (enrolment), the tools' cluster state and versions (upgrades,
//! pins), each checking the token first and answering JSON; and what
//! watches the server (health, readiness, metrics), open.

pub mod agents;
pub mod enroll;
pub mod tools;
pub mod versions;
pub mod watch;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use opm_model::api::MAX_BODY_BYTES;

use crate::error::ApiFailure;

/// A JSON body, or 400 saying what is wrong with it (malformed, not JSON,
/// a field that is not what it should be); 413 when it is too large.
pub fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiFailure> {
    body.map(|Json(value)| value).map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiFailure::TooLarge(format!(
                "request body too large: the server reads at most {MAX_BODY_BYTES} bytes"
            ))
        } else {
            ApiFailure::BadRequest(format!("bad request body: {}", rejection.body_text()))
        }
    })
}
