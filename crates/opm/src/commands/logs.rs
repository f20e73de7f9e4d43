//! `opm logs`: the captured output of one stage attempt, step by step.

use opm_model::{StepRecord, StepResult, Target};
use opm_store::{AttemptId, Event, HistoryFilter, OpenMode, Store};

use super::history::{Entry, filter_target};
use crate::cli::LogsArgs;
use crate::exit::{Exit, bad_input};
use crate::printer::Printer;
use crate::settings::{Settings, store_error};
use crate::state::block_on;

/// How far back `opm logs` looks for a row's last attempt.
const LOGS_LOOKBACK: u32 = 10_000;

/// Runs `opm logs`: one attempt by id, or the last attempt of a row (on
/// the head node unless `--node`/`--image` says otherwise).
pub fn run(args: LogsArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
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

#[cfg(test)]
mod tests {
    use super::{StepRecord, StepResult, step_header};

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
}
