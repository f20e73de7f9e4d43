//! `opm status [--watch] [--summary] [filters]`: every row (that the
//! filters keep) with what is requested, what is done, at which version
//! (outdated and upgrading rows marked) and how it went. Exit 1 when a row
//! is in error (SPEC §4). `--watch` polls the same view every second under
//! a header (phase, counts, time): on a terminal redrawn in place until
//! interrupted, elsewhere one picture after another until every row is
//! settled. `--summary` also names the rollouts that hold nodes back.

use std::io::IsTerminal;
use std::time::Duration;

use opm_engine::clock::utc;
use opm_engine::operate::Operator as _;
use opm_model::api::{RowFilter, StatusRow, StatusSummary};
use opm_model::{Phase, RolloutState, Stage};

use crate::cli::StatusArgs;
use crate::exit::Exit;
use crate::operator::{Needs, Op, failed, with_operator};
use crate::printer::{Printer, render_table};
use crate::runtime;
use crate::settings::Settings;
use crate::state::now_ms;

/// How often `--watch` redraws.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What `opm status` prints when no row is there.
const NO_ROWS: &str = "no rows; request some with 'opm install PKG' or 'opm request'";

/// Whether a row needs nobody but an operator: converged (or ahead of its
/// request, which is never undone), waiting in error, or drifted (waiting
/// for a repair).
fn settled(row: &StatusRow) -> bool {
    match row.status.as_str() {
        "error" | "drifted" => true,
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
    let watch = args.watch;
    if watch && !args.summary && std::io::stdout().is_terminal() && !printer.json() {
        return watch_in_place(op, filter).await;
    }
    loop {
        let rows = op.status(filter).await.map_err(failed)?;
        if watch && !printer.json() {
            let phase = op.phase().await.map_err(failed)?.phase;
            printer.line(header(phase, &rows, now_ms()));
        }
        if args.summary {
            let mut summary = StatusSummary::of(&rows);
            summary.rollouts = op
                .rollouts()
                .await
                .map_err(failed)?
                .into_iter()
                .filter(|line| !line.replaced && line.state != RolloutState::Done)
                .collect();
            print_summary(&summary, printer)?;
        } else {
            print_rows(&rows, printer, watch)?;
        }
        if !watch || rows.iter().all(settled) {
            return Ok(verdict(&rows));
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

/// `--watch` on a terminal: the header and the table redrawn in place
/// every second, until interrupted (Ctrl-C); the exit code is that of the
/// last picture.
async fn watch_in_place(op: &Op, filter: &RowFilter) -> anyhow::Result<Exit> {
    // Clear the screen once; afterwards each picture overwrites the last
    // from the top, clearing what is left of each line and below, so the
    // screen does not flicker.
    crate::printer::out("\x1b[2J");
    let stop = runtime::stop_signal();
    tokio::pin!(stop);
    loop {
        let rows = op.status(filter).await.map_err(failed)?;
        let phase = op.phase().await.map_err(failed)?.phase;
        let mut picture = format!("{}\n", header(phase, &rows, now_ms()));
        picture.push_str(&render_rows(&rows));
        let mut frame = String::from("\x1b[H");
        for line in picture.lines() {
            frame.push_str(line);
            frame.push_str("\x1b[K\n");
        }
        frame.push_str("\x1b[J");
        crate::printer::out(&frame);
        tokio::select! {
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
            () = &mut stop => return Ok(verdict(&rows)),
        }
    }
}

/// Exit 1 when a row is in error (SPEC §4), else 0.
fn verdict(rows: &[StatusRow]) -> Exit {
    if rows.iter().any(|row| row.status == "error") {
        Exit::Failed
    } else {
        Exit::Success
    }
}

/// The line above each `--watch` picture: the phase, the rows counted by
/// how they stand, and the time (UTC) of the picture.
fn header(phase: Phase, rows: &[StatusRow], now_ms: i64) -> String {
    let count = |wanted: &dyn Fn(&StatusRow) -> bool| rows.iter().filter(|row| wanted(row)).count();
    let errors = count(&|row| row.status == "error");
    let running = count(&|row| row.status == "running");
    let done = count(&|row| row.status == "ok" && settled(row));
    let to_do = rows.len() - errors - running - done;
    format!(
        "phase {phase}; {} rows: {done} done, {running} running, {errors} in error, \
         {to_do} to do; {} UTC",
        rows.len(),
        utc(now_ms)
    )
}

fn print_rows(rows: &[StatusRow], printer: Printer, watch: bool) -> anyhow::Result<()> {
    if printer.json() {
        if watch {
            // One line per redraw, so a reader can take them one by one.
            crate::printer::out(&format!("{}\n", serde_json::to_string(rows)?));
        } else {
            printer.print_json(&rows)?;
        }
        return Ok(());
    }
    crate::printer::out(&render_rows(rows));
    Ok(())
}

/// The rows as the table `opm status` prints, or what to do when there
/// are none; ends with a newline.
fn render_rows(rows: &[StatusRow]) -> String {
    if rows.is_empty() {
        return format!("{NO_ROWS}\n");
    }
    let table = render_table(
        &[
            "target",
            "kind",
            "package",
            "requested",
            "current",
            "version",
            "status",
            "message",
        ],
        rows.iter()
            .map(|e| {
                vec![
                    e.target.clone(),
                    e.kind.clone(),
                    e.package.clone(),
                    e.requested.to_string(),
                    e.current.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    version_cell(e),
                    match &e.owner {
                        Some(owner) => format!("{} ({owner})", e.status),
                        None => e.status.clone(),
                    },
                    first_line(&e.message),
                ]
            })
            .collect(),
    );
    format!("{table}\n")
}

/// The VERSION cell: the version, what an upgrade under way goes from and
/// to, or the version an outdated row should have.
fn version_cell(row: &StatusRow) -> String {
    let Some(version) = &row.version else {
        return "-".to_owned();
    };
    match (&row.upgrade_from, &row.wanted_version) {
        (Some(from), _) => format!("{from} -> {version} (upgrading)"),
        (None, Some(wanted))
            if opm_model::version::compare(version, wanted) != std::cmp::Ordering::Equal =>
        {
            format!("{version} (outdated: {wanted})")
        }
        _ => version.clone(),
    }
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
        NO_ROWS,
    );
    if summary.rows > 0 {
        printer.line(format_args!(
            "{} rows: {} in error, {} running",
            summary.rows, summary.errors, summary.running
        ));
    }
    for rollout in &summary.rollouts {
        printer.line(format_args!("{}", super::rollout::describe(rollout)));
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
    use opm_model::{Lease, Name, NameKind, Row, RowVersion, Stage, Status, Target};

    use super::{first_line, header, settled, version_cell};

    fn row(requested: Stage, current: Option<Stage>, status: Status) -> StatusRow {
        StatusRow::of(
            &Row {
                target: Target::node(Name::new(NameKind::Node, "n1").unwrap()),
                package: Name::new(NameKind::Opkg, "slurm").unwrap(),
                requested,
                current,
                status,
                version: RowVersion::default(),
            },
            None,
        )
    }

    fn lease() -> Lease {
        Lease {
            owner: "head".to_owned(),
            token: 1,
            expires_at_ms: 0,
        }
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
        assert!(settled(&row(
            Finished,
            Some(Finished),
            Status::Drifted {
                message: "opkg-slurm-client is not installed".to_owned()
            }
        )));
        assert!(!settled(&row(Finished, Some(RunConfigurator), Status::Ok)));
        assert!(!settled(&row(
            ShouldNotBeInstalled,
            Some(Finished),
            Status::Ok
        )));
        assert!(!settled(&row(Finished, None, Status::Ok)));
        assert!(!settled(&row(
            Finished,
            Some(Finished),
            Status::Running { lease: lease() }
        )));
    }

    #[test]
    fn the_watch_header_counts_rows_by_how_they_stand() {
        use Stage::*;
        let rows = [
            row(Finished, Some(Finished), Status::Ok),
            row(Finished, Some(Finished), Status::Ok),
            row(Finished, None, Status::Ok),
            row(
                Finished,
                Some(RunConfigurator),
                Status::Running { lease: lease() },
            ),
            row(
                Finished,
                Some(RunConfigurator),
                Status::Error {
                    message: "boom".to_owned(),
                },
            ),
        ];
        assert_eq!(
            header(opm_model::Phase::BuildImage, &rows, 1_795_000_000_999),
            "phase build_image; 5 rows: 2 done, 1 running, 1 in error, 1 to do; \
             2026-11-18 11:06:40 UTC"
        );
    }

    #[test]
    fn the_version_cell_marks_outdated_and_upgrading_rows() {
        let mut at = row(Stage::Finished, Some(Stage::Finished), Status::Ok);
        assert_eq!(version_cell(&at), "-");
        at.version = Some("1:3.1-2".to_owned());
        at.wanted_version = Some("1:3.1-2".to_owned());
        assert_eq!(version_cell(&at), "1:3.1-2");
        at.wanted_version = Some("1:3.2-1".to_owned());
        assert_eq!(version_cell(&at), "1:3.1-2 (outdated: 1:3.2-1)");
        at.upgrade_from = Some("1:3.0-1".to_owned());
        assert_eq!(version_cell(&at), "1:3.0-1 -> 1:3.1-2 (upgrading)");
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
