//! `opm history`: the attempts and operator events recorded for rows, or
//! (`--audit`) the audit trail of operator actions.

use opm_engine::operate::Operator as _;
use opm_model::api::{AuditQuery, HistoryQuery};

use crate::cli::HistoryArgs;
use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm history [--node N | --image I] [--group G] [--stage S]
/// [--errors] [PKG] [--since WHEN] [--failed] [--audit]`.
pub fn run(args: HistoryArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    if args.audit {
        return audit(args.since, settings, printer);
    }
    let query = HistoryQuery {
        node: args.target.node,
        image: args.target.image,
        package: args.package,
        group: args.group,
        stage: args.stage,
        errors: args.errors,
        limit: Some(args.limit),
        since_ms: args.since,
        failed: args.failed,
    };
    let entries = with_operator(settings, Needs::Store, async |op| {
        op.history(&query).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&entries)?;
        return Ok(Exit::Success);
    }
    printer.table(
        &[
            "id", "started", "target", "package", "event", "stage", "result", "exit", "took",
            "note",
        ],
        entries
            .into_iter()
            .map(|e| {
                vec![
                    e.id.to_string(),
                    e.started,
                    format!("{} {}", e.kind, e.target),
                    e.package,
                    e.event,
                    e.stage.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    e.result.unwrap_or_else(|| "-".to_owned()),
                    e.exit_code
                        .map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    e.duration_ms.map_or_else(
                        || "-".to_owned(),
                        |ms| format!("{:.1}s", ms as f64 / 1000.0),
                    ),
                    if e.whole_stage {
                        format!("{} (whole stage)", e.note).trim_start().to_owned()
                    } else {
                        e.note
                    },
                ]
            })
            .collect(),
        "no history yet",
    );
    Ok(Exit::Success)
}

/// `opm history --audit [--since WHEN]`: who asked for what, oldest first.
fn audit(since_ms: Option<i64>, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let query = AuditQuery { since_ms };
    let entries = with_operator(settings, Needs::Store, async |op| {
        op.audit(&query).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&entries)?;
        return Ok(Exit::Success);
    }
    printer.table(
        &["at", "actor", "action", "subject"],
        entries
            .into_iter()
            .map(|e| vec![e.at, e.actor, e.action, e.subject])
            .collect(),
        "no audit entries",
    );
    Ok(Exit::Success)
}
