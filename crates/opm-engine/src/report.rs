//! Progress reporting: the engine says what happens through [`Reporter`];
//! a pipe gets plain log lines, the daemon tracing events. What a terminal
//! shows (progress bars) is the CLI's business, as another `Reporter`.

use std::io::Write;
use std::sync::Mutex;

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
