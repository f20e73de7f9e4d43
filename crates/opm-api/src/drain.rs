//! Draining a node through the cluster's scheduler before its packages
//! change (issue 20), at the one place work is handed to a node: the
//! answer to its agent's poll ([`crate::work::work_for`] asks
//! [`Drains::gate`]). What to do is `opm_plan::drain`'s decision; this
//! module runs the admin's commands on the head node (through
//! `opm_native`'s [`Invocation`], never a shell unless the command says
//! `sh -c`) and keeps the node's state in the store, so a restarted server
//! goes on where it was.
//!
//! A command that cannot run (a missing program) or a drain that fails
//! gives the waiting rows an error naming the command and what it said;
//! the rows keep their stage, and `opm retry` tries again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opm_model::{DrainState, Name};
use opm_native::command::Invocation;
use opm_plan::drain::{
    Before, CommandTemplate, NodeWork, Probed, before, probed, resumed_after_failure,
    timeout_message,
};
use opm_store::Store;

use crate::error::ApiFailure;

/// How often a poll waiting for its node's drain asks the scheduler again.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// The longest one drain command may run before it is killed and counts
/// as failed: a scheduler that does not answer must not hold a poll.
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// The drain settings of opm.toml, checked.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// Asks the scheduler to drain node `%n`.
    pub drain: CommandTemplate,
    /// Exits 0 once node `%n` is drained.
    pub drained: CommandTemplate,
    /// Gives node `%n` back to the scheduler.
    pub resume: CommandTemplate,
    /// How long to wait for a drain before giving up on it.
    pub timeout: Duration,
}

/// What a node's poll may hand out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Its work, as the planner decided it.
    Open,
    /// Nothing: the node is draining.
    Closed,
    /// Not the stages that change packages: their rows get this error.
    /// The rest of its work may go.
    Fail(String),
}

/// The server's drain runtime: the settings, and one lock per node so two
/// polls of one node (crossing) never run its commands twice.
#[derive(Debug, Default)]
pub struct Drains {
    config: Option<DrainConfig>,
    locks: Mutex<BTreeMap<Name, Arc<tokio::sync::Mutex<()>>>>,
    waiting: Mutex<BTreeSet<Name>>,
}

/// What a command did, as far as the drain cares.
enum Said {
    /// It exited 0.
    Zero,
    /// It exited otherwise; what it said.
    NonZero(String),
    /// It could not run at all; why.
    Broken(String),
}

impl Drains {
    /// The runtime for `config`; `None` drains nothing.
    pub fn new(config: Option<DrainConfig>) -> Drains {
        Drains {
            config,
            ..Drains::default()
        }
    }

    /// Whether `node`'s last look found it draining: its poll looks again
    /// every [`PROBE_EVERY`] rather than only when woken.
    pub fn is_waiting(&self, node: &Name) -> bool {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(node)
    }

    fn note_waiting(&self, node: &Name, waiting: bool) {
        let mut set = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting {
            set.insert(node.clone());
        } else {
            set.remove(node);
        }
    }

    fn lock_of(&self, node: &Name) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(node.clone()).or_default())
    }

    /// Decides, and carries out, what happens to `node`'s drain before its
    /// `work` is handed out at `now_ms`.
    ///
    /// # Errors
    /// A store failure (a 500): nothing was handed out.
    pub async fn gate<S: Store>(
        &self,
        store: &S,
        node: &Name,
        work: NodeWork,
        now_ms: i64,
    ) -> Result<Gate, ApiFailure> {
        let Some(config) = &self.config else {
            return Ok(Gate::Open);
        };
        let lock = self.lock_of(node);
        let _held = lock.lock().await;
        let state = store.node_drain(node).await?;
        let gate = match before(state, work) {
            Before::HandOut => Gate::Open,
            Before::Resume { ours } => {
                self.resume_after_work(config, store, node, ours).await?;
                Gate::Open
            }
            Before::Probe => self.probe(config, store, node, state, now_ms).await?,
        };
        self.note_waiting(node, gate == Gate::Closed);
        Ok(gate)
    }

    /// The work is over: resume the node if opm drained it, and forget
    /// the drain, noting the resume on the rows that failed meanwhile. A
    /// resume that fails keeps the drain, to be tried again at the next
    /// poll, and says so in the log.
    async fn resume_after_work<S: Store>(
        &self,
        config: &DrainConfig,
        store: &S,
        node: &Name,
        ours: bool,
    ) -> Result<(), ApiFailure> {
        if ours && let Some(failure) = failed(run(&config.resume, node).await) {
            tracing::error!(
                "cannot resume node {node} after its work: resume_command {failure}; \
                 opm tries again at its next poll"
            );
            return Ok(());
        }
        let note = if ours {
            resumed_after_failure(node)
        } else {
            String::new()
        };
        store.end_node_drain(node, &note).await?;
        Ok(())
    }

    /// Asks the scheduler whether the node is drained and acts on it.
    async fn probe<S: Store>(
        &self,
        config: &DrainConfig,
        store: &S,
        node: &Name,
        state: Option<DrainState>,
        now_ms: i64,
    ) -> Result<Gate, ApiFailure> {
        let drained = match run(&config.drained, node).await {
            Said::Zero => true,
            Said::NonZero(_) => false,
            Said::Broken(why) => {
                let mut message = format!("cannot ask whether {node} is drained: {why}");
                if state.is_some() {
                    // opm asked for the drain: give the node back.
                    message.push_str(&self.give_back(config, store, node).await?);
                }
                return Ok(Gate::Fail(with_hint(message)));
            }
        };
        Ok(match probed(state, drained, now_ms, config.timeout) {
            Probed::HandOut(state) => {
                store.set_node_drain(node, state, now_ms).await?;
                Gate::Open
            }
            Probed::Wait => Gate::Closed,
            Probed::Drain => match run(&config.drain, node).await {
                Said::Zero => {
                    store
                        .set_node_drain(node, DrainState::Draining { since_ms: now_ms }, now_ms)
                        .await?;
                    Gate::Closed
                }
                Said::NonZero(why) | Said::Broken(why) => Gate::Fail(with_hint(format!(
                    "cannot drain {node}: drain_command {why}"
                ))),
            },
            Probed::GiveUp => {
                let mut message = timeout_message(node, config.timeout);
                message.push_str(&self.give_back(config, store, node).await?);
                Gate::Fail(message)
            }
        })
    }

    /// Resumes a node opm asked to drain and forgets the drain; what to add
    /// to the rows' error when the resume failed.
    async fn give_back<S: Store>(
        &self,
        config: &DrainConfig,
        store: &S,
        node: &Name,
    ) -> Result<String, ApiFailure> {
        let failure = failed(run(&config.resume, node).await);
        store.end_node_drain(node, "").await?;
        Ok(failure.map_or_else(String::new, |failure| {
            format!("; resuming it failed too: resume_command {failure}")
        }))
    }
}

/// What a failed command did, for a message; `None` when it exited 0.
fn failed(said: Said) -> Option<String> {
    match said {
        Said::Zero => None,
        Said::NonZero(why) | Said::Broken(why) => Some(why),
    }
}

fn with_hint(message: String) -> String {
    format!("{message}; fix the drain settings in opm.toml if needed, then 'opm retry'")
}

/// Runs `template` for `node` on a blocking thread.
async fn run(template: &CommandTemplate, node: &Name) -> Said {
    let words = template.for_node(node);
    let Some((program, args)) = words.split_first() else {
        return Said::Broken(format!("'{template}' names no program"));
    };
    let invocation = Invocation::new(program)
        .args(args.iter().cloned())
        .within(Some(COMMAND_LIMIT));
    let shown = invocation.display();
    let ran = tokio::task::spawn_blocking(move || invocation.run()).await;
    match ran {
        Ok(Ok(ran)) if ran.success() => Said::Zero,
        Ok(Ok(ran)) => {
            let said = ran.combined();
            let said = said.trim();
            let tail: String = said
                .chars()
                .rev()
                .take(400)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if tail.is_empty() {
                Said::NonZero(format!("'{shown}' failed ({})", ran.describe_status()))
            } else {
                Said::NonZero(format!(
                    "'{shown}' failed ({}): {tail}",
                    ran.describe_status()
                ))
            }
        }
        Ok(Err(error)) => Said::Broken(format!("'{shown}' cannot run: {error}")),
        Err(error) => Said::Broken(format!("'{shown}' did not finish: {error}")),
    }
}
