//! `opm admin token` and `opm node token NAME`: API tokens, shown once,
//! kept as hashes (a new one replaces the old at once).

use opm_api::auth::{new_token, token_hash};
use opm_engine::{Clock, SystemClock};
use opm_store::{AnyStore, OpenMode, Store, TokenSubject};

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

/// Makes and stores a new token for `subject`; prints it.
pub fn issue(subject: TokenSubject, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let token = new_token()?;
    block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = set(&store, &subject, &token).await;
        store.close().await;
        outcome
    })?;
    if printer.json() {
        let node = match &subject {
            TokenSubject::Admin => None,
            TokenSubject::Node(name) => Some(name.to_string()),
        };
        printer.print_json(&serde_json::json!({ "node": node, "token": token }))?;
    } else {
        printer.line(token);
    }
    Ok(Exit::Success)
}

async fn set(store: &AnyStore, subject: &TokenSubject, token: &str) -> anyhow::Result<()> {
    if let TokenSubject::Node(name) = subject {
        let nodes = store.nodes().await.map_err(store_error)?;
        if nodes.iter().any(|node| node.head && node.name == *name) {
            // An agent works a node's rows with a node's actions; the head
            // node's rows are opm server's (or opm run's).
            return Err(bad_input(format!(
                "{name} is the head node: its rows are worked by opm server or opm run, \
                 not by an agent; tools use 'opm admin token'"
            )));
        }
    }
    store
        .set_token(subject, &token_hash(token), SystemClock.now_ms())
        .await
        .map_err(store_error)
}

/// Runs `opm admin token`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    issue(TokenSubject::Admin, settings, printer)
}
