//! The agent's token file and its first contact. After `opm agent enroll`
//! the file holds the enrolment's one-use token; before anything else the
//! agent trades it for a token of its own (`POST /v1/agent/enroll`), and
//! from then on the file holds that.
//!
//! The trade survives a crash at any point. The agent first keeps its new
//! token beside the file (`FILE.next`, written whole), then asks the
//! server, which takes only the new token's hash; only after the server's
//! yes is `FILE.next` moved over `FILE`. Killed before the server
//! answered: the next start finds `FILE.next` and asks again with it.
//! Killed after the server took it but before the move: the server
//! recognises the same enrolment and the same new token
//! (`Redemption::AlreadyRedeemed`) and says yes again. Either way the
//! node is never left with only a token the server no longer takes.

use std::path::{Path, PathBuf};

use opm_model::api::EnrollRequest;
use opm_model::{Name, is_enrolment_token};

use crate::auth::{new_token, token_hash};
use crate::client::ApiClient;
use crate::error::AgentError;
use crate::files;

/// The largest token file read: a token is one short line.
const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// Where the agent keeps its new token during the trade.
pub fn pending_path(token_file: &Path) -> PathBuf {
    let mut name = token_file.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    token_file.with_file_name(name)
}

fn token_error(path: &Path, reason: impl std::fmt::Display) -> AgentError {
    AgentError::TokenFile {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The token a token file holds: one line of letters, digits and `-`.
///
/// # Errors
/// [`AgentError::TokenFile`] when it cannot be read or holds no token.
pub fn read_token(path: &Path) -> Result<String, AgentError> {
    let unreadable = |error: std::io::Error| {
        token_error(
            path,
            format!(
                "cannot read it: {error}; 'opm agent enroll FILE' installs one from an \
                 enrolment file ('opm node enroll NAME' on the head node)"
            ),
        )
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_TOKEN_FILE_BYTES {
        return Err(token_error(path, "too large to be a token file"));
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    let token = text.trim();
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(token_error(
            path,
            "does not hold a token (one line of letters and digits)",
        ));
    }
    Ok(token.to_owned())
}

/// The agent's own token in `path`, if it holds one (not an enrolment
/// token).
fn own_token(path: &Path) -> Option<String> {
    read_token(path)
        .ok()
        .filter(|token| !is_enrolment_token(token))
}

/// Keeps a new token at `pending` and gives back the one kept there: when
/// two processes of the node start the trade at once, the first file
/// linked into place wins and both trade the same token.
fn keep_new_token(pending: &Path) -> Result<String, AgentError> {
    let fresh = new_token().map_err(|error| token_error(pending, error))?;
    let text = format!("{fresh}\n");
    let kept = if pending.exists() {
        // Not a token (cut short by hand, say): replaced.
        files::replace(pending, text.as_bytes(), 0o600)
    } else {
        match files::create(pending, text.as_bytes(), 0o600) {
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            other => other,
        }
    };
    kept.map_err(|error| token_error(pending, error))?;
    own_token(pending).ok_or_else(|| token_error(pending, "does not hold the token just kept"))
}

/// The agent's own token, ready for the agents' API: the token file's,
/// after trading it first when it is an enrolment token (see the module
/// documentation), with the server at `server` (trusting `ca_cert`).
///
/// # Errors
/// [`AgentError`]: the token file, or the server's refusal (unknown,
/// expired, used, replaced, another node's enrolment), or the network.
pub async fn ready_token(
    token_file: &Path,
    node: &Name,
    server: &str,
    ca_cert: Option<&Path>,
) -> Result<String, AgentError> {
    let token = read_token(token_file)?;
    if !is_enrolment_token(&token) {
        return Ok(token);
    }
    let pending = pending_path(token_file);
    let own = match own_token(&pending) {
        // Kept by an earlier start that died during the trade.
        Some(own) => own,
        None => keep_new_token(&pending)?,
    };
    let client = ApiClient::new(server, &token, ca_cert)?;
    let traded = client
        .enroll(&EnrollRequest {
            node: node.to_string(),
            token_hash: token_hash(&own),
        })
        .await;
    if let Err(error) = traded {
        // Refused because another process of this node finished the
        // trade (with its own kept token) while this one started: its
        // token is the node's now.
        if let (AgentError::Refused { .. }, Some(theirs)) = (&error, own_token(token_file)) {
            return Ok(theirs);
        }
        return Err(error);
    }
    if let Err(error) = files::promote(&pending, token_file) {
        // Another process of this node (a second `opm run`) traded the
        // same kept token and moved it into place first.
        if own_token(token_file).as_deref() != Some(own.as_str()) {
            return Err(token_error(token_file, error));
        }
    }
    tracing::info!(
        "node {node} enrolled: its own token replaced the enrolment token in {}",
        token_file.display()
    );
    Ok(own)
}
