//! What a reconcile pass did, for people and scripts: the one way `opm
//! run` and `opm agent --once` print their [`RunReport`] and pick the exit
//! code (SPEC §4).

use opm_engine::{RunReport, Verdict};

use crate::exit::Exit;
use crate::printer::Printer;

/// Prints what a run (or an agent's `--once`) did; its exit code (SPEC §4).
/// `retry` says how an error is cleared from where this ran.
pub fn print_report(report: &RunReport, retry: &str, printer: Printer) -> anyhow::Result<Exit> {
    if printer.json() {
        printer.print_json(report)?;
    } else {
        printer.line(format!(
            "{} stage(s) passed, {} failed",
            report.passed, report.failed
        ));
        for error in &report.errors {
            printer.line(format!(
                "error: {}: {} (hint: {retry})",
                error.row, error.reason
            ));
        }
        for blocked in &report.blocked {
            printer.line(format!("blocked: {}: {}", blocked.row, blocked.reason));
        }
    }
    Ok(match report.verdict() {
        Verdict::Converged => Exit::Success,
        Verdict::Failed => Exit::Failed,
        Verdict::Blocked => Exit::Blocked,
    })
}
