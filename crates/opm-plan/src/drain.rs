//! Draining a node through the cluster's scheduler before its packages
//! change (issue 20): the admin's `drain_command` asks the scheduler to
//! stop giving the node jobs, `drained_command` says when the jobs have
//! left, `resume_command` gives the node back. This module decides, from
//! what is stored of a node's drain and the node's work, what happens
//! next; the server runs the commands and stores the states.
//!
//! A node's life, as decided here:
//! - no drain state, and its next work installs, upgrades or removes
//!   packages: *probe* (run `drained_command`). Drained already: somebody
//!   else drained it, opm works and does *not* resume it. Not drained: run
//!   `drain_command` and wait (`Draining` since now).
//! - `Draining`: probe again at each look; drained: hand out the work
//!   (`Drained`, ours). Not drained within `drain_timeout`: the waiting rows
//!   get an error and opm resumes the node.
//! - `Drained`: hand out the node's work; when it has none left and
//!   nothing runs (its work passed, or failed), resume the node if opm
//!   drained it, and forget the state.
//!
//! Script-only stages never start a drain; they are handed out as before.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use opm_model::DrainState;
use opm_model::Name;

use crate::actions::Action;
use crate::decision::Work;

/// What the node has to do now, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeWork {
    /// Some work that can start now installs, upgrades or removes packages.
    pub changes_packages: bool,
    /// Some work can start now.
    pub any: bool,
    /// A stage of the node is under way.
    pub running: bool,
}

impl NodeWork {
    /// The node's work from the stages that can start now and whether one
    /// runs.
    pub fn of<'a>(works: impl IntoIterator<Item = &'a Work>, running: bool) -> NodeWork {
        let mut node = NodeWork {
            running,
            ..NodeWork::default()
        };
        for work in works {
            node.any = true;
            node.changes_packages |= changes_packages(work);
        }
        node
    }
}

/// Whether a stage's work installs, upgrades or removes a package (only
/// those stages drain the node).
pub fn changes_packages(work: &Work) -> bool {
    work.actions
        .iter()
        .any(|action| matches!(action, Action::Install { .. } | Action::Remove { .. }))
}

/// What to do before handing out a node's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// Hand the work out as it is.
    HandOut,
    /// Run `drained_command` and decide with [`probed`].
    Probe,
    /// The node's work is over: run `resume_command` when `ours`, then
    /// forget the state.
    Resume {
        /// Whether opm drained the node.
        ours: bool,
    },
}

/// What to do before handing out the node's work, given its stored state.
pub fn before(state: Option<DrainState>, work: NodeWork) -> Before {
    let over = !work.any && !work.running;
    match state {
        None if work.changes_packages => Before::Probe,
        None => Before::HandOut,
        // The work went away while the node drained (a request was taken
        // back): nothing to wait for, give the node back.
        Some(DrainState::Draining { .. }) if over => Before::Resume { ours: true },
        Some(DrainState::Draining { .. }) => Before::Probe,
        Some(DrainState::Drained { ours }) if over => Before::Resume { ours },
        Some(DrainState::Drained { .. }) => Before::HandOut,
    }
}

/// What `drained_command`'s answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probed {
    /// Store this state and hand out the node's work.
    HandOut(DrainState),
    /// Run `drain_command`, store `Draining` since now, hand out nothing.
    Drain,
    /// Still draining: hand out nothing, look again later.
    Wait,
    /// Not drained within the timeout: the waiting rows get
    /// [`timeout_message`], opm resumes the node and forgets the state.
    GiveUp,
}

/// Decides on `drained_command`'s answer (`drained`: it exited 0) at
/// `now_ms`, with `timeout` to wait for a drain.
pub fn probed(state: Option<DrainState>, drained: bool, now_ms: i64, timeout: Duration) -> Probed {
    match (state, drained) {
        // Drained before opm asked: somebody else's drain, not opm's to end.
        (None, true) => Probed::HandOut(DrainState::Drained { ours: false }),
        (None, false) => Probed::Drain,
        (Some(DrainState::Draining { .. }), true) => {
            Probed::HandOut(DrainState::Drained { ours: true })
        }
        (Some(DrainState::Draining { since_ms }), false) => {
            let waited = u128::try_from(now_ms.saturating_sub(since_ms)).unwrap_or(0);
            if waited >= timeout.as_millis() {
                Probed::GiveUp
            } else {
                Probed::Wait
            }
        }
        // Once drained, the scheduler's later answers do not take the
        // work back: it runs to its end.
        (Some(state @ DrainState::Drained { .. }), _) => Probed::HandOut(state),
    }
}

/// What a row waiting for its node's drain shows.
pub fn waiting_message(node: &Name) -> String {
    format!("waiting for {node} to drain")
}

/// The error of the rows whose node did not drain in time.
pub fn timeout_message(node: &Name, timeout: Duration) -> String {
    format!(
        "{node} did not drain within {}; opm resumed it; \
         run 'opm retry' once the node's jobs allow it, or raise drain_timeout",
        short_duration(timeout)
    )
}

/// What a failed row's error says once opm resumed its node.
pub fn resumed_after_failure(node: &Name) -> String {
    format!("opm resumed {node} after this failure")
}

/// `1h`, `90s`, `5m`, `250ms`: the largest unit that says it exactly.
pub fn short_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let seconds = ms / 1000;
    if seconds != 0 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds != 0 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// One of the drain settings as an argument list, `%n` still in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTemplate {
    words: Vec<String>,
}

/// A drain setting that is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct BadCommand {
    reason: String,
}

impl FromStr for CommandTemplate {
    type Err = BadCommand;

    /// Splits `text` into words as a shell would (quotes and backslashes,
    /// no expansions): the command never goes through a shell unless the
    /// text itself says `sh -c '...'`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let words = shlex::split(text).ok_or_else(|| BadCommand {
            reason: format!("cannot split '{text}' into words: a quote is not closed"),
        })?;
        if words.is_empty() {
            return Err(BadCommand {
                reason: "the command is empty; give a program and its arguments".to_owned(),
            });
        }
        Ok(CommandTemplate { words })
    }
}

impl CommandTemplate {
    /// The program and its arguments for `node`: every `%n` is the node's
    /// name (a [`Name`] holds no quote, space or shell character, so it
    /// stays one word even inside an `sh -c` script).
    pub fn for_node(&self, node: &Name) -> Vec<String> {
        self.words
            .iter()
            .map(|word| word.replace("%n", node.as_str()))
            .collect()
    }
}

impl fmt::Display for CommandTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined = shlex::try_join(self.words.iter().map(String::as_str))
            .unwrap_or_else(|_| self.words.join(" "));
        f.write_str(&joined)
    }
}
