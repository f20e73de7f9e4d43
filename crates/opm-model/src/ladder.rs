//! The stage ladder (SPEC §1.1, §1.3 rules 2–5): where a row goes next,
//! judged from its current and requested stage and, when its last attempt
//! did not finish, what that attempt was.
//!
//! The planner decides by [`legal_step`] and the store admits an attempt
//! only when [`legal_step`] names its stage, so the two cannot disagree
//! about a row (a disagreement made `opm run` decide and be refused
//! forever); the engine and the test simulator share the same answer, so
//! "no stage is ever skipped" is decided in exactly one place.

use serde::Serialize;

use crate::stage::Stage;

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

impl Step {
    /// Whether an attempt of `stage` is this step.
    pub fn begins(self, stage: Stage) -> bool {
        match self {
            Step::Up(next) => next == stage,
            Step::Uninstall => stage == Stage::ShouldNotBeInstalled,
            Step::Converged | Step::Ahead => false,
        }
    }
}

/// What a row's last attempt was, when it did not complete (failed or
/// interrupted): `current` does not account for what it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unfinished {
    /// A stage above `current`: it may have left a package in place, so a
    /// request down to `should_not_be_installed` still runs the uninstall
    /// path even when `current` is already there.
    Up,
    /// The uninstall path: it may have removed packages that `current`
    /// still counts, so before going up again the uninstall is finished.
    Uninstall,
}

impl Unfinished {
    /// What a row's newest attempt, of `stage`, leaves unfinished: nothing
    /// when it passed.
    pub fn after(stage: Stage, passed: bool) -> Option<Unfinished> {
        match (passed, stage) {
            (true, _) => None,
            (false, Stage::ShouldNotBeInstalled) => Some(Unfinished::Uninstall),
            (false, _) => Some(Unfinished::Up),
        }
    }
}

/// The one next legal step of a row: [`next_step`], amended by the row's
/// unfinished last attempt. An uninstall cut short is finished before the
/// row climbs again (from the bottom), and a row requested down to the
/// bottom whose last attempt did not finish runs the uninstall path even
/// when `current` is already the bottom (a failed first install leaves
/// `opkg-<p>` in place).
pub fn legal_step(
    current: Option<Stage>,
    requested: Stage,
    unfinished: Option<Unfinished>,
) -> Step {
    match (next_step(current, requested), unfinished) {
        (_, Some(Unfinished::Uninstall)) if requested > Stage::ShouldNotBeInstalled => {
            Step::Uninstall
        }
        (Step::Converged, Some(_)) if requested == Stage::ShouldNotBeInstalled => Step::Uninstall,
        (step, _) => step,
    }
}

/// Where a row with `current` (unknown counts as the first stage) and
/// `requested` goes next, judged from the two stages alone.
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
    fn an_unfinished_attempt_amends_only_the_bottom_and_a_cut_short_uninstall() {
        use Stage::*;
        for current in Stage::ALL {
            for requested in Stage::ALL {
                let plain = next_step(Some(current), requested);
                assert_eq!(legal_step(Some(current), requested, None), plain);
                let up = legal_step(Some(current), requested, Some(Unfinished::Up));
                let expected = if requested == ShouldNotBeInstalled {
                    Step::Uninstall
                } else {
                    plain
                };
                assert_eq!(up, expected, "up: current {current}, requested {requested}");
                let down = legal_step(Some(current), requested, Some(Unfinished::Uninstall));
                let expected = if requested == ShouldNotBeInstalled && current == requested {
                    Step::Uninstall
                } else if requested == ShouldNotBeInstalled {
                    plain
                } else {
                    Step::Uninstall
                };
                assert_eq!(
                    down, expected,
                    "down: current {current}, requested {requested}"
                );
            }
        }
        assert_eq!(
            legal_step(None, ShouldNotBeInstalled, Some(Unfinished::Up)),
            Step::Uninstall
        );
    }

    #[test]
    fn a_step_begins_only_its_own_stage() {
        for stage in Stage::ALL {
            assert!(Step::Up(stage).begins(stage));
            assert_eq!(
                Step::Uninstall.begins(stage),
                stage == Stage::ShouldNotBeInstalled
            );
            assert!(!Step::Converged.begins(stage));
            assert!(!Step::Ahead.begins(stage));
        }
        assert!(!Step::Up(Stage::Finished).begins(Stage::RunConfigurator));
    }

    #[test]
    fn only_an_attempt_that_did_not_pass_is_unfinished() {
        assert_eq!(Unfinished::after(Stage::Finished, true), None);
        assert_eq!(Unfinished::after(Stage::ShouldNotBeInstalled, true), None);
        assert_eq!(
            Unfinished::after(Stage::ShouldNotBeInstalled, false),
            Some(Unfinished::Uninstall)
        );
        assert_eq!(
            Unfinished::after(Stage::ShouldBeInstalled, false),
            Some(Unfinished::Up)
        );
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
