//! The handlers, one module per resource: the agents' work and the tools'
//! cluster state. Each checks the token first and answers JSON.

pub mod agents;
pub mod tools;

use axum::Json;
use axum::extract::rejection::JsonRejection;

use crate::error::ApiFailure;

/// A JSON body, or 400 saying what is wrong with it (malformed, not JSON,
/// too large, a field that is not what it should be).
pub fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiFailure> {
    body.map(|Json(value)| value).map_err(|rejection| {
        ApiFailure::BadRequest(format!("bad request body: {}", rejection.body_text()))
    })
}
