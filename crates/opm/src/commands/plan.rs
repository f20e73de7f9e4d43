//! `opm plan [--json]`: what `opm run` would do now, per row that needs
//! work: its next action or exactly what it waits for. Writes nothing. On
//! the head node that is every row of the cluster, so lines are written as
//! they are decided rather than gathered first.

use std::sync::Arc;

use opm_engine::{PlanLine, TracingReporter};

use crate::cli::RunArgs;
use crate::exit::Exit;
use crate::printer::{Printer, out};
use crate::runtime::engine;
use crate::settings::Settings;

/// Lines buffered before a write, so 400,000 rows are not 400,000 writes.
const FLUSH_BYTES: usize = 64 * 1024;

/// Runs `opm plan`.
pub fn run(settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let json = printer.json();
    let mut buffer = String::new();
    let mut count = 0_usize;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let engine = engine(settings, &RunArgs::default(), Arc::new(TracingReporter)).await?;
            engine
                .plan_each(|line: PlanLine| {
                    // A JSON array, one row per line: valid JSON, and still
                    // easy to grep.
                    buffer.push_str(match (json, count) {
                        (true, 0) => "[\n",
                        (true, _) => ",\n",
                        (false, _) => "",
                    });
                    if json {
                        buffer.push_str(&serde_json::to_string(&line)?);
                    } else {
                        buffer.push_str(&format!(
                            "{} / {}: {}\n",
                            line.target, line.package, line.next
                        ));
                    }
                    count += 1;
                    if buffer.len() >= FLUSH_BYTES {
                        out(&buffer);
                        buffer.clear();
                    }
                    anyhow::Ok(())
                })
                .await
        })?;
    match (json, count) {
        (true, 0) => buffer.push_str("[]\n"),
        (true, _) => buffer.push_str("\n]\n"),
        (false, 0) => {
            buffer.push_str("nothing to do: every row in scope is at its requested stage\n");
        }
        (false, _) => {}
    }
    out(&buffer);
    Ok(Exit::Success)
}
