//! Named cases for draining a node before its packages change (issue 20):
//! what happens before its work is handed out, what `drained_command`'s
//! answer means, whole lives of a node (opm's drain, somebody else's, a
//! timeout, a failure, a server restart), and the commands' words.

// Test helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use opm_model::{Name, NameKind, Part, Stage};
use opm_plan::drain::{
    Before, CommandTemplate, DrainState, NodeWork, Probed, before, changes_packages, probed,
    short_duration, timeout_message,
};
use opm_plan::{Action, RootRef, Work};
use opm_plan::{Action as A, RowRole, stage_actions, uninstall_actions};

const HOUR: Duration = Duration::from_secs(3600);
const T0: i64 = 1_000_000;

fn n12() -> Name {
    Name::new(NameKind::Node, "n12").unwrap()
}

fn work(stage: Stage, actions: Vec<Action>) -> Work {
    Work {
        package: Name::new(NameKind::Opkg, "motd").unwrap(),
        stage,
        actions,
        interrupted: false,
        version: None,
        upgrade_from: None,
    }
}

const NOTHING: NodeWork = NodeWork {
    changes_packages: false,
    any: false,
    running: false,
};
const SCRIPTS: NodeWork = NodeWork {
    changes_packages: false,
    any: true,
    running: false,
};
const PACKAGES: NodeWork = NodeWork {
    changes_packages: true,
    any: true,
    running: false,
};
const RUNNING: NodeWork = NodeWork {
    changes_packages: false,
    any: false,
    running: true,
};

#[test]
fn before_handing_out_work() {
    let draining = Some(DrainState::Draining { since_ms: T0 });
    let ours = Some(DrainState::Drained { ours: true });
    let others = Some(DrainState::Drained { ours: false });
    let cases: [(&str, Option<DrainState>, NodeWork, Before); 13] = [
        ("no work, no drain", None, NOTHING, Before::HandOut),
        (
            "script-only work never drains",
            None,
            SCRIPTS,
            Before::HandOut,
        ),
        (
            "a running stage alone never drains",
            None,
            RUNNING,
            Before::HandOut,
        ),
        (
            "package work asks the scheduler first",
            None,
            PACKAGES,
            Before::Probe,
        ),
        ("draining: ask again", draining, PACKAGES, Before::Probe),
        (
            "draining, only scripts left: ask again",
            draining,
            SCRIPTS,
            Before::Probe,
        ),
        (
            "draining while a stage runs: ask again",
            draining,
            RUNNING,
            Before::Probe,
        ),
        (
            "draining, the work went away: resume",
            draining,
            NOTHING,
            Before::Resume { ours: true },
        ),
        ("drained by opm: hand out", ours, PACKAGES, Before::HandOut),
        (
            "drained by opm, scripts after packages",
            ours,
            SCRIPTS,
            Before::HandOut,
        ),
        (
            "drained by opm, a stage runs: keep",
            ours,
            RUNNING,
            Before::HandOut,
        ),
        (
            "drained by opm, work over: resume",
            ours,
            NOTHING,
            Before::Resume { ours: true },
        ),
        (
            "drained by others, work over: forget, do not resume",
            others,
            NOTHING,
            Before::Resume { ours: false },
        ),
    ];
    for (name, state, node, expected) in cases {
        assert_eq!(before(state, node), expected, "{name}");
    }
}

#[test]
fn what_drained_command_says() {
    let draining = Some(DrainState::Draining { since_ms: T0 });
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap();
    let cases: [(&str, Option<DrainState>, bool, i64, Probed); 7] = [
        (
            "drained before opm asked: somebody else's drain",
            None,
            true,
            T0,
            Probed::HandOut(DrainState::Drained { ours: false }),
        ),
        ("not drained: opm drains it", None, false, T0, Probed::Drain),
        (
            "drained after opm asked: ours",
            draining,
            true,
            T0 + 5,
            Probed::HandOut(DrainState::Drained { ours: true }),
        ),
        (
            "still draining: wait",
            draining,
            false,
            T0 + 5,
            Probed::Wait,
        ),
        (
            "still draining a moment before the timeout",
            draining,
            false,
            T0 + ms(HOUR) - 1,
            Probed::Wait,
        ),
        (
            "not drained at the timeout: give up",
            draining,
            false,
            T0 + ms(HOUR),
            Probed::GiveUp,
        ),
        (
            "drained late is still drained",
            draining,
            true,
            T0 + 2 * ms(HOUR),
            Probed::HandOut(DrainState::Drained { ours: true }),
        ),
    ];
    for (name, state, drained, now, expected) in cases {
        assert_eq!(probed(state, drained, now, HOUR), expected, "{name}");
    }
    // Once drained, a later answer does not take the work back.
    for ours in [true, false] {
        let state = DrainState::Drained { ours };
        assert_eq!(probed(Some(state), false, T0, HOUR), Probed::HandOut(state));
    }
}

/// What the server does to a node over its looks, with a scheduler that
/// answers `drained` per look: the states it stores and what it runs.
#[derive(Debug, PartialEq, Eq)]
enum Did {
    HandOut,
    Withhold,
    RunDrain,
    RunResume,
    Forget,
    FailRows,
}

/// One look at the node (a poll): the state after it and what was done;
/// `stored` survives between looks as the database would.
fn look(stored: &mut Option<DrainState>, node: NodeWork, drained: bool, now: i64) -> Vec<Did> {
    match before(*stored, node) {
        Before::HandOut => vec![Did::HandOut],
        Before::Resume { ours } => {
            *stored = None;
            if ours {
                vec![Did::RunResume, Did::Forget, Did::HandOut]
            } else {
                vec![Did::Forget, Did::HandOut]
            }
        }
        Before::Probe => match probed(*stored, drained, now, HOUR) {
            Probed::HandOut(state) => {
                *stored = Some(state);
                vec![Did::HandOut]
            }
            Probed::Drain => {
                *stored = Some(DrainState::Draining { since_ms: now });
                vec![Did::RunDrain, Did::Withhold]
            }
            Probed::Wait => vec![Did::Withhold],
            Probed::GiveUp => {
                *stored = None;
                vec![Did::FailRows, Did::RunResume, Did::Forget]
            }
        },
    }
}

#[test]
fn a_node_drained_by_opm_works_and_is_resumed_also_after_a_failure() {
    // The work passes, then a second install fails: each time opm
    // resumes the node once the work is over.
    for failed in [false, true] {
        let mut stored = None;
        assert_eq!(
            look(&mut stored, PACKAGES, false, T0),
            [Did::RunDrain, Did::Withhold]
        );
        assert_eq!(
            look(&mut stored, PACKAGES, false, T0 + 1_000),
            [Did::Withhold]
        );
        assert_eq!(
            look(&mut stored, PACKAGES, true, T0 + 2_000),
            [Did::HandOut]
        );
        assert_eq!(stored, Some(DrainState::Drained { ours: true }));
        // The stage runs; the scheduler's answer no longer matters.
        assert_eq!(
            look(&mut stored, RUNNING, false, T0 + 3_000),
            [Did::HandOut]
        );
        // A passed stage leaves script-only stages; a failed one leaves
        // nothing to hand out (the row waits in error).
        if !failed {
            assert_eq!(look(&mut stored, SCRIPTS, true, T0 + 4_000), [Did::HandOut]);
        }
        assert_eq!(
            look(&mut stored, NOTHING, true, T0 + 5_000),
            [Did::RunResume, Did::Forget, Did::HandOut]
        );
        assert_eq!(stored, None);
    }
}

#[test]
fn a_node_drained_by_somebody_else_is_not_resumed() {
    let mut stored = None;
    assert_eq!(look(&mut stored, PACKAGES, true, T0), [Did::HandOut]);
    assert_eq!(stored, Some(DrainState::Drained { ours: false }));
    assert_eq!(look(&mut stored, RUNNING, true, T0 + 1), [Did::HandOut]);
    assert_eq!(
        look(&mut stored, NOTHING, true, T0 + 2),
        [Did::Forget, Did::HandOut]
    );
}

#[test]
fn a_drain_that_does_not_complete_fails_the_rows_and_resumes_the_node() {
    let mut stored = None;
    look(&mut stored, PACKAGES, false, T0);
    assert_eq!(
        look(&mut stored, PACKAGES, false, T0 + 3_599_999),
        [Did::Withhold]
    );
    assert_eq!(
        look(&mut stored, PACKAGES, false, T0 + 3_600_000),
        [Did::FailRows, Did::RunResume, Did::Forget]
    );
    // The rows wait in error: nothing to hand out, nothing drains again.
    assert_eq!(
        look(&mut stored, NOTHING, false, T0 + 3_600_001),
        [Did::HandOut]
    );
    assert_eq!(
        timeout_message(&n12(), HOUR),
        "n12 did not drain within 1h; opm resumed it; run 'opm retry' once the node's jobs \
         allow it, or raise drain_timeout"
    );
}

#[test]
fn a_server_restart_continues_from_the_stored_state() {
    // The state is all a restarted server knows: waiting goes on with the
    // original start (the timeout counts from opm's drain, not the
    // restart), and a drained node's work goes on and ends in a resume.
    let mut stored = None;
    look(&mut stored, PACKAGES, false, T0);
    let mut after_restart = stored;
    assert_eq!(
        look(&mut after_restart, PACKAGES, false, T0 + 3_600_000),
        [Did::FailRows, Did::RunResume, Did::Forget]
    );
    let mut stored = Some(DrainState::Drained { ours: true });
    let mut after_restart = stored.take();
    assert_eq!(
        look(&mut after_restart, PACKAGES, false, T0),
        [Did::HandOut]
    );
    assert_eq!(
        look(&mut after_restart, NOTHING, false, T0),
        [Did::RunResume, Did::Forget, Did::HandOut]
    );
}

#[test]
fn the_states_round_trip_through_their_stored_names() {
    for state in [
        DrainState::Draining { since_ms: T0 },
        DrainState::Drained { ours: true },
        DrainState::Drained { ours: false },
    ] {
        let since = match state {
            DrainState::Draining { since_ms } => since_ms,
            DrainState::Drained { .. } => 0,
        };
        assert_eq!(DrainState::from_stored(state.name(), since), Ok(state));
    }
    assert!(DrainState::from_stored("idle", 0).is_err());
}

#[test]
fn only_stages_that_change_packages_drain() {
    let client = RowRole::Client;
    for stage in Stage::ALL {
        let actions = stage_actions(&client, stage, &[]);
        let packages = actions
            .iter()
            .any(|a| matches!(a, A::Install { .. } | A::Remove { .. }));
        assert_eq!(changes_packages(&work(stage, actions)), packages, "{stage}");
    }
    // The client's binary package and its removal drain; its scripts do not.
    assert!(changes_packages(&work(
        Stage::InstallBinPkgs,
        stage_actions(&client, Stage::InstallBinPkgs, &[])
    )));
    assert!(changes_packages(&work(
        Stage::ShouldNotBeInstalled,
        uninstall_actions(&client)
    )));
    assert!(!changes_packages(&work(
        Stage::RunScriptPostInstall,
        stage_actions(&client, Stage::RunScriptPostInstall, &[])
    )));
    let install = work(
        Stage::InstallBinPkgs,
        vec![Action::Install {
            part: Part::Client,
            root: RootRef::Own,
        }],
    );
    let node = NodeWork::of([&install], false);
    assert_eq!(node, PACKAGES);
    assert_eq!(NodeWork::of([], true), RUNNING);
}

#[test]
fn commands_split_into_words_as_a_shell_would_and_name_the_node() {
    let cases: [(&str, &[&str]); 4] = [
        (
            r#"scontrol update nodename=%n state=drain reason="opm rollout""#,
            &[
                "scontrol",
                "update",
                "nodename=n12",
                "state=drain",
                "reason=opm rollout",
            ],
        ),
        (
            "sh -c 'sinfo -h -n %n -o %t | grep -qx drain'",
            &["sh", "-c", "sinfo -h -n n12 -o %t | grep -qx drain"],
        ),
        ("/opt/x/drain\\ it %n%n", &["/opt/x/drain it", "n12n12"]),
        ("echo '$HOME;' `id`", &["echo", "$HOME;", "`id`"]),
    ];
    for (text, words) in cases {
        let template: CommandTemplate = text.parse().unwrap();
        assert_eq!(template.for_node(&n12()), words, "{text}");
    }
    for bad in ["", "   ", "scontrol 'unclosed"] {
        assert!(bad.parse::<CommandTemplate>().is_err(), "{bad:?}");
    }
}

#[test]
fn durations_are_said_in_their_largest_exact_unit() {
    for (duration, said) in [
        (HOUR, "1h"),
        (Duration::from_secs(90), "90s"),
        (Duration::from_secs(300), "5m"),
        (Duration::from_millis(250), "250ms"),
        (Duration::from_secs(0), "0s"),
    ] {
        assert_eq!(short_duration(duration), said);
    }
}
