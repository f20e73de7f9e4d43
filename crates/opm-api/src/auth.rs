//! Bearer tokens: made from the system's randomness, shown once, stored
//! only as SHA-256 hashes; a request's token says who is asking.

use std::io::Read as _;

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use opm_model::Name;
use opm_store::{Store, TokenSubject};
use sha2::{Digest as _, Sha256};

use crate::error::ApiFailure;

/// Bytes of randomness in a token.
const TOKEN_BYTES: usize = 32;

/// A new token: 64 hex digits from `/dev/urandom`.
///
/// # Errors
/// When the system's randomness cannot be read.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// The hash a token is stored as.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The token of an `Authorization: Bearer TOKEN` header; the scheme's
/// name is case-insensitive (RFC 9110 §11.1), so `bearer` is one too.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A request's bearer token, copied out of its head. Handlers take this
/// instead of the whole `HeaderMap`: axum's `HeaderMap` extractor clones
/// every header, and the clone points into the connection's read buffer,
/// which a long poll would keep for its whole wait.
#[derive(Debug)]
pub struct Bearer(Option<String>);

impl Bearer {
    /// The token, if the request carried one.
    pub fn token(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Bearer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Bearer, Infallible> {
        Ok(Bearer(bearer(&parts.headers).map(str::to_owned)))
    }
}

/// Who sent the request: 401 without a token anybody holds.
///
/// # Errors
/// [`ApiFailure::Unauthorized`], or the store's failure.
pub async fn subject<S: Store>(store: &S, bearer: &Bearer) -> Result<TokenSubject, ApiFailure> {
    let token = bearer.0.as_deref().ok_or_else(|| {
        ApiFailure::Unauthorized("missing bearer token (Authorization: Bearer TOKEN)".to_owned())
    })?;
    store
        .token_subject(&token_hash(token))
        .await?
        .ok_or_else(|| ApiFailure::Unauthorized("unknown or replaced token".to_owned()))
}

/// The node a request speaks for; 403 for the admin token.
///
/// # Errors
/// As for [`subject`], and [`ApiFailure::Forbidden`].
pub async fn node<S: Store>(store: &S, bearer: &Bearer) -> Result<Name, ApiFailure> {
    match subject(store, bearer).await? {
        TokenSubject::Node(name) => Ok(name),
        TokenSubject::Admin => Err(ApiFailure::Forbidden(
            "the agents' API takes a node's token, not the admin token".to_owned(),
        )),
    }
}

/// Passes only the admin token; 403 for a node's.
///
/// # Errors
/// As for [`subject`], and [`ApiFailure::Forbidden`].
pub async fn admin<S: Store>(store: &S, bearer: &Bearer) -> Result<(), ApiFailure> {
    match subject(store, bearer).await? {
        TokenSubject::Admin => Ok(()),
        TokenSubject::Node(name) => Err(ApiFailure::Forbidden(format!(
            "node {name}'s token cannot use the tools' API"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_hashed_one_way() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn only_a_bearer_header_carries_a_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(AUTHORIZATION, "Basic eDp5".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(AUTHORIZATION, "Bearer t0k".parse().unwrap());
        assert_eq!(bearer(&headers), Some("t0k"));
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            headers.insert(AUTHORIZATION, format!("{scheme} t0k").parse().unwrap());
            assert_eq!(bearer(&headers), Some("t0k"), "{scheme}");
        }
        headers.insert(AUTHORIZATION, "Bearert0k".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
