//! `opm bench rollout`: benchmark B7 (B6's upgrade as a rollout, with
//! failures injected on request), run by the `opm-demo` harness against
//! this binary's own `opm server`.

use opm_demo::rollout::{RolloutBench, bench_rollout};
use opm_store::OpenMode;

use super::super::harness_error;
use super::agents::prepare;
use crate::cli::BenchRolloutArgs;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::runtime;
use crate::settings::Settings;

/// Runs `opm bench rollout`.
pub fn run(args: BenchRolloutArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let (agents, server) = prepare(&args.agents, settings)?;
    let options = RolloutBench {
        agents,
        policy: args.rollout.policy(settings.rollout),
        fail: args.fail,
    };
    let summary = runtime::multi_thread()?.block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let summary = bench_rollout(&options, &store, &server)
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
