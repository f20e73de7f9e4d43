//! `opm verify [--node N | --image I] [--repair]`: the rows' native
//! packages against the package databases (SPEC §1.9). The head node reads
//! its own root and its images'; a node's rows are its agent's (on the head
//! node `--node N` shows what the agent last found); on a node, `opm
//! verify` is one verify of its agent. Reads only, runs no script.

use std::sync::Arc;

use opm_api::agent::verify_node;
use opm_engine::verify::Repaired;
use opm_engine::{EngineError, TracingReporter};
use opm_model::api::VerifySummary;
use opm_model::{Role, Target, TargetKind};

use crate::cli::{AgentArgs, RunArgs, VerifyArgs};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::runtime::{self, agent_error};
use crate::settings::{Settings, store_error};

/// Runs `opm verify`.
pub fn run(args: VerifyArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let me = runtime::identity(settings)?;
    let target = match (args.target.node, args.target.image) {
        (Some(node), _) => Some(Target::node(node)),
        (None, Some(image)) => Some(Target::image(image)),
        (None, None) => None,
    };
    if me.role == Role::Client {
        if args.repair {
            return Err(bad_input(
                "opm verify --repair requests stages, which only the head node does; \
                 run opm repair --node NODE there",
            ));
        }
        if target
            .as_ref()
            .is_some_and(|t| *t != Target::node(me.name.clone()))
        {
            return Err(bad_input(format!(
                "node {} verifies its own rows only; run opm verify on the head node for others",
                me.name
            )));
        }
        // Beside the node's running agent: no spool, no lease, reads only.
        let args = AgentArgs::default();
        let client = runtime::node_client(&args, settings)?;
        let actor = runtime::node_actor(&args, settings)?;
        let summary = runtime::multi_thread()?
            .block_on(verify_node(&client, &actor, &me.name))
            .map_err(agent_error)?;
        return print_summary(&summary, &[], printer);
    }
    runtime::multi_thread()?.block_on(async {
        // An unknown node or image is bad input (exit 2), as everywhere.
        let engine_error = |error: EngineError| match error {
            EngineError::Store(error) => store_error(error),
            other => anyhow::Error::new(other),
        };
        let engine =
            runtime::engine(settings, &RunArgs::default(), Arc::new(TracingReporter)).await?;
        let head = Target::node(me.name.clone());
        // Another node's rows: what its agent last found.
        if me.role == Role::Server
            && let Some(node) = target
                .as_ref()
                .filter(|t| t.kind == TargetKind::Node && **t != head)
        {
            if args.repair {
                let (_, repaired) = engine.repair(std::slice::from_ref(node)).await.map_err(engine_error)?;
                let summary = engine.stored_findings(node).await.map_err(engine_error)?;
                return print_summary(&summary, &repaired, printer);
            }
            let summary = engine.stored_findings(node).await.map_err(engine_error)?;
            if !printer.json() {
                printer.line(format_args!(
                    "{node}: as its agent last verified it (opm agent verifies every verify_interval; opm verify on the node does it now)"
                ));
            }
            return print_summary(&summary, &[], printer);
        }
        if args.repair {
            let targets: Vec<Target> = target.iter().cloned().collect();
            let (local, repaired) = engine.repair(&targets).await.map_err(engine_error)?;
            return print_summary(&local.summary, &repaired, printer);
        }
        let local = engine.verify(target.as_ref()).await.map_err(engine_error)?;
        print_summary(&local.summary, &[], printer)
    })
}

/// Prints what a verify found (and what a repair requested); exit 1 when
/// a row is drifted and not being repaired, or a database was unreadable.
pub fn print_summary(
    summary: &VerifySummary,
    repaired: &[Repaired],
    printer: Printer,
) -> anyhow::Result<Exit> {
    let unrepaired = summary
        .drifted
        .iter()
        .filter(|drifted| !repaired.iter().any(|r| r.row == drifted.row))
        .count();
    if printer.json() {
        printer.print_json(&serde_json::json!({
            "checked": summary.checked,
            "drifted": summary.drifted,
            "whole_again": summary.whole_again,
            "unreadable": summary.unreadable,
            "repaired": repaired,
        }))?;
    } else {
        for drifted in &summary.drifted {
            printer.line(format_args!("drifted: {}: {}", drifted.row, drifted.reason));
        }
        for row in &summary.whole_again {
            printer.line(format_args!("whole again: {row}"));
        }
        for unreadable in &summary.unreadable {
            printer.line(format_args!(
                "cannot verify {}: {}",
                unreadable.row, unreadable.reason
            ));
        }
        for row in repaired {
            printer.line(format_args!(
                "repair: {}: from {} (the next pass runs it)",
                row.row, row.from
            ));
        }
        printer.line(format_args!(
            "{} row(s) checked, {} drifted, {} repair(s) requested",
            summary.checked,
            summary.drifted.len(),
            repaired.len()
        ));
        if unrepaired > 0 {
            printer.line("hint: opm repair requests the stages that bring drifted rows back");
        }
    }
    Ok(if unrepaired > 0 || !summary.unreadable.is_empty() {
        Exit::Failed
    } else {
        Exit::Success
    })
}
