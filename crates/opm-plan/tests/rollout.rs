//! Named cases for the rollout rule (SPEC §1.10): batches of
//! `max_parallel` (a count or a percentage), the canary nodes first, the
//! failure budget and the pause it causes, resume, abort, a node that
//! joins mid-rollout, and a restart (the same stored facts decide the
//! same).

// Test helpers build fixed, valid names; a failure there is a test bug.
#![allow(clippy::unwrap_used)]

use opm_model::{Limit, Name, NameKind, RolloutPolicy, RolloutState};
use opm_plan::{
    MemberState, RolloutView, abort_rollout, decide_rollout, resume_rollout, waiting_reason,
};

use MemberState::{Failed, Finished, Idle, Running, Waiting};

const LABEL: &str = "motd 1:3.2-1";

fn node(i: usize) -> Name {
    Name::new(NameKind::Node, &format!("n{i}")).unwrap()
}

fn members(states: &[MemberState]) -> Vec<(Name, MemberState)> {
    states
        .iter()
        .enumerate()
        .map(|(i, state)| (node(i + 1), *state))
        .collect()
}

fn policy(parallel: Option<&str>, failures: Option<&str>, canary: Option<u32>) -> RolloutPolicy {
    RolloutPolicy {
        max_parallel: parallel.map(|p| p.parse::<Limit>().unwrap()),
        max_failures: failures.map(|f| f.parse::<Limit>().unwrap()),
        canary,
    }
}

fn view<'a>(
    policy: RolloutPolicy,
    state: RolloutState,
    members: &'a [(Name, MemberState)],
) -> RolloutView<'a> {
    RolloutView {
        label: LABEL,
        policy,
        state,
        members,
    }
}

fn started(decision: &opm_plan::RolloutDecision) -> Vec<String> {
    decision.start.iter().map(ToString::to_string).collect()
}

struct Case {
    name: &'static str,
    policy: RolloutPolicy,
    state: RolloutState,
    members: Vec<MemberState>,
    start: &'static [&'static str],
    after: RolloutState,
}

#[test]
fn decisions_by_name() {
    use RolloutState::{Aborted, Done, Paused};
    let running = RolloutState::Running;
    let cases = [
        Case {
            name: "first batch: max-parallel 2 starts two of five",
            policy: policy(Some("2"), None, None),
            state: running,
            members: vec![Waiting; 5],
            start: &["n1", "n2"],
            after: running,
        },
        Case {
            name: "a full batch starts nobody",
            policy: policy(Some("2"), None, None),
            state: running,
            members: vec![Running, Running, Waiting, Waiting],
            start: &[],
            after: running,
        },
        Case {
            name: "a finished node frees its slot for the next in order",
            policy: policy(Some("2"), None, None),
            state: running,
            members: vec![Finished, Running, Waiting, Waiting],
            start: &["n3"],
            after: running,
        },
        Case {
            name: "a percentage of the members: 10% of 20 is 2",
            policy: policy(Some("10%"), None, None),
            state: running,
            members: vec![Waiting; 20],
            start: &["n1", "n2"],
            after: running,
        },
        Case {
            name: "a percentage below one node still starts one",
            policy: policy(Some("10%"), None, None),
            state: running,
            members: vec![Waiting; 3],
            start: &["n1"],
            after: running,
        },
        Case {
            name: "no max-parallel starts everybody",
            policy: policy(None, Some("1"), None),
            state: running,
            members: vec![Waiting; 4],
            start: &["n1", "n2", "n3", "n4"],
            after: running,
        },
        Case {
            name: "idle nodes (no rows yet) do not start and take no slot",
            policy: policy(Some("2"), None, None),
            state: running,
            members: vec![Idle, Waiting, Idle, Waiting, Waiting],
            start: &["n2", "n4"],
            after: running,
        },
        Case {
            name: "canary: only the canary nodes start, up to max-parallel",
            policy: policy(Some("5"), None, Some(2)),
            state: running,
            members: vec![Waiting; 6],
            start: &["n1", "n2"],
            after: running,
        },
        Case {
            name: "canary: the rest waits while a canary node runs",
            policy: policy(Some("5"), None, Some(2)),
            state: running,
            members: vec![Finished, Running, Waiting, Waiting],
            start: &[],
            after: running,
        },
        Case {
            name: "canary: a failed canary node keeps the rest back",
            policy: policy(None, None, Some(1)),
            state: running,
            members: vec![Failed, Waiting, Waiting],
            start: &[],
            after: running,
        },
        Case {
            name: "canary finished: the rest starts in batches",
            policy: policy(Some("2"), None, Some(1)),
            state: running,
            members: vec![Finished, Waiting, Waiting, Waiting],
            start: &["n2", "n3"],
            after: running,
        },
        Case {
            name: "budget: failures up to the limit go on",
            policy: policy(Some("2"), Some("1"), None),
            state: running,
            members: vec![Failed, Finished, Waiting, Waiting],
            start: &["n3", "n4"],
            after: running,
        },
        Case {
            name: "budget: one failure past the limit pauses and starts nobody",
            policy: policy(Some("2"), Some("0"), None),
            state: running,
            members: vec![Failed, Running, Waiting, Waiting],
            start: &[],
            after: Paused,
        },
        Case {
            name: "budget as a percentage: 10% of 20 is 2, the third failure pauses",
            policy: policy(Some("5"), Some("10%"), None),
            state: running,
            members: [vec![Failed; 3], vec![Waiting; 17]].concat(),
            start: &[],
            after: Paused,
        },
        Case {
            name: "paused: nobody starts, even with free slots and no failure left",
            policy: policy(Some("2"), Some("0"), None),
            state: Paused,
            members: vec![Finished, Waiting, Waiting],
            start: &[],
            after: Paused,
        },
        Case {
            name: "aborted: nobody starts; finished nodes stay finished",
            policy: policy(Some("2"), None, None),
            state: Aborted,
            members: vec![Finished, Waiting, Waiting],
            start: &[],
            after: Aborted,
        },
        Case {
            name: "every node finished: done",
            policy: policy(Some("2"), None, None),
            state: running,
            members: vec![Finished; 3],
            start: &[],
            after: Done,
        },
        Case {
            name: "finished with failures within the budget: done",
            policy: policy(Some("2"), Some("1"), None),
            state: running,
            members: vec![Finished, Failed, Finished],
            start: &[],
            after: Done,
        },
        Case {
            name: "an idle node keeps the rollout from being done",
            policy: policy(Some("2"), None, None),
            state: running,
            members: vec![Finished, Idle],
            start: &[],
            after: running,
        },
        Case {
            name: "a node added mid-rollout waits its turn at the end",
            policy: policy(Some("1"), None, None),
            state: running,
            members: vec![Finished, Running, Waiting, Waiting],
            start: &[],
            after: running,
        },
        Case {
            name: "a node added after the others finished starts at once",
            policy: policy(Some("1"), None, None),
            state: running,
            members: vec![Finished, Finished, Waiting],
            start: &["n3"],
            after: running,
        },
    ];
    for case in cases {
        let members = members(&case.members);
        let decision = decide_rollout(&view(case.policy, case.state, &members));
        assert_eq!(started(&decision), case.start, "{}", case.name);
        assert_eq!(decision.state, case.after, "{}", case.name);
        assert_eq!(
            decision.paused.is_some(),
            case.after == RolloutState::Paused && case.state == RolloutState::Running,
            "{}",
            case.name
        );
    }
}

#[test]
fn the_pause_says_how_many_failed_and_the_limit() {
    let members = members(&[vec![Failed; 3], vec![Waiting; 47]].concat());
    let decision = decide_rollout(&view(
        policy(Some("5"), Some("2"), None),
        RolloutState::Running,
        &members,
    ));
    assert_eq!(
        decision.paused.as_deref(),
        Some("rollout of motd 1:3.2-1 paused: 3 of 50 nodes failed, the limit is 2")
    );
}

#[test]
fn a_waiting_node_says_its_batch() {
    let members = members(&[vec![Running, Running], vec![Waiting; 8]].concat());
    let running = view(
        policy(Some("2"), None, None),
        RolloutState::Running,
        &members,
    );
    assert_eq!(
        waiting_reason(&running, &node(3)),
        "waiting: rollout motd 1:3.2-1, batch 2 of 5"
    );
    assert_eq!(
        waiting_reason(&running, &node(10)),
        "waiting: rollout motd 1:3.2-1, batch 5 of 5"
    );
    let canary = view(
        policy(Some("4"), None, Some(2)),
        RolloutState::Running,
        &members,
    );
    assert_eq!(
        waiting_reason(&canary, &node(7)),
        "waiting: rollout motd 1:3.2-1, for its 2 canary node(s) to finish"
    );
    let aborted = view(
        policy(Some("2"), None, None),
        RolloutState::Aborted,
        &members,
    );
    assert!(waiting_reason(&aborted, &node(3)).contains("aborted"));
    let failed = members_with_failure();
    let paused = view(
        policy(Some("2"), Some("0"), None),
        RolloutState::Paused,
        &failed,
    );
    assert_eq!(
        waiting_reason(&paused, &node(3)),
        "waiting: rollout of motd 1:3.2-1 paused: 1 of 3 nodes failed, the limit is 0; \
         clear failed nodes with 'opm retry', then 'opm rollout resume'"
    );
}

fn members_with_failure() -> Vec<(Name, MemberState)> {
    members(&[Failed, Finished, Waiting])
}

#[test]
fn resume_goes_on_only_when_the_failures_are_cleared() {
    let strict = policy(Some("1"), Some("0"), None);
    let failed = members_with_failure();
    let refused = resume_rollout(&view(strict, RolloutState::Paused, &failed)).unwrap_err();
    assert!(
        refused.contains("1 of 3 nodes failed, the limit is 0"),
        "{refused}"
    );
    assert!(refused.contains("opm retry"), "{refused}");
    // After 'opm retry' the failed node's rows have work again: running.
    let retried = members(&[Running, Finished, Waiting]);
    assert_eq!(
        resume_rollout(&view(strict, RolloutState::Paused, &retried)),
        Ok(RolloutState::Running)
    );
    // Resumed, the rule starts nobody while the retried node uses the one slot ...
    let resumed = decide_rollout(&view(strict, RolloutState::Running, &retried));
    assert!(resumed.start.is_empty());
    // ... and the next node once it finished.
    let next = members(&[Finished, Finished, Waiting]);
    assert_eq!(
        started(&decide_rollout(&view(strict, RolloutState::Running, &next))),
        ["n3"]
    );
    let done = members(&[Finished; 3]);
    assert!(resume_rollout(&view(strict, RolloutState::Done, &done)).is_err());
    assert!(resume_rollout(&view(strict, RolloutState::Aborted, &next)).is_err());
}

#[test]
fn abort_stops_starting_and_twice_is_refused() {
    let members = members(&[Finished, Running, Waiting]);
    let running = view(
        policy(Some("1"), None, None),
        RolloutState::Running,
        &members,
    );
    assert_eq!(abort_rollout(&running), Ok(RolloutState::Aborted));
    let aborted = view(
        policy(Some("1"), None, None),
        RolloutState::Aborted,
        &members,
    );
    assert_eq!(
        abort_rollout(&aborted),
        Err("rollout motd 1:3.2-1 is already aborted".to_owned())
    );
    assert!(decide_rollout(&aborted).start.is_empty());
    let done = view(policy(Some("1"), None, None), RolloutState::Done, &members);
    assert!(abort_rollout(&done).is_err());
}

/// A server that restarts mid-rollout reloads the rollout's state (by its
/// stored name) and its members in join order, and derives each member's
/// state from its rows again: step by step, the reloaded rollout decides
/// what the one that kept running decides.
#[test]
fn a_restart_decides_the_same_from_the_stored_facts() {
    let strict = policy(Some("2"), Some("1"), Some(1));
    let mut live = members(&[Waiting; 6]);
    let mut state = RolloutState::Running;
    for step in 0..12 {
        let decided = decide_rollout(&view(strict, state, &live));
        let stored_state = decided.state.name().to_owned();
        let stored: Vec<(String, MemberState)> = live
            .iter()
            .map(|(name, member)| (name.to_string(), *member))
            .collect();
        let reloaded: Vec<(Name, MemberState)> = stored
            .into_iter()
            .map(|(name, member)| (Name::new(NameKind::Node, &name).unwrap(), member))
            .collect();
        let again = decide_rollout(&view(strict, stored_state.parse().unwrap(), &reloaded));
        assert_eq!(decided.start, again.start, "step {step}");
        // Carry the decision out: started nodes run, and running ones
        // finish (the third node fails).
        for (name, member) in &mut live {
            *member = match *member {
                Running if *name == node(3) => Failed,
                Running => Finished,
                Waiting if decided.start.contains(name) => Running,
                other => other,
            };
        }
        state = decided.state;
    }
    assert_eq!(state, RolloutState::Done);
    assert_eq!(live.iter().filter(|(_, s)| *s == Failed).count(), 1);
}
