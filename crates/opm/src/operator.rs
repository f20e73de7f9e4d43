//! The operator every tools command talks to: the database here
//! (`opm_engine::operate::Local`), or with `--remote URL` (or the settings
//! file's `server` and `admin_token_file`) the tools' API of that `opm
//! server`, which runs the same operations. Commands are written once
//! against [`Operator`](opm_engine::operate::Operator), so their output,
//! exit codes and errors are the same either way.

use std::sync::Arc;

use opm_api::client::ApiClient;
use opm_api::remote::{AnyOperator, Remote};
use opm_engine::SystemClock;
use opm_engine::operate::{Local, OperateError, PlanScope};
use opm_store::{AnyStore, OpenMode};

use crate::exit::bad_input;
use crate::runtime::{agent_error, identity};
use crate::settings::Settings;
use crate::state::block_on;

/// The operator of this command.
pub type Op = AnyOperator<AnyStore>;

/// Whether the command plans, and so needs this machine's opm.conf when
/// it runs locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The store alone.
    Store,
    /// The store and this machine's identity (`opm plan`).
    Identity,
}

/// Runs `body` against the command's operator, closing the store after.
pub fn with_operator<T>(
    settings: &Settings,
    needs: Needs,
    body: impl AsyncFnOnce(&Op) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    block_on(async {
        if let Some(url) = &settings.remote {
            let remote = AnyOperator::Remote(remote(settings, url)?);
            return body(&remote).await;
        }
        let scope = match needs {
            Needs::Store => None,
            Needs::Identity => Some(PlanScope {
                identity: identity(settings)?,
                host: opm_engine::owner::host_name(),
                proc_dir: "/proc".into(),
            }),
        };
        let store = Arc::new(settings.open_store(OpenMode::Existing).await?);
        let local = AnyOperator::Local(Local {
            store: Arc::clone(&store),
            clock: Arc::new(SystemClock),
            scope,
            actor: crate::actor::unix_actor(),
        });
        let outcome = body(&local).await;
        store.close().await;
        outcome
    })
}

/// The client of the settings' server with the admin token.
fn remote(settings: &Settings, url: &str) -> anyhow::Result<Remote> {
    let path = settings.admin_token_file.as_ref().ok_or_else(|| {
        bad_input(format!(
            "--remote {url} needs the admin token: pass --admin-token-file PATH (or \
             OPM_ADMIN_TOKEN_FILE, or admin_token_file in the settings file)"
        ))
    })?;
    let token = crate::runtime::read_token(path, "opm admin token")?;
    let client = ApiClient::new(url, &token, settings.ca_cert.as_deref()).map_err(agent_error)?;
    Ok(Remote::new(client))
}

/// An operation's error with its exit code: bad input (2) when the asker
/// got something wrong, a failure (1) otherwise.
pub fn failed(error: OperateError) -> anyhow::Error {
    if error.is_bad_input() {
        bad_input(error.to_string())
    } else {
        anyhow::Error::new(error)
    }
}
