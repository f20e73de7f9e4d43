//! The stage ladder (SPEC §1.1, §1.3 rules 2–5): where a row goes next,
//! judged from its current and requested stage alone.
//!
//! The planner, the engine and the test simulator share this one answer, so
//! "no stage is ever skipped" is decided in exactly one place.

use opm_model::Stage;
use serde::Serialize;

/// The next move on the ladder for a (current, requested) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "step", content = "stage", rename_all = "snake_case")]
pub enum Step {
    /// `requested == current`: nothing to do.
    Converged,
    /// `requested > current`: perform this stage, the one right after current.
    Up(Stage),
    /// `requested == should_not_be_installed` and `current` above it: uninstall.
    Uninstall,
    /// `requested` between `should_be_installed` and `current`: nothing is
    /// undone; re-running is explicit (`opm rerun`).
    Ahead,
}

/// Where a row with `current` (unknown counts as the first stage) and
/// `requested` goes next.
pub fn next_step(current: Option<Stage>, requested: Stage) -> Step {
    let current = current.unwrap_or(Stage::FIRST);
    if requested == current {
        Step::Converged
    } else if requested > current {
        // `current < requested <= Finished`, so a next stage exists; the
        // fallback only keeps this total without a panic path.
        current.next().map_or(Step::Converged, Step::Up)
    } else if requested == Stage::ShouldNotBeInstalled {
        Step::Uninstall
    } else {
        Step::Ahead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pair_has_exactly_one_step() {
        for current in Stage::ALL {
            for requested in Stage::ALL {
                let step = next_step(Some(current), requested);
                let expected = if requested == current {
                    Step::Converged
                } else if requested > current {
                    Step::Up(Stage::from_id(current.id() + 1).unwrap())
                } else if requested == Stage::ShouldNotBeInstalled {
                    Step::Uninstall
                } else {
                    Step::Ahead
                };
                assert_eq!(step, expected, "current {current}, requested {requested}");
            }
        }
    }

    #[test]
    fn unknown_current_counts_as_the_first_stage() {
        assert_eq!(
            next_step(None, Stage::Finished),
            Step::Up(Stage::ShouldBeInstalled)
        );
        assert_eq!(
            next_step(None, Stage::ShouldNotBeInstalled),
            Step::Converged
        );
    }
}
