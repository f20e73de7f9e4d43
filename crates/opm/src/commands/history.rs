//! `opm history` and `opm logs`: the attempts and operator events recorded
//! for rows, and the output each attempt captured.

use opm_model::{Name, Stage, StepRecord, StepResult, Target};
use opm_store::{AttemptId, AttemptResult, Event, HistoryEntry, HistoryFilter, OpenMode, Store};
use serde::Serialize;

use crate::cli::{HistoryArgs, LogsArgs, TargetFilter};
use crate::commands::state::block_on;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};

/// How far back `opm logs` looks for a row's last attempt.
const LOGS_LOOKBACK: u32 = 10_000;

/// One history entry as printed with `--json`.
#[derive(Debug, Serialize)]
struct Entry {
    id: i64,
    target: String,
    kind: &'static str,
    package: String,
    event: &'static str,
    stage: Option<Stage>,
    result: Option<&'static str>,
    started: String,
    started_ms: i64,
    ended_ms: Option<i64>,
    duration_ms: Option<i64>,
    exit_code: Option<i32>,
    output_bytes: u64,
    note: String,
    /// A retry that runs the failed stage from its first step.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    whole_stage: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    /// For `opm logs`: the attempt's steps, each with its own output.
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<Vec<StepRecord>>,
}

impl Entry {
    fn of(entry: &HistoryEntry, with_output: bool) -> Entry {
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
fn filter_target(filter: &TargetFilter) -> Option<Target> {
    match (&filter.node, &filter.image) {
        (Some(node), _) => Some(Target::node(node.clone())),
        (None, Some(image)) => Some(Target::image(image.clone())),
        (None, None) => None,
    }
}

/// Runs `opm history [--node N | --image I] [PKG]`.
pub fn history(args: HistoryArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
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

/// Runs `opm logs`: one attempt by id, or the last attempt of a row (on
/// the head node unless `--node`/`--image` says otherwise).
pub fn logs(args: LogsArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let entry = block_on(async {
        let store = settings.open_store(OpenMode::Existing).await?;
        let outcome = async {
            if let Some(id) = args.attempt {
                return store.attempt(AttemptId(id)).await.map_err(store_error);
            }
            let Some(package) = args.package.clone() else {
                return Err(bad_input("name an opkg or --attempt ID"));
            };
            let target = match filter_target(&args.target) {
                Some(target) => target,
                None => {
                    let nodes = store.nodes().await.map_err(store_error)?;
                    let head = nodes.into_iter().find(|n| n.head).ok_or_else(|| {
                        bad_input("the database has no head node; run 'opm init' first")
                    })?;
                    Target::node(head.name)
                }
            };
            store.row(&target, &package).await.map_err(store_error)?;
            let entries = store
                .history(&HistoryFilter {
                    target: Some(target.clone()),
                    opkg: Some(package.clone()),
                    limit: LOGS_LOOKBACK,
                })
                .await
                .map_err(store_error)?;
            entries
                .into_iter()
                .rev()
                .find(|e| e.event == Event::Attempt)
                .ok_or_else(|| bad_input(format!("{target} / {package} has no attempts yet")))
        }
        .await;
        let outcome = match outcome {
            Ok(entry) if entry.event == Event::Attempt => store
                .steps(entry.id)
                .await
                .map(|steps| (entry, steps))
                .map_err(store_error),
            Ok(entry) => Ok((entry, Vec::new())),
            Err(error) => Err(error),
        };
        store.close().await;
        outcome
    })?;
    let (entry, steps) = entry;
    if printer.json() {
        let mut json = Entry::of(&entry, true);
        json.steps = Some(steps);
        printer.print_json(&json)?;
        return Ok(Exit::Success);
    }
    let e = Entry::of(&entry, false);
    let mut header = format!(
        "attempt {}: {} {} / {} {} {}",
        e.id,
        e.kind,
        e.target,
        e.package,
        e.stage.map_or_else(|| "-".to_owned(), |s| s.to_string()),
        e.result.unwrap_or("-"),
    );
    if let Some(code) = e.exit_code {
        header.push_str(&format!(" (exit {code})"));
    }
    header.push_str(&format!(", started {}", e.started));
    eprintln!("{header}");
    if steps.is_empty() {
        // Recorded before steps were (or a stage with none): one output.
        print_output(&entry.output);
        return Ok(Exit::Success);
    }
    // The attempt's own notes (an interruption, where it resumed) come
    // before its first step's header.
    let notes: String = entry
        .output
        .split_inclusive('\n')
        .take_while(|line| !line.starts_with("== "))
        .collect();
    print_output(&notes);
    for step in &steps {
        crate::printer::out(&format!("{}\n", step_header(step, steps.len())));
        print_output(&step.output);
    }
    Ok(Exit::Success)
}

/// Prints `text`, ending it with a newline when it has none.
fn print_output(text: &str) {
    crate::printer::out(text);
    if !text.is_empty() && !text.ends_with('\n') {
        crate::printer::out("\n");
    }
}

/// The line that heads a step's output in `opm logs`:
/// `== step 2/3 run api-post-install: failed (exit 3, 0.3s)`.
fn step_header(step: &StepRecord, count: usize) -> String {
    let mut line = format!(
        "== step {}/{count} {}: {}",
        u64::from(step.position) + 1,
        step.action,
        step.result.name()
    );
    let mut details = Vec::new();
    if let (StepResult::Carried, Some(attempt)) = (step.result, step.passed_in) {
        details.push(format!("passed in attempt {attempt}"));
    }
    if let Some(code) = step.exit_code {
        details.push(format!("exit {code}"));
    }
    if let (StepResult::Passed | StepResult::Failed, Some(ended)) = (step.result, step.ended_ms) {
        details.push(format!("{:.1}s", (ended - step.started_ms) as f64 / 1000.0));
    }
    if !details.is_empty() {
        line.push_str(&format!(" ({})", details.join(", ")));
    }
    line
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
    use super::{StepRecord, StepResult, step_header, utc};

    #[test]
    fn step_headers_say_result_exit_code_and_time() {
        let step = StepRecord {
            position: 1,
            action: "run api-post-install".to_owned(),
            result: StepResult::Failed,
            passed_in: None,
            started_ms: 1_000,
            ended_ms: Some(1_300),
            exit_code: Some(3),
            output: String::new(),
            output_bytes: Some(0),
        };
        assert_eq!(
            step_header(&step, 3),
            "== step 2/3 run api-post-install: failed (exit 3, 0.3s)"
        );
        let carried = StepRecord {
            position: 0,
            result: StepResult::Carried,
            passed_in: Some(41),
            exit_code: None,
            ..step.clone()
        };
        assert_eq!(
            step_header(&carried, 3),
            "== step 1/3 run api-post-install: carried (passed in attempt 41)"
        );
        let cut = StepRecord {
            result: StepResult::Interrupted,
            ended_ms: None,
            exit_code: None,
            ..step
        };
        assert_eq!(
            step_header(&cut, 3),
            "== step 2/3 run api-post-install: interrupted"
        );
    }

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_000_000_999), "2026-11-18 11:06:40");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59");
    }
}
