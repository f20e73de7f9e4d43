//! `opm history` and `opm logs`: the attempts and operator events recorded
//! for rows, and the output each attempt captured.

use opm_model::{Name, Stage, StepRecord, Target};
use opm_store::{AttemptResult, HistoryEntry, HistoryFilter, OpenMode, Store};
use serde::Serialize;

use crate::cli::{HistoryArgs, TargetFilter};
use crate::exit::Exit;
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

/// One history entry as printed with `--json`.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    pub target: String,
    pub kind: &'static str,
    pub package: String,
    pub event: &'static str,
    pub stage: Option<Stage>,
    pub result: Option<&'static str>,
    pub started: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    pub duration_ms: Option<i64>,
    pub exit_code: Option<i32>,
    pub output_bytes: u64,
    pub note: String,
    /// A retry that runs the failed stage from its first step.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub whole_stage: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// For `opm logs`: the attempt's steps, each with its own output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepRecord>>,
}

impl Entry {
    pub fn of(entry: &HistoryEntry, with_output: bool) -> Entry {
        Entry {
            id: entry.id.0,
            target: entry.target.name.to_string(),
            kind: entry.target.kind.name(),
            package: entry.opkg.to_string(),
            event: entry.event.name(),
            stage: entry.stage,
            result: entry.result.map(AttemptResult::name),
            started: utc(entry.started_ms),
            started_ms: entry.started_ms,
            ended_ms: entry.ended_ms,
            duration_ms: entry.ended_ms.map(|end| end - entry.started_ms),
            exit_code: entry.exit_code,
            output_bytes: entry.output_bytes,
            note: entry.note.clone(),
            whole_stage: entry.whole_stage,
            output: with_output.then(|| entry.output.clone()),
            steps: None,
        }
    }
}

/// The optional target of `--node N | --image I`.
pub fn filter_target(filter: &TargetFilter) -> Option<Target> {
    match (&filter.node, &filter.image) {
        (Some(node), _) => Some(Target::node(node.clone())),
        (None, Some(image)) => Some(Target::image(image.clone())),
        (None, None) => None,
    }
}

/// Runs `opm history [--node N | --image I] [PKG]`.
pub fn run(args: HistoryArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let filter = HistoryFilter {
        target: filter_target(&args.target),
        opkg: args.package,
        limit: args.limit,
    };
    let entries = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = async {
            check_names(&store, filter.target.as_ref(), filter.opkg.as_ref()).await?;
            store.history(&filter).await.map_err(store_error)
        }
        .await;
        store.close().await;
        outcome
    })?;
    let entries: Vec<Entry> = entries.iter().map(|e| Entry::of(e, false)).collect();
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
                    e.event.to_owned(),
                    e.stage.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    e.result.unwrap_or("-").to_owned(),
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

/// Refuses names the database does not know, so a typo is an error and
/// not an empty answer. History outlives removed nodes and opkgs, so this
/// only checks what is registered now when nothing was recorded for it.
async fn check_names(
    store: &opm_store::AnyStore,
    target: Option<&Target>,
    opkg: Option<&Name>,
) -> anyhow::Result<()> {
    let recorded = store
        .history(&HistoryFilter {
            target: target.cloned(),
            opkg: opkg.cloned(),
            limit: 1,
        })
        .await
        .map_err(store_error)?;
    if !recorded.is_empty() {
        return Ok(());
    }
    if let Some(target) = target {
        store.rows_for_target(target).await.map_err(store_error)?;
    }
    if let Some(opkg) = opkg {
        store.rows_for_opkg(opkg).await.map_err(store_error)?;
    }
    Ok(())
}

/// A UTC timestamp, `YYYY-MM-DD HH:MM:SS`, from milliseconds since the epoch.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_000_000_999), "2026-11-18 11:06:40");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59");
    }
}
