//! `opm retry`: clear a row's error so its failed stage runs again,
//! recorded in the history; with what `opm rerun` shares of it.

use opm_model::{Name, Stage, Target};
use opm_store::{OpenMode, Store, StoredRow};
use serde::Serialize;

use crate::cli::{RetryArgs, RowTarget};
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::{block_on, now_ms};

/// The node or image a `--node N | --image I` pair names.
pub fn row_target(target: &RowTarget) -> anyhow::Result<Target> {
    match (&target.node, &target.image) {
        (Some(node), None) => Ok(Target::node(node.clone())),
        (None, Some(image)) => Ok(Target::image(image.clone())),
        // clap requires exactly one.
        _ => Err(bad_input("say which row: --node N or --image I")),
    }
}

/// One row as `retry` and `rerun` print it with `--json`.
#[derive(Serialize)]
pub struct RowReport {
    target: String,
    kind: &'static str,
    package: String,
    requested: Stage,
    current: Option<Stage>,
    status: &'static str,
}

impl RowReport {
    pub fn of(stored: &StoredRow) -> RowReport {
        let row = &stored.row;
        RowReport {
            target: row.target.name.to_string(),
            kind: row.target.kind.name(),
            package: row.package.to_string(),
            requested: row.requested,
            current: row.current,
            status: row.status.kind().name(),
        }
    }
}

/// Runs `opm retry PKG --node N|--image I [--reason TEXT] [--whole-stage]`.
pub fn run(args: RetryArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let target = row_target(&args.target)?;
    let reason = args.reason.unwrap_or_default();
    let whole_stage = args.whole_stage;
    let stored = change(settings, &target, &args.package, async |store| {
        if whole_stage {
            store
                .restart_stage(&target, &args.package, &reason, now_ms())
                .await
        } else {
            store.retry(&target, &args.package, &reason, now_ms()).await
        }
    })?;
    let from = if whole_stage {
        "from its first step"
    } else {
        "at the step that failed"
    };
    if printer.json() {
        printer.print_json(&RowReport::of(&stored))?;
    } else {
        let next = stored
            .row
            .effective_current()
            .next()
            .filter(|next| *next <= stored.row.requested);
        match next {
            Some(next) => printer.line(format_args!(
                "cleared the error of {target} / {}; {next} runs again {from} on the next 'opm run'",
                args.package
            )),
            None => printer.line(format_args!(
                "cleared the error of {target} / {}",
                args.package
            )),
        }
    }
    Ok(Exit::Success)
}

/// Opens the store, checks the opkg is known (so the message says so
/// rather than "no row"), and runs `body`.
pub fn change(
    settings: &Settings,
    target: &Target,
    package: &Name,
    body: impl AsyncFnOnce(&opm_store::AnyStore) -> opm_store::Result<StoredRow>,
) -> anyhow::Result<StoredRow> {
    block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = async {
            let known = store.opkgs().await.map_err(store_error)?;
            if !known.iter().any(|o| &o.import.name == package) {
                return Err(bad_input(format!(
                    "unknown opkg '{package}'; see 'opm opkg list'"
                )));
            }
            store.rows_for_target(target).await.map_err(store_error)?;
            body(&store).await.map_err(store_error)
        }
        .await;
        store.close().await;
        outcome
    })
}
