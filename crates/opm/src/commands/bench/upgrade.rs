//! `opm bench upgrade`: benchmark B6 (an upgrade on B4's agents), run by
//! the `opm-demo` harness against this binary's own `opm server`.

use anyhow::Context as _;
use opm_demo::agents::{AgentsBench, ServerCommand, check_open_files};
use opm_demo::upgrade::bench_upgrade;
use opm_store::OpenMode;

use super::super::harness_error;
use super::agents::server_options;
use crate::cli::BenchAgentsArgs;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::runtime::{self, raise_open_files};
use crate::settings::Settings;

/// Runs `opm bench upgrade`.
pub fn run(args: BenchAgentsArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
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
    let summary = runtime::multi_thread()?.block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let summary = bench_upgrade(&options, &store, &server)
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
