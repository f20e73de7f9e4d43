//! Progress reporting: the engine says what happens through [`Reporter`];
//! a terminal gets progress bars, a pipe plain log lines, the daemon
//! tracing events.

use std::io::Write;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use opm_model::{Stage, Target};

/// One thing the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Work on a target starts: `stages` stages are planned now.
    TargetStarted {
        /// The node or image.
        target: Target,
        /// How many stages are planned.
        stages: usize,
    },
    /// A stage of a row starts.
    StageStarted {
        /// The row, as `node n3 / slurm`.
        row: String,
        /// The stage.
        stage: Stage,
    },
    /// A stage passed.
    StagePassed {
        /// The row.
        row: String,
        /// The stage.
        stage: Stage,
    },
    /// A stage failed: the row is in error.
    StageFailed {
        /// The row.
        row: String,
        /// The stage.
        stage: Stage,
        /// What failed.
        message: String,
    },
    /// A target waits for another owner's lease or for the database.
    Waiting {
        /// What is waited for.
        reason: String,
    },
    /// Work on a target ended for this pass.
    TargetDone {
        /// The node or image.
        target: Target,
    },
}

/// Receives the engine's progress; shared by all target tasks.
pub trait Reporter: Send + Sync {
    /// Reports one event.
    fn report(&self, event: &Event);
}

impl Event {
    /// The event as one log line.
    pub fn line(&self) -> String {
        match self {
            Event::TargetStarted { target, stages } => {
                format!("{target}: {stages} stage(s) to perform")
            }
            Event::StageStarted { row, stage } => format!("{row}: {stage} started"),
            Event::StagePassed { row, stage } => format!("{row}: {stage} passed"),
            Event::StageFailed {
                row,
                stage,
                message,
            } => format!("{row}: {stage} failed: {message}"),
            Event::Waiting { reason } => format!("waiting: {reason}"),
            Event::TargetDone { target } => format!("{target}: done for now"),
        }
    }
}

/// Plain log lines on a writer (stderr when stdout is not a terminal).
pub struct LineReporter<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> LineReporter<W> {
    /// Reports into `out`.
    pub fn new(out: W) -> LineReporter<W> {
        LineReporter {
            out: Mutex::new(out),
        }
    }

    /// The writer back (tests read what was reported).
    pub fn into_inner(self) -> W {
        self.out
            .into_inner()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

impl<W: Write + Send> Reporter for LineReporter<W> {
    fn report(&self, event: &Event) {
        let mut out = self.out.lock().unwrap_or_else(|poison| poison.into_inner());
        // A closed log stream must not stop the work.
        let _ = writeln!(out, "{}", event.line());
    }
}

/// Tracing events, for the daemon.
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingReporter;

impl Reporter for TracingReporter {
    fn report(&self, event: &Event) {
        match event {
            Event::StageFailed { .. } => tracing::warn!("{}", event.line()),
            _ => tracing::info!("{}", event.line()),
        }
    }
}

/// Progress bars, one per target, for a terminal.
pub struct BarReporter {
    bars: MultiProgress,
    by_target: Mutex<Vec<(Target, ProgressBar)>>,
}

impl Default for BarReporter {
    fn default() -> Self {
        BarReporter::new()
    }
}

impl BarReporter {
    /// Bars drawn on stderr.
    pub fn new() -> BarReporter {
        BarReporter {
            bars: MultiProgress::new(),
            by_target: Mutex::new(Vec::new()),
        }
    }

    fn bar_of(&self, row: &str) -> Option<ProgressBar> {
        let bars = self
            .by_target
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        bars.iter()
            .find(|(target, _)| row.starts_with(&format!("{target} / ")))
            .map(|(_, bar)| bar.clone())
    }
}

impl Reporter for BarReporter {
    fn report(&self, event: &Event) {
        match event {
            Event::TargetStarted { target, stages } => {
                let bar = self
                    .bars
                    .add(ProgressBar::new(u64::try_from(*stages).unwrap_or(u64::MAX)));
                let style =
                    ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style.progress_chars("=> "));
                bar.set_prefix(target.to_string());
                self.by_target
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner())
                    .push((target.clone(), bar));
            }
            Event::StageStarted { row, stage } => {
                if let Some(bar) = self.bar_of(row) {
                    bar.set_message(format!("{row}: {stage}"));
                }
            }
            Event::StagePassed { row, .. } => {
                if let Some(bar) = self.bar_of(row) {
                    bar.inc(1);
                }
            }
            Event::StageFailed { row, .. } => {
                let _ = self.bars.println(event.line());
                if let Some(bar) = self.bar_of(row) {
                    bar.inc(1);
                }
            }
            Event::Waiting { .. } => {
                let _ = self.bars.println(event.line());
            }
            Event::TargetDone { target } => {
                let mut bars = self
                    .by_target
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                if let Some(index) = bars.iter().position(|(t, _)| t == target) {
                    let (_, bar) = bars.remove(index);
                    bar.finish_with_message("done");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::{Name, NameKind};

    #[test]
    fn plain_lines_name_the_row_and_the_stage() {
        let reporter = LineReporter::new(Vec::new());
        let target = Target::node(Name::new(NameKind::Node, "head").unwrap());
        reporter.report(&Event::TargetStarted {
            target: target.clone(),
            stages: 2,
        });
        reporter.report(&Event::StageFailed {
            row: "node head / slurm".to_owned(),
            stage: Stage::RunConfigurator,
            message: "script x failed with exit code 3".to_owned(),
        });
        reporter.report(&Event::TargetDone { target });
        let text = String::from_utf8(reporter.into_inner()).unwrap();
        assert_eq!(
            text,
            "node head: 2 stage(s) to perform\n\
             node head / slurm: run-configurator failed: script x failed with exit code 3\n\
             node head: done for now\n"
        );
    }
}
