//! `opm bench verify --db-root DIR` (benchmark B5): every compute node's
//! rows verified against one real package database, as each node's agent
//! and the server would verify them (question, one read, judgement and
//! write), without the HTTP between them.

use std::time::{Duration, Instant};

use opm_engine::verify::{judge_node, node_question};
use opm_model::api::VerifySummary;
use opm_native::Root;
use opm_store::{OpenMode, Store};

use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::runtime::package_manager;
use crate::settings::{Settings, store_error};
use crate::state::{block_on, now_ms};

/// Runs `opm bench verify`.
pub fn run(
    db_root: &std::path::Path,
    settings: &Settings,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let root = Root::new(db_root).map_err(|e| bad_input(e.to_string()))?;
    let packages = package_manager(settings, Duration::from_secs(30))?;
    let started = Instant::now();
    let (nodes, reads, summary) = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let mut summary = VerifySummary::default();
        let (mut nodes, mut reads) = (0_usize, 0_usize);
        for node in store.nodes().await.map_err(store_error)? {
            if node.head {
                continue;
            }
            nodes += 1;
            let names = node_question(&store, &node.name)
                .await
                .map_err(store_error)?;
            if names.is_empty() {
                continue;
            }
            let inventory = packages.inventory(&root, &names)?;
            reads += 1;
            let found = judge_node(&store, &node.name, &inventory, now_ms())
                .await
                .map_err(store_error)?;
            summary.merge(found);
        }
        store.close().await;
        anyhow::Ok((nodes, reads, summary))
    })?;
    let seconds = started.elapsed().as_secs_f64();
    // Rows judged, each once; a row is the unit the figures are per.
    let per_row_us = if summary.checked == 0 {
        0.0
    } else {
        seconds * 1e6 / summary.checked as f64
    };
    if printer.json() {
        printer.print_json(&serde_json::json!({
            "nodes": nodes,
            "reads": reads,
            "rows": summary.checked,
            "drifted": summary.drifted.len(),
            "seconds": seconds,
            "per_row_us": per_row_us,
        }))?;
    } else {
        printer.line(format!(
            "verified {} rows of {nodes} nodes with {reads} package-database reads in {seconds:.2} s ({per_row_us:.1} us/row), {} drifted",
            summary.checked,
            summary.drifted.len()
        ));
    }
    Ok(Exit::Success)
}
