//! `opm repair [--node N]... [--image I]...`: requests the stages that
//! bring drifted rows back (SPEC §1.9), on the head node, after verifying
//! what it can read (its own root, its images'); a node's rows are
//! repaired by what its agent last found. The passes and the agents then
//! run the stages, each with its gate, history and retry.

use std::sync::Arc;

use opm_engine::{EngineError, TracingReporter};
use opm_model::{Role, Target};

use super::verify::print_summary;
use crate::cli::{RepairArgs, RunArgs};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::runtime;
use crate::settings::{Settings, store_error};

/// Runs `opm repair`.
pub fn run(args: RepairArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let me = runtime::identity(settings)?;
    if me.role == Role::Client {
        return Err(bad_input(format!(
            "opm repair requests stages, which only the head node does; run opm repair --node {} there",
            me.name
        )));
    }
    let targets: Vec<Target> = args
        .nodes
        .into_iter()
        .map(Target::node)
        .chain(args.images.into_iter().map(Target::image))
        .collect();
    runtime::multi_thread()?.block_on(async {
        // An unknown node or image is bad input (exit 2), as everywhere.
        let engine_error = |error: EngineError| match error {
            EngineError::Store(error) => store_error(error),
            other => anyhow::Error::new(other),
        };
        let engine =
            runtime::engine(settings, &RunArgs::default(), Arc::new(TracingReporter)).await?;
        let (mut local, repaired) = engine.repair(&targets).await.map_err(engine_error)?;
        // What the verify found on targets not asked about is not this
        // repair's business.
        if !targets.is_empty() {
            let named = |row: &str| targets.iter().any(|t| row.starts_with(&format!("{t} / ")));
            local.summary.drifted.retain(|drifted| named(&drifted.row));
            local.summary.whole_again.retain(|row| named(row));
            local
                .summary
                .unreadable
                .retain(|unreadable| targets.iter().any(|t| unreadable.row == t.to_string()));
        }
        // Node rows repaired from their stored status count as found.
        for row in &repaired {
            if !local.summary.drifted.iter().any(|d| d.row == row.row) {
                local.summary.drifted.push(opm_model::api::Waiting {
                    row: row.row.clone(),
                    reason: row.drift.clone(),
                });
            }
        }
        print_summary(&local.summary, &repaired, printer)
    })
}
