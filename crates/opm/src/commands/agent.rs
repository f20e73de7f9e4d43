//! `opm agent [--once]`: a compute node's daemon (SPEC §1.6): its work
//! comes from the server, goes into `--root`, and is reported back.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opm_api::AgentError;
use opm_api::agent::Agent;
use opm_api::client::ApiClient;
use opm_api::spool::Spool;
use opm_engine::Actor;
use opm_model::Role;
use opm_native::script::{RunnerConfig, ScriptRunner};

use crate::cli::AgentArgs;
use crate::commands::run::{identity, package_manager, print_report};
use crate::commands::server::{init_logging, stop_signal};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::Settings;

/// The node's token, from the token file; a warning when others than its
/// owner may read it (anyone who can read it can act as the node).
fn read_token(path: &Path) -> anyhow::Result<String> {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: the token file {} can be read by others than its owner (mode {:o}); \
             chmod 600 {}",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).map_err(|error| {
        bad_input(format!(
            "cannot read the token file {}: {error}; 'opm node token NAME' on the head node makes one",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad_input(format!(
            "{} does not hold a token (one line of letters and digits)",
            path.display()
        )));
    }
    Ok(token.to_owned())
}

/// A refused token is bad input; the rest is a failure.
fn agent_error(error: AgentError) -> anyhow::Error {
    match &error {
        AgentError::Refused { status, .. } if *status == 401 || *status == 403 => {
            bad_input(error.to_string())
        }
        AgentError::Spool { .. } | AgentError::Tls { .. } | AgentError::Untrusted { .. } => {
            bad_input(error.to_string())
        }
        _ => anyhow::Error::new(error),
    }
}

/// Runs `opm agent`.
pub fn run(args: AgentArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let me = identity(settings)?;
    if me.role != Role::Client {
        return Err(bad_input(format!(
            "opm agent runs on a compute node, and {} says this machine is {} {}",
            settings.conf.display(),
            me.role,
            me.name
        )));
    }
    let server = args.server.or_else(|| settings.server.clone()).ok_or_else(|| {
        bad_input("no server to ask for work: pass --server URL (or OPM_SERVER, or server in the settings file)")
    })?;
    let token_file = args.token_file.or_else(|| settings.token_file.clone()).ok_or_else(|| {
        bad_input("no token: pass --token-file PATH (or OPM_TOKEN_FILE, or token_file in the settings file)")
    })?;
    let token = read_token(&token_file)?;
    let ca_cert = args.ca_cert.or_else(|| settings.ca_cert.clone());
    let client = ApiClient::new(&server, &token, ca_cert.as_deref()).map_err(agent_error)?;
    let spool_path = args.spool.unwrap_or_else(|| settings.spool.clone());
    let spool = Spool::open(&spool_path).map_err(agent_error)?;
    let packages = package_manager(settings, Duration::from_secs(30))?;
    let actor = Actor::new(
        packages,
        ScriptRunner::new(RunnerConfig {
            env: settings.site_env.clone(),
            ..RunnerConfig::default()
        }),
        std::path::absolute(&settings.root)?,
        Duration::from_secs(args.script_timeout),
    );
    let agent = Arc::new(Agent::new(
        client,
        actor,
        spool,
        me.name,
        Duration::from_secs(args.poll_wait.min(30)),
    )?);
    init_logging(settings);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            if args.once {
                let report = agent.once().await.map_err(agent_error)?;
                return print_report(&report, "opm retry, on the head node", printer);
            }
            tokio::select! {
                served = agent.serve() => served.map_err(agent_error).map(|()| Exit::Success),
                () = stop_signal() => Ok(Exit::Success),
            }
        })
}
