//! `opm bench upgrade`: benchmark B6 (an upgrade on B4's agents), run by
//! the `opm-demo` harness against this binary's own `opm server`.

use opm_demo::upgrade::bench_upgrade;
use opm_store::OpenMode;

use super::super::harness_error;
use super::agents::prepare;
use crate::cli::BenchAgentsArgs;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::runtime;
use crate::settings::Settings;

/// Runs `opm bench upgrade`.
pub fn run(args: BenchAgentsArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let (options, server) = prepare(&args, settings)?;
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
