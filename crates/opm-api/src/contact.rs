//! Who called: the caller's User-Agent and address, copied out of the
//! request head (like [`crate::auth::Bearer`], nothing more is kept), and
//! the record of a node's agent's last contact, written to the store at
//! most once per [`CONTACT_EVERY_MS`] so thousands of polling agents are
//! not thousands of writes. The stored contact is the only one: `opm node
//! list` and the metrics' ages both read it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;
use opm_model::Name;
use opm_store::{AgentContact, Store};

use crate::router::AppState;

/// How often a node's agent's contact is written at most.
pub const CONTACT_EVERY_MS: i64 = 10_000;

/// The caller's User-Agent and address, when known.
#[derive(Debug, Default)]
pub struct Caller {
    /// The User-Agent header.
    pub user_agent: String,
    /// The peer's address.
    pub address: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, Infallible> {
        Ok(Caller {
            user_agent: parts
                .headers
                .get(USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect(),
            address: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
                .unwrap_or_default(),
        })
    }
}

/// Notes that `node`'s agent, `caller`, called now: its poll, a stage's
/// start or finish, a heartbeat during a long stage. What the operator
/// sees of the agent; the call does not fail for it.
pub async fn record<S: Store>(state: &AppState<S>, node: &Name, caller: Caller) {
    let now_ms = state.clock.now_ms();
    if !state.contacts.due(node, now_ms) {
        return;
    }
    let contact = AgentContact {
        seen_ms: now_ms,
        version: caller.user_agent,
        address: caller.address,
    };
    // On the heap while it runs: a poll holds its future for its whole
    // wait.
    if let Err(error) = Box::pin(state.store.record_agent_contact(node, &contact)).await {
        tracing::warn!("cannot record node {node}'s agent contact: {error}");
    }
}

/// When each node's agent's contact was last written.
#[derive(Debug, Default)]
pub struct Contacts {
    written: Mutex<HashMap<Name, i64>>,
}

impl Contacts {
    /// Whether `node`'s contact at `now_ms` is to be written (and notes
    /// that it is).
    pub fn due(&self, node: &Name, now_ms: i64) -> bool {
        let Ok(mut written) = self.written.lock() else {
            return true;
        };
        match written.get(node) {
            Some(last) if now_ms - last < CONTACT_EVERY_MS => false,
            _ => {
                written.insert(node.clone(), now_ms);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use opm_model::NameKind;

    use super::*;

    #[test]
    fn a_nodes_contact_is_written_at_most_once_per_period() {
        let contacts = Contacts::default();
        let n1 = Name::new(NameKind::Node, "n1").unwrap();
        let n2 = Name::new(NameKind::Node, "n2").unwrap();
        assert!(contacts.due(&n1, 0));
        assert!(!contacts.due(&n1, CONTACT_EVERY_MS - 1));
        assert!(contacts.due(&n2, 1));
        assert!(contacts.due(&n1, CONTACT_EVERY_MS));
    }
}
