//! An agent's first contact: it trades its enrolment's one-use token (the
//! bearer token of this one call) for a token of its own, of which it
//! sends only the hash. Whether the enrolment may be redeemed is
//! `opm_model::judge`'s decision, taken and carried out by the store in
//! one transaction.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use opm_model::api::{EnrollRequest, Enrolled};
use opm_model::{EnrolmentRefusal, Name, NameKind, Redemption};
use opm_store::Store;

use super::body;
use crate::auth::{Bearer, token_hash};
use crate::error::ApiFailure;
use crate::router::AppState;

/// `POST /v1/agent/enroll`: 200 when the node's token is now the agent's
/// (or already was, by this same trade); 401 for an enrolment that is
/// unknown, expired, used or replaced; 403 for another node's.
pub async fn enroll<S: Store + 'static>(
    State(state): State<Arc<AppState<S>>>,
    bearer: Bearer,
    request: Result<Json<EnrollRequest>, JsonRejection>,
) -> Result<Json<Enrolled>, ApiFailure> {
    let token = bearer.token().ok_or_else(|| {
        ApiFailure::Unauthorized(
            "missing bearer token (Authorization: Bearer ENROLMENT-TOKEN)".to_owned(),
        )
    })?;
    let request = body(request)?;
    let node = Name::new(NameKind::Node, &request.node)
        .map_err(|error| ApiFailure::BadRequest(format!("bad request body: node: {error}")))?;
    let hash = &request.token_hash;
    if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiFailure::BadRequest(
            "bad request body: token_hash: expected the SHA-256 of the agent's token, 64 hex digits"
                .to_owned(),
        ));
    }
    let verdict = state
        .store
        .redeem_enrolment(&token_hash(token), &node, hash, state.clock.now_ms())
        .await?;
    match verdict {
        Redemption::Redeem | Redemption::AlreadyRedeemed => Ok(Json(Enrolled {
            node: node.to_string(),
        })),
        Redemption::Refused(refusal @ EnrolmentRefusal::WrongNode { .. }) => {
            Err(ApiFailure::Forbidden(refusal.to_string()))
        }
        Redemption::Refused(refusal) => Err(ApiFailure::Unauthorized(refusal.to_string())),
    }
}
