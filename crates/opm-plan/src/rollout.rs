//! Which nodes of a rollout may start their work now (SPEC §1.10): the
//! batches of `max_parallel`, the canary nodes first, and the failure
//! budget past which the rollout pauses. The rule sees only the policy,
//! the rollout's state and each member node's state, all of which the
//! store keeps or derives from rows, so a server that restarts decides
//! the same again.

use opm_model::{Name, RolloutPolicy, RolloutState};

/// Where one node of a rollout stands, derived from its rows of the
/// rollout's opkgs and whether the rollout started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberState {
    /// Not started, and nothing to start yet (its rows are not requested
    /// yet: an install's node rows appear when the head node assigns them).
    Idle,
    /// Not started; its rows have work.
    Waiting,
    /// Started; some of its rows still have work.
    Running,
    /// Started (or nothing to do) and every row of it at rest.
    Finished,
    /// Started, and one of its rows ended in error.
    Failed,
}

/// A rollout as the rule sees it; `members` in the order they joined.
#[derive(Debug, Clone, Copy)]
pub struct RolloutView<'a> {
    /// What the rollout rolls out, as shown ("motd 1:3.2-1").
    pub label: &'a str,
    /// The operator's limits.
    pub policy: RolloutPolicy,
    /// The stored state.
    pub state: RolloutState,
    /// Every member node and where it stands.
    pub members: &'a [(Name, MemberState)],
}

/// What the rule decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutDecision {
    /// The state the rollout is in after this decision.
    pub state: RolloutState,
    /// Waiting nodes that may start now, in member order.
    pub start: Vec<Name>,
    /// Why the rollout pauses, when this decision pauses it.
    pub paused: Option<String>,
}

impl RolloutView<'_> {
    fn count(&self, state: MemberState) -> usize {
        self.members.iter().filter(|(_, s)| *s == state).count()
    }

    /// The failure budget: how many failed nodes are tolerated.
    fn budget(&self) -> Option<usize> {
        self.policy
            .max_failures
            .map(|limit| limit.of(self.members.len()))
    }

    /// How many nodes may run at once (at least one).
    fn parallel(&self) -> usize {
        self.policy
            .max_parallel
            .map_or(usize::MAX, |limit| limit.of(self.members.len()).max(1))
    }

    fn canary(&self) -> usize {
        self.policy
            .canary
            .map_or(0, |canary| usize::try_from(canary).unwrap_or(usize::MAX))
            .min(self.members.len())
    }

    /// Whether some canary node has not finished yet.
    pub fn canary_pending(&self) -> bool {
        self.members[..self.canary()]
            .iter()
            .any(|(_, state)| *state != MemberState::Finished)
    }

    /// The failure budget's verdict, when it is spent: "3 of 50 nodes
    /// failed, the limit is 2".
    pub fn over_budget(&self) -> Option<String> {
        let budget = self.budget()?;
        let failed = self.count(MemberState::Failed);
        (failed > budget).then(|| {
            format!(
                "{failed} of {} nodes failed, the limit is {budget}",
                self.members.len()
            )
        })
    }

    fn pause_message(&self, over: &str) -> String {
        format!("rollout of {} paused: {over}", self.label)
    }
}

/// Decides which waiting nodes start now and whether the rollout pauses
/// or is done. A paused or aborted rollout starts nothing; a running one
/// pauses when more nodes failed than `max_failures` allows, and is done
/// when no member has anything left to do.
pub fn decide_rollout(view: &RolloutView<'_>) -> RolloutDecision {
    let hold = |state| RolloutDecision {
        state,
        start: Vec::new(),
        paused: None,
    };
    if view.state != RolloutState::Running {
        return hold(view.state);
    }
    if let Some(over) = view.over_budget() {
        return RolloutDecision {
            state: RolloutState::Paused,
            start: Vec::new(),
            paused: Some(view.pause_message(&over)),
        };
    }
    let unsettled = view.members.iter().any(|(_, state)| {
        matches!(
            state,
            MemberState::Idle | MemberState::Waiting | MemberState::Running
        )
    });
    if !unsettled {
        return hold(RolloutState::Done);
    }
    let slots = view
        .parallel()
        .saturating_sub(view.count(MemberState::Running));
    let eligible = if view.canary_pending() {
        &view.members[..view.canary()]
    } else {
        view.members
    };
    let start = eligible
        .iter()
        .filter(|(_, state)| *state == MemberState::Waiting)
        .take(slots)
        .map(|(node, _)| node.clone())
        .collect();
    RolloutDecision {
        state: RolloutState::Running,
        start,
        paused: None,
    }
}

/// What a node the rollout has not started is told, from what the store
/// keeps of the rollout (no member's rows needed: a poll can afford it).
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// What the rollout rolls out.
    pub label: &'a str,
    /// The operator's limits.
    pub policy: RolloutPolicy,
    /// The stored state.
    pub state: RolloutState,
    /// Why it paused, as stored (empty when it did not).
    pub paused: &'a str,
    /// Whether some canary node has not finished yet.
    pub canary_pending: bool,
    /// The node's place in the start order, from 0.
    pub index: usize,
    /// How many members the rollout has.
    pub total: usize,
}

/// Why a node the rollout has not started gets no work now:
/// "waiting: rollout motd 1:3.2-1, batch 2 of 5".
pub fn held_reason(held: &Held<'_>) -> String {
    let label = held.label;
    match held.state {
        RolloutState::Aborted => {
            return format!(
                "not started: rollout {label} was aborted; run the command again to start it"
            );
        }
        RolloutState::Paused => {
            let why = if held.paused.is_empty() {
                format!("rollout of {label} paused")
            } else {
                held.paused.to_owned()
            };
            return format!(
                "waiting: {why}; clear failed nodes with 'opm retry', then 'opm rollout resume'"
            );
        }
        RolloutState::Running | RolloutState::Done => {}
    }
    let canary = held
        .policy
        .canary
        .map_or(0, |canary| usize::try_from(canary).unwrap_or(usize::MAX))
        .min(held.total);
    if held.index >= canary && held.canary_pending {
        return format!("waiting: rollout {label}, for its {canary} canary node(s) to finish");
    }
    let parallel = held
        .policy
        .max_parallel
        .map_or(usize::MAX, |limit| limit.of(held.total).max(1));
    let rest = held.total.saturating_sub(canary);
    let first = usize::from(canary > 0);
    let batches = (first + rest.div_ceil(parallel)).max(1);
    let batch = if held.index < canary {
        1
    } else {
        (first + (held.index - canary) / parallel + 1).min(batches)
    };
    format!("waiting: rollout {label}, batch {batch} of {batches}")
}

/// [`held_reason`] for `node`, a member of `view` it has not started.
pub fn waiting_reason(view: &RolloutView<'_>, node: &Name) -> String {
    let paused = if view.state == RolloutState::Paused {
        view.over_budget()
            .map(|over| view.pause_message(&over))
            .unwrap_or_default()
    } else {
        String::new()
    };
    held_reason(&Held {
        label: view.label,
        policy: view.policy,
        state: view.state,
        paused: &paused,
        canary_pending: view.canary_pending(),
        index: view
            .members
            .iter()
            .position(|(member, _)| member == node)
            .unwrap_or(0),
        total: view.members.len(),
    })
}

/// `opm rollout resume`: the state a resume leads to.
///
/// # Errors
/// Why the rollout cannot resume: done, aborted, or still more failed
/// nodes than the budget allows (with what to do).
pub fn resume_rollout(view: &RolloutView<'_>) -> Result<RolloutState, String> {
    let label = view.label;
    match view.state {
        RolloutState::Done => Err(format!(
            "rollout {label} is done: every node finished; nothing to resume"
        )),
        RolloutState::Aborted => Err(format!(
            "rollout {label} was aborted; run the command again to start a new rollout"
        )),
        RolloutState::Running | RolloutState::Paused => match view.over_budget() {
            Some(over) => Err(format!(
                "rollout {label} cannot resume: {over}; clear the failed nodes with \
                 'opm retry PKG --node N' first"
            )),
            None => Ok(RolloutState::Running),
        },
    }
}

/// `opm rollout abort`: the state an abort leads to.
///
/// # Errors
/// Why there is nothing to abort: already aborted, or done.
pub fn abort_rollout(view: &RolloutView<'_>) -> Result<RolloutState, String> {
    let label = view.label;
    match view.state {
        RolloutState::Aborted => Err(format!("rollout {label} is already aborted")),
        RolloutState::Done => Err(format!(
            "rollout {label} is done: every node finished; nothing to abort"
        )),
        RolloutState::Running | RolloutState::Paused => Ok(RolloutState::Aborted),
    }
}
