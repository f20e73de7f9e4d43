//! `opm plan [--json]`: what `opm run` would do now, per row that needs
//! work: its next action or exactly what it waits for. Writes nothing.

use std::sync::Arc;

use opm_engine::TracingReporter;

use crate::cli::RunArgs;
use crate::commands::run::engine;
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm plan`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let lines = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let engine = engine(settings, &RunArgs::default(), Arc::new(TracingReporter)).await?;
            anyhow::Ok(engine.plan().await?)
        })?;
    if printer.json() {
        printer.print_json(&lines)?;
    } else if lines.is_empty() {
        printer.line("nothing to do: every row in scope is at its requested stage");
    } else {
        for line in &lines {
            printer.line(format!("{} / {}: {}", line.target, line.package, line.next));
        }
    }
    Ok(Exit::Success)
}
