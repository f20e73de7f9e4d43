//! Progress bars for `opm run` on a terminal: one bar per target, filled
//! as the engine reports its stages through [`Reporter`]. The engine only
//! knows the trait; how progress looks is the command line's business.

use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use opm_engine::{Event, Reporter};
use opm_model::Target;

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
