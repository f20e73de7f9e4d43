//! `opm plan [--json] [filters]`: what `opm run` would do now, per row that needs
//! work: its next action or exactly what it waits for. Writes nothing. On
//! the head node that is every row of the cluster, so lines are written as
//! they are decided rather than gathered first.

use opm_engine::operate::{OperateError, Operator as _};
use opm_model::api::PlanLine;

use crate::cli::PlanArgs;

use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::{Printer, out};
use crate::settings::Settings;

/// Lines buffered before a write, so 400,000 rows are not 400,000 writes.
const FLUSH_BYTES: usize = 64 * 1024;

/// Runs `opm plan`.
pub fn run(args: &PlanArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let filter = args.rows.filter();
    let json = printer.json();
    let mut buffer = String::new();
    let mut count = 0_usize;
    let mut sink = |line: PlanLine| {
        // A JSON array, one row per line: valid JSON, and still easy to
        // grep.
        buffer.push_str(match (json, count) {
            (true, 0) => "[\n",
            (true, _) => ",\n",
            (false, _) => "",
        });
        if json {
            let text = serde_json::to_string(&line)
                .map_err(|error| OperateError::BadInput(error.to_string()))?;
            buffer.push_str(&text);
        } else {
            buffer.push_str(&format!(
                "{} {} / {}: {}\n",
                line.kind, line.target, line.package, line.next
            ));
        }
        count += 1;
        if buffer.len() >= FLUSH_BYTES {
            out(&buffer);
            buffer.clear();
        }
        Ok(())
    };
    with_operator(settings, Needs::Identity, async |op| {
        op.plan_each(&filter, &mut sink).await.map_err(failed)
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
