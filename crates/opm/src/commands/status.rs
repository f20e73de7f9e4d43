//! `opm status [--watch]`: every row with what is requested, what is done,
//! at which version (outdated and upgrading rows marked) and how it went.
//! Exit 1 when a row is in error (SPEC §4). `--watch` polls the same view
//! every second under a header (phase, counts, time): on a terminal
//! redrawn in place until interrupted, elsewhere one picture after another
//! until every row is settled.

use std::io::IsTerminal;
use std::time::Duration;

use opm_model::{Phase, Row, Stage, Status};
use opm_store::{AnyStore, OpenMode, Store, StoredRow};
use serde::Serialize;

use super::history::utc;
use crate::cli::StatusArgs;
use crate::exit::Exit;
use crate::printer::{Printer, render_table};
use crate::runtime;
use crate::settings::{Settings, store_error};
use crate::state::{all_rows, block_on, now_ms};

/// How often `--watch` redraws.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// One row as `opm status --json` prints it (the keys SPEC §4 names).
#[derive(Debug, Serialize)]
pub struct StatusEntry {
    /// The node's or image's name.
    pub target: String,
    /// `node` or `image`.
    pub kind: &'static str,
    /// The opkg.
    pub package: String,
    /// The stage to reach.
    pub requested: Stage,
    /// The last completed stage; null when unknown.
    pub current: Option<Stage>,
    /// `ok`, `running`, `error` or `drifted`.
    pub status: &'static str,
    /// For `error`: what failed; for `drifted`: what differs; empty otherwise.
    pub message: String,
    /// For `running`: who holds the lease.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The opkg version the current stage was reached with (SPEC §1.9).
    pub version: Option<String>,
    /// The version the row should have: the pin, else the newest import.
    pub wanted_version: Option<String>,
    /// During an upgrade: the version it started from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_from: Option<String>,
}

impl StatusEntry {
    /// The entry of one stored row.
    pub fn of(stored: &StoredRow) -> StatusEntry {
        let row = &stored.row;
        let (message, owner) = match &row.status {
            Status::Ok => (String::new(), None),
            Status::Running { lease } => (String::new(), Some(lease.owner.clone())),
            Status::Error { message } | Status::Drifted { message } => (message.clone(), None),
        };
        StatusEntry {
            target: row.target.name.to_string(),
            kind: row.target.kind.name(),
            package: row.package.to_string(),
            requested: row.requested,
            current: row.current,
            status: row.status.kind().name(),
            message,
            owner,
            version: row.version.reached.clone(),
            wanted_version: stored.wanted_version.clone(),
            upgrade_from: row.version.upgrade_from.clone(),
        }
    }

    /// The VERSION cell: the version, what an upgrade under way goes
    /// from and to, or the version an outdated row should have.
    fn version_cell(&self) -> String {
        let Some(version) = &self.version else {
            return "-".to_owned();
        };
        match (&self.upgrade_from, &self.wanted_version) {
            (Some(from), _) => format!("{from} -> {version} (upgrading)"),
            (None, Some(wanted))
                if opm_model::version::compare(version, wanted) != std::cmp::Ordering::Equal =>
            {
                format!("{version} (outdated: {wanted})")
            }
            _ => version.clone(),
        }
    }
}

/// Whether a row needs nobody but an operator: converged (or ahead of its
/// request, which is never undone), waiting in error, or drifted (waiting
/// for a repair).
fn settled(row: &Row) -> bool {
    match row.status {
        Status::Error { .. } | Status::Drifted { .. } => true,
        Status::Running { .. } => false,
        Status::Ok => {
            let current = row.effective_current();
            row.requested == current
                || (row.requested > Stage::ShouldNotBeInstalled && row.requested < current)
        }
    }
}

/// Runs `opm status`.
pub fn run(args: StatusArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = show(&store, args.watch, printer).await;
        store.close().await;
        outcome
    })
}

async fn show(store: &AnyStore, watch: bool, printer: Printer) -> anyhow::Result<Exit> {
    if watch && std::io::stdout().is_terminal() && !printer.json() {
        return watch_in_place(store).await;
    }
    loop {
        let stored = all_rows(store).await?;
        let rows: Vec<Row> = stored.iter().map(|s| s.row.clone()).collect();
        if watch && !printer.json() {
            let phase = store.phase().await.map_err(store_error)?;
            printer.line(header(phase, &rows, now_ms()));
        }
        print_rows(&stored, printer, watch)?;
        let done = rows.iter().all(settled);
        if !watch || done {
            return Ok(verdict(&rows));
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

/// `--watch` on a terminal: the header and the table redrawn in place
/// every second, until interrupted (Ctrl-C); the exit code is that of the
/// last picture.
async fn watch_in_place(store: &AnyStore) -> anyhow::Result<Exit> {
    // Clear the screen once; afterwards each picture overwrites the last
    // from the top, clearing what is left of each line and below, so the
    // screen does not flicker.
    crate::printer::out("\x1b[2J");
    let stop = runtime::stop_signal();
    tokio::pin!(stop);
    loop {
        let stored = all_rows(store).await?;
        let rows: Vec<Row> = stored.iter().map(|s| s.row.clone()).collect();
        let phase = store.phase().await.map_err(store_error)?;
        let mut picture = format!("{}\n", header(phase, &rows, now_ms()));
        picture.push_str(&render_rows(&stored));
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
fn verdict(rows: &[Row]) -> Exit {
    if rows
        .iter()
        .any(|row| matches!(row.status, Status::Error { .. }))
    {
        Exit::Failed
    } else {
        Exit::Success
    }
}

/// The line above each `--watch` picture: the phase, the rows counted by
/// how they stand, and the time (UTC) of the picture.
fn header(phase: Phase, rows: &[Row], now_ms: i64) -> String {
    let count = |wanted: fn(&Row) -> bool| rows.iter().filter(|row| wanted(row)).count();
    let errors = count(|row| matches!(row.status, Status::Error { .. }));
    let running = count(|row| matches!(row.status, Status::Running { .. }));
    let done = count(|row| matches!(row.status, Status::Ok) && settled(row));
    let to_do = rows.len() - errors - running - done;
    format!(
        "phase {phase}; {} rows: {done} done, {running} running, {errors} in error, \
         {to_do} to do; {} UTC",
        rows.len(),
        utc(now_ms)
    )
}

fn print_rows(rows: &[StoredRow], printer: Printer, watch: bool) -> anyhow::Result<()> {
    if printer.json() {
        let entries: Vec<StatusEntry> = rows.iter().map(StatusEntry::of).collect();
        if watch {
            // One line per redraw, so a reader can take them one by one.
            crate::printer::out(&format!("{}\n", serde_json::to_string(&entries)?));
        } else {
            printer.print_json(&entries)?;
        }
        return Ok(());
    }
    crate::printer::out(&render_rows(rows));
    Ok(())
}

/// The rows as the table `opm status` prints, or what to do when there
/// are none; ends with a newline.
fn render_rows(rows: &[StoredRow]) -> String {
    if rows.is_empty() {
        return "no rows; request some with 'opm install PKG' or 'opm request'\n".to_owned();
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
            .map(StatusEntry::of)
            .map(|e| {
                let version = e.version_cell();
                vec![
                    e.target,
                    e.kind.to_owned(),
                    e.package,
                    e.requested.to_string(),
                    e.current.map_or_else(|| "-".to_owned(), |c| c.to_string()),
                    version,
                    match e.owner {
                        Some(owner) => format!("{} ({owner})", e.status),
                        None => e.status.to_owned(),
                    },
                    first_line(&e.message),
                ]
            })
            .collect(),
    );
    format!("{table}\n")
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
    use opm_model::{Lease, Name, NameKind, Row, Stage, Status, Target};

    use super::{first_line, header, settled};

    fn row(requested: Stage, current: Option<Stage>, status: Status) -> Row {
        Row {
            target: Target::node(Name::new(NameKind::Node, "n1").unwrap()),
            package: Name::new(NameKind::Opkg, "slurm").unwrap(),
            requested,
            current,
            status,
            version: opm_model::RowVersion::default(),
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
    fn the_watch_header_counts_rows_by_how_they_stand() {
        use Stage::*;
        let lease = Lease {
            owner: "head".to_owned(),
            token: 1,
            expires_at_ms: 0,
        };
        let rows = [
            row(Finished, Some(Finished), Status::Ok),
            row(Finished, Some(Finished), Status::Ok),
            row(Finished, None, Status::Ok),
            row(Finished, Some(RunConfigurator), Status::Running { lease }),
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
