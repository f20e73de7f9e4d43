//! `opm status [--watch] [--summary] [filters]`: every row (that the
//! filters keep) with what is requested, what is done
//! and how it went. Exit 1 when a row is in error (SPEC §4).

use std::io::IsTerminal;
use std::time::Duration;

use opm_engine::operate::Operator as _;
use opm_model::Stage;
use opm_model::api::{RowFilter, StatusRow, StatusSummary};

use crate::cli::StatusArgs;
use crate::exit::Exit;
use crate::operator::{Needs, Op, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// How often `--watch` redraws.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Whether a row needs nobody but an operator: converged (or ahead of its
/// request, which is never undone), or waiting in error.
fn settled(row: &StatusRow) -> bool {
    match row.status.as_str() {
        "error" => true,
        "ok" => {
            let current = row.current.unwrap_or(Stage::ShouldNotBeInstalled);
            row.requested == current
                || (row.requested > Stage::ShouldNotBeInstalled && row.requested < current)
        }
        _ => false,
    }
}

/// Runs `opm status`.
pub fn run(args: StatusArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let filter = args.rows.filter();
    with_operator(settings, Needs::Store, async |op| {
        show(op, &filter, &args, printer).await
    })
}

async fn show(
    op: &Op,
    filter: &RowFilter,
    args: &StatusArgs,
    printer: Printer,
) -> anyhow::Result<Exit> {
    let terminal = std::io::stdout().is_terminal();
    let watch = args.watch;
    loop {
        let rows = op.status(filter).await.map_err(failed)?;
        if watch && terminal && !printer.json() {
            // Clear the screen and home the cursor before each redraw.
            crate::printer::out("\x1b[2J\x1b[H");
        }
        if args.summary {
            print_summary(&StatusSummary::of(&rows), printer)?;
        } else {
            print_rows(rows.clone(), printer, watch)?;
        }
        let done = rows.iter().all(settled);
        if !watch || done {
            let errors = rows.iter().any(|row| row.status == "error");
            return Ok(if errors { Exit::Failed } else { Exit::Success });
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

fn print_rows(entries: Vec<StatusRow>, printer: Printer, watch: bool) -> anyhow::Result<()> {
    if printer.json() {
        if watch {
            // One line per redraw, so a reader can take them one by one.
            crate::printer::out(&format!("{}\n", serde_json::to_string(&entries)?));
        } else {
            printer.print_json(&entries)?;
        }
        return Ok(());
    }
    printer.table(
        &[
            "target",
            "kind",
            "package",
            "requested",
            "current",
            "status",
            "message",
        ],
        entries
            .into_iter()
            .map(|e| {
                vec![
                    e.target,
                    e.kind,
                    e.package,
                    e.requested.to_string(),
                    e.current.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    match e.owner {
                        Some(owner) => format!("{} ({owner})", e.status),
                        None => e.status,
                    },
                    first_line(&e.message),
                ]
            })
            .collect(),
        "no rows; request some with 'opm install PKG' or 'opm request'",
    );
    Ok(())
}

/// `--summary`: one line per opkg with its rows per stage, then totals.
fn print_summary(summary: &StatusSummary, printer: Printer) -> anyhow::Result<()> {
    if printer.json() {
        return printer.print_json(summary);
    }
    printer.table(
        &["package", "rows", "error", "running", "stages"],
        summary
            .packages
            .iter()
            .map(|package| {
                let stages: Vec<String> = package
                    .stages
                    .iter()
                    .map(|count| format!("{}:{}", count.stage, count.rows))
                    .collect();
                vec![
                    package.package.clone(),
                    package.rows.to_string(),
                    package.errors.to_string(),
                    package.running.to_string(),
                    stages.join(" "),
                ]
            })
            .collect(),
        "no rows; request some with 'opm install PKG' or 'opm request'",
    );
    if summary.rows > 0 {
        printer.line(format_args!(
            "{} rows: {} in error, {} running",
            summary.rows, summary.errors, summary.running
        ));
    }
    Ok(())
}

/// The first line of a message, cut to fit a table cell.
fn first_line(message: &str) -> String {
    const MAX: usize = 80;
    let line = message.lines().next().unwrap_or("");
    if line.chars().count() <= MAX && !message.contains('\n') {
        return line.to_owned();
    }
    let cut: String = line.chars().take(MAX).collect();
    format!("{cut}... (see 'opm logs')")
}

#[cfg(test)]
mod tests {
    use opm_model::api::StatusRow;
    use opm_model::{Lease, Name, NameKind, Row, Stage, Status, Target};

    use super::{first_line, settled};

    fn row(requested: Stage, current: Option<Stage>, status: Status) -> StatusRow {
        StatusRow::of(&Row {
            target: Target::node(Name::new(NameKind::Node, "n1").unwrap()),
            package: Name::new(NameKind::Opkg, "slurm").unwrap(),
            requested,
            current,
            status,
        })
    }

    #[test]
    fn settled_rows_need_no_engine() {
        use Stage::*;
        assert!(settled(&row(Finished, Some(Finished), Status::Ok)));
        assert!(settled(&row(ShouldNotBeInstalled, None, Status::Ok)));
        assert!(settled(&row(ShouldBeInstalled, Some(Finished), Status::Ok)));
        assert!(settled(&row(
            Finished,
            Some(RunConfigurator),
            Status::Error {
                message: "boom".to_owned()
            }
        )));
        assert!(!settled(&row(Finished, Some(RunConfigurator), Status::Ok)));
        assert!(!settled(&row(
            ShouldNotBeInstalled,
            Some(Finished),
            Status::Ok
        )));
        assert!(!settled(&row(Finished, None, Status::Ok)));
        let lease = Lease {
            owner: "head".to_owned(),
            token: 1,
            expires_at_ms: 0,
        };
        assert!(!settled(&row(
            Finished,
            Some(Finished),
            Status::Running { lease }
        )));
    }

    #[test]
    fn long_messages_are_cut_in_the_table() {
        assert_eq!(first_line("short"), "short");
        assert_eq!(first_line("exit 1\ntail"), "exit 1... (see 'opm logs')");
        let long = "x".repeat(100);
        assert_eq!(
            first_line(&long),
            format!("{}... (see 'opm logs')", "x".repeat(80))
        );
    }
}
