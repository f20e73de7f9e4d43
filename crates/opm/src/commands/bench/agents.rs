//! `opm bench agents`: benchmark B4 (agents at scale), run by the
//! `opm-demo` harness against this binary's own `opm server`.

use std::ffi::OsString;

use anyhow::Context as _;
use clap::ValueEnum as _;
use opm_demo::agents::{AgentsBench, ServerCommand, bench, check_open_files};
use opm_store::OpenMode;

use super::super::harness_error;
use crate::cli::BenchAgentsArgs;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::runtime::{self, raise_open_files};
use crate::settings::Settings;

/// Runs `opm bench agents`.
pub fn run(args: BenchAgentsArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let (options, server) = prepare(&args, settings)?;
    let summary = runtime::multi_thread()?.block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let summary = bench(&options, &store, &server)
            .await
            .map_err(harness_error);
        store.close().await;
        summary
    })?;
    if printer.json() {
        printer.print_json(&summary.json())?;
    } else {
        printer.line(summary.line());
    }
    summary.check()?;
    Ok(Exit::Success)
}

/// What B4 and B6 both start from: the open-files limit raised for
/// `args.count` agents, this binary as the server with this command's
/// settings, and the harness's options.
pub fn prepare(
    args: &BenchAgentsArgs,
    settings: &Settings,
) -> anyhow::Result<(AgentsBench, ServerCommand)> {
    let limit = raise_open_files().context("cannot raise the open-files limit")?;
    check_open_files(limit, args.count).map_err(|error| harness_error(error.into()))?;
    let server = ServerCommand {
        exe: std::env::current_exe().context("cannot find the opm binary")?,
        global: server_options(settings),
    };
    let options = AgentsBench {
        count: args.count,
        jitter_ms: args.jitter_ms,
        idle_secs: args.idle_secs,
        timeout_secs: args.timeout_secs,
    };
    Ok((options, server))
}

/// The options that give the server this command's database, conf, root,
/// repositories and backend.
pub fn server_options(settings: &Settings) -> Vec<OsString> {
    let mut options: Vec<OsString> = vec!["--db".into(), settings.db_url().into()];
    options.push("--conf".into());
    options.push(settings.conf.clone().into());
    options.push("--root".into());
    options.push(settings.root.clone().into());
    for repo in &settings.repos {
        options.push("--repo".into());
        options.push(repo.into());
    }
    if let Some(backend) = settings.backend.and_then(|b| b.to_possible_value()) {
        options.push("--backend".into());
        options.push(backend.get_name().into());
    }
    options
}
