//! `opm logs`: the captured output of one stage attempt, step by step.

use opm_engine::operate::Operator as _;
use opm_model::api::LogsQuery;
use opm_model::{StepRecord, StepResult};

use crate::cli::LogsArgs;
use crate::exit::Exit;
use crate::operator::{Needs, failed, with_operator};
use crate::printer::Printer;
use crate::settings::Settings;

/// Runs `opm logs`: one attempt by id, or the last attempt of a row (on
/// the head node unless `--node`/`--image` says otherwise).
pub fn run(args: LogsArgs, settings: &Settings, printer: Printer) -> anyhow::Result<Exit> {
    let query = LogsQuery {
        attempt: args.attempt,
        package: args.package,
        node: args.target.node,
        image: args.target.image,
    };
    let mut e = with_operator(settings, Needs::Store, async |op| {
        op.logs(&query).await.map_err(failed)
    })?;
    if printer.json() {
        printer.print_json(&e)?;
        return Ok(Exit::Success);
    }
    let steps = e.steps.take().unwrap_or_default();
    let output = e.output.take().unwrap_or_default();
    let mut header = format!(
        "attempt {}: {} {} / {} {} {}",
        e.id,
        e.kind,
        e.target,
        e.package,
        e.stage.map_or_else(|| "-".to_owned(), |s| s.to_string()),
        e.result.as_deref().unwrap_or("-"),
    );
    if let Some(code) = e.exit_code {
        header.push_str(&format!(" (exit {code})"));
    }
    header.push_str(&format!(", started {}", e.started));
    eprintln!("{header}");
    if steps.is_empty() {
        // Recorded before steps were (or a stage with none): one output.
        print_output(&output);
        return Ok(Exit::Success);
    }
    // The attempt's own notes (an interruption, where it resumed) come
    // before its first step's header.
    let notes: String = output
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
