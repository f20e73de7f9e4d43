//! `opm bench populate`: a synthetic cluster for the benchmarks of
//! `bench/run`, written in bulk into either dialect by the store.

use std::time::Instant;

use opm_model::Stage;
use opm_store::{OpenMode, Population, Store};

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::{block_on, now_ms};

/// Runs `opm bench populate`.
pub fn run(
    nodes: u32,
    opkgs: u32,
    stage: Stage,
    behind: bool,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    if behind && stage == Stage::ShouldNotBeInstalled {
        return Err(bad_input(
            "--behind needs a stage after should_not_be_installed: nothing is before it",
        ));
    }
    let population = Population {
        nodes,
        opkgs,
        stage,
        behind,
    };
    let started = Instant::now();
    let rows = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let rows = store
            .populate(&population, now_ms())
            .await
            .map_err(store_error);
        store.close().await;
        rows
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if printer.json() {
        printer.print_json(&serde_json::json!({
            "nodes": nodes, "opkgs": opkgs, "rows": rows, "seconds": seconds,
        }))?;
    } else {
        printer.line(format!(
            "added {nodes} nodes, {opkgs} opkgs and {rows} rows at {stage}{} in {seconds:.2} s",
            if behind { " (one stage behind)" } else { "" }
        ));
    }
    Ok(Exit::Success)
}
