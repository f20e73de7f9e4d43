//! `opm agent`: a compute node's daemon. It asks the server for its node's
//! work, carries each stage out into its root with the same actions as the
//! head node's engine (`opm-engine`'s actor), and reports back. Each step
//! is written to the spool's journal as it starts and as it ends, so a
//! stage the agent's death cut short resumes at the first step that did
//! not pass (`opm_plan::resume`, over what the server and the journal know
//! of the earlier attempt). A finish report, with its steps, goes to the
//! spool before it is sent, so nothing is lost when the server or the
//! network is away: the agent backs off with jitter and sends it again.
//! `--once` does rounds until nothing more can be done now.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::time::Duration;

use opm_engine::{Actor, Failure, Output, RunReport, StageRun, steps};
use opm_model::api::{
    FinishReport, Heartbeat, PollRequest, StartReport, VerifyAsk, VerifyReport, VerifySummary,
    WorkBatch, WorkItem,
};
use opm_model::{Name, PastAttempt, Row, RowVersion, Stage, Status, StepRecord, Target};
use opm_plan::{RootRef, RowRole, Work, resume, stage_actions, uninstall_actions, upgrade_actions};

use crate::client::ApiClient;
use crate::error::AgentError;
use crate::spool::{Journal, Spool};

/// The longest the agent backs off while the server is away.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A node's agent.
pub struct Agent {
    client: ApiClient,
    actor: Actor,
    spool: Spool,
    node: Name,
    id: String,
    poll_wait: Duration,
    verify_interval: Option<Duration>,
}

/// A random id for this agent process.
fn process_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Up to a quarter of `base` more, from the clock's low bits: agents that
/// lost the server together do not all come back in the same instant.
fn jittered(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

/// The backoff after `failures` failed rounds in a row.
pub fn backoff(failures: u32) -> Duration {
    let exponent = failures.min(5);
    jittered(Duration::from_millis(500 * (1u64 << exponent)).min(MAX_BACKOFF))
}

/// The actions of a compute node's stage (SPEC §1.1, §1.5).
fn node_work(item: &WorkItem) -> Work {
    let role = RowRole::Client;
    let actions = if item.stage == Stage::ShouldNotBeInstalled {
        uninstall_actions(&role)
    } else if item.upgrade_from.is_some() {
        upgrade_actions(&role, item.stage, &[])
    } else {
        stage_actions(&role, item.stage, &[])
    };
    Work {
        package: item.package.clone(),
        stage: item.stage,
        actions,
        interrupted: item.interrupted,
        version: item.version.clone(),
        upgrade_from: item.upgrade_from.clone(),
    }
}

impl Agent {
    /// An agent of `node` talking to `client`, acting through `actor`.
    ///
    /// # Errors
    /// When the system's randomness (for the process id) cannot be read.
    pub fn new(
        client: ApiClient,
        actor: Actor,
        spool: Spool,
        node: Name,
        poll_wait: Duration,
    ) -> std::io::Result<Agent> {
        Ok(Agent {
            client,
            actor,
            spool,
            node,
            id: process_id()?,
            poll_wait,
            verify_interval: None,
        })
    }

    /// The base URL of the server this agent asks for work.
    pub fn server(&self) -> &str {
        self.client.base()
    }

    /// Verifies the node's rows when [`Agent::serve`] starts and then
    /// every `interval` (`verify_interval`; `None` never).
    #[must_use]
    pub fn verify_every(mut self, interval: Option<Duration>) -> Agent {
        self.verify_interval = interval;
        self
    }

    /// Verifies the node's rows (see [`verify_node`]).
    ///
    /// # Errors
    /// As for [`verify_node`].
    pub async fn verify(&self) -> Result<VerifySummary, AgentError> {
        verify_node(&self.client, &self.actor, &self.node).await
    }

    /// A verify in the agent's loop: logged, never fatal; `None` after a
    /// transient failure, so it is tried again soon.
    async fn verify_logged(&self) -> Option<()> {
        match self.verify().await {
            Ok(summary) => {
                for drifted in &summary.drifted {
                    tracing::warn!(row = %drifted.row, "drifted: {}", drifted.reason);
                }
                tracing::info!(checked = summary.checked, "verified the node's packages");
                Some(())
            }
            Err(error) if error.is_transient() => {
                tracing::warn!("verify: {error}; trying again soon");
                None
            }
            Err(error) => {
                tracing::warn!("verify: {error}");
                Some(())
            }
        }
    }

    /// Rounds until nothing more can be done now (`opm agent --once`,
    /// `opm run` on a node).
    ///
    /// # Errors
    /// [`AgentError`]: the server away, a refusal, the spool unusable.
    pub async fn once(&self) -> Result<RunReport, AgentError> {
        let mut report = RunReport::default();
        loop {
            let batch = self.round(Duration::ZERO, &mut report, &mut || {}).await?;
            if batch.items.is_empty() {
                report.errors = batch.errors;
                report.blocked = batch.blocked;
                return Ok(report);
            }
        }
    }

    /// Rounds for ever, backing off while the server is away; returns only
    /// when the server refuses this node's token. `on_connected` runs once,
    /// as soon as the server first answers a poll (the service manager
    /// learns the agent is up): the first poll does not wait for work, so
    /// that is at once when the server is there.
    ///
    /// # Errors
    /// [`AgentError::Refused`] with status 401 or 403, [`AgentError::Spool`].
    pub async fn serve(&self, on_connected: impl FnOnce() + Send) -> Result<(), AgentError> {
        let mut failures = 0;
        let mut report = RunReport::default();
        let mut on_connected = Some(on_connected);
        let mut answered = || {
            if let Some(connected) = on_connected.take() {
                connected();
            }
        };
        let mut connected = false;
        // Between rounds, so no stage of this agent runs while it reads;
        // the first once the server has answered, so a server that is not
        // up yet is said once, by the poll.
        let mut next_verify = self.verify_interval.map(|_| tokio::time::Instant::now());
        loop {
            if connected
                && let (Some(at), Some(every)) = (next_verify, self.verify_interval)
                && tokio::time::Instant::now() >= at
            {
                let pause = match self.verify_logged().await {
                    Some(()) => every,
                    None => backoff(failures),
                };
                next_verify = Some(tokio::time::Instant::now() + pause);
            }
            // The first poll does not wait, so the agent knows at once that
            // the server answers; later ones end in time for the next verify.
            let wait = if connected {
                next_verify.map_or(self.poll_wait, |at| {
                    self.poll_wait
                        .min(at.saturating_duration_since(tokio::time::Instant::now()))
                })
            } else {
                Duration::ZERO
            };
            let round = self.round(wait, &mut report, &mut answered).await;
            connected = connected || round.is_ok();
            match round {
                Ok(_) => failures = 0,
                Err(AgentError::Refused { status, .. }) if status != 401 && status != 403 => {
                    tracing::warn!("the server refused a report; polling again");
                    tokio::time::sleep(backoff(failures)).await;
                }
                Err(error) if error.is_transient() => {
                    let delay = backoff(failures);
                    tracing::warn!("{error}; trying again in {delay:?}");
                    tokio::time::sleep(delay).await;
                    failures += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Sends what the spool holds; what the server refuses (a lease taken
    /// over meanwhile: the work is handed out again) is dropped too.
    async fn flush(&self) -> Result<(), AgentError> {
        let mut waiting = self.spool.load()?;
        while let Some(report) = waiting.first() {
            match self.client.finish(report).await {
                Ok(_) => {}
                Err(AgentError::Refused { message, .. }) => {
                    tracing::warn!(
                        "the server refused the report of attempt {}: {message}",
                        report.attempt
                    );
                }
                Err(error) => {
                    self.spool.save(&waiting)?;
                    return Err(error);
                }
            }
            waiting.remove(0);
        }
        self.spool.save(&waiting)
    }

    /// One round: send the spool, poll, do every stage handed out;
    /// `answered` runs once the poll is answered.
    async fn round(
        &self,
        wait: Duration,
        report: &mut RunReport,
        answered: &mut (dyn FnMut() + Send),
    ) -> Result<WorkBatch, AgentError> {
        self.flush().await?;
        let batch = self
            .client
            .poll(&PollRequest {
                agent: self.id.clone(),
                node: self.node.to_string(),
                wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            })
            .await?;
        answered();
        // The stages' package-manager work shares one transaction per root
        // where it can, as on the head node (issue 24); a stage an earlier
        // attempt cut short resumes alone.
        let mut fresh: Vec<Work> = Vec::new();
        for item in &batch.items {
            let work = node_work(item);
            if resume(&work, self.earlier(item)?.as_ref()).start == 0 {
                fresh.push(work);
            }
        }
        let batched = self.actor.batch(&fresh).await;
        for item in &batch.items {
            let started = match self
                .client
                .start(&StartReport {
                    row: item.row,
                    stage: item.stage,
                    token: batch.token,
                })
                .await
            {
                Ok(started) => started,
                // The lease is gone: the next poll hands the work out again.
                Err(AgentError::Refused { status: 409, .. }) => break,
                Err(error) => return Err(error),
            };
            tracing::info!(
                "{} {}: started (attempt {})",
                item.package,
                item.stage,
                started.attempt
            );
            let beat = self.keep_beating(batch.token, batch.lease_ttl_ms);
            let performed = self.perform(item, started.attempt, &batched).await;
            beat.abort();
            let (mut output, failure, steps) = performed?;
            match &failure {
                None => {
                    report.passed += 1;
                    tracing::info!("{} {}: passed", item.package, item.stage);
                }
                Some(failure) => {
                    if !failure.transient {
                        report.failed += 1;
                    }
                    tracing::warn!(
                        "{} {}: failed{}: {}",
                        item.package,
                        item.stage,
                        if failure.transient {
                            " (will be tried again)"
                        } else {
                            ""
                        },
                        failure.message
                    );
                }
            }
            if let Some(failure) = &failure {
                output.push_str(&failure.output);
            }
            let (output, output_bytes) = output.into_parts();
            self.spool.push(FinishReport {
                attempt: started.attempt,
                token: batch.token,
                passed: failure.is_none(),
                exit_code: failure.as_ref().and_then(|failure| failure.exit_code),
                output,
                output_bytes: Some(output_bytes),
                message: failure.as_ref().map(|failure| failure.message.clone()),
                transient: failure.as_ref().is_some_and(|failure| failure.transient),
                steps,
                version: item.version.clone(),
            })?;
            self.spool.drop_journal(item.row)?;
            self.flush().await?;
        }
        Ok(batch)
    }

    /// Renews the node's lease every third of its life while a stage runs.
    fn keep_beating(&self, token: u64, ttl_ms: i64) -> tokio::task::JoinHandle<()> {
        let client = self.client.clone();
        let every = Duration::from_millis(u64::try_from(ttl_ms / 3).unwrap_or(1).max(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(error) = client.heartbeat(&Heartbeat { token }).await {
                    tracing::warn!("heartbeat: {error}");
                }
            }
        })
    }

    /// The row's newest attempt as the server knows it, with the steps
    /// this node's journal kept of it when the agent died in it (the server
    /// learns a node's steps only from its finish report).
    fn earlier(&self, item: &WorkItem) -> Result<Option<PastAttempt>, AgentError> {
        let Some(mut earlier) = item.earlier.clone() else {
            return Ok(None);
        };
        if let Some(journal) = self
            .spool
            .journals()?
            .into_iter()
            .find(|journal| journal.row == item.row && journal.attempt == earlier.id)
        {
            earlier.steps = journal.steps;
        }
        Ok(Some(earlier))
    }

    /// Carries one stage out as attempt `attempt` (its part already put in
    /// or taken out when `batched` names it), resuming the row's
    /// earlier attempt where it stopped, each step kept in the journal as
    /// it starts and as it ends: its output, how it failed if it did, and
    /// its steps.
    async fn perform(
        &self,
        item: &WorkItem,
        attempt: i64,
        batched: &BTreeSet<Name>,
    ) -> Result<(Output, Option<Failure>, Vec<StepRecord>), AgentError> {
        let row = Row {
            target: Target::node(self.node.clone()),
            package: item.package.clone(),
            requested: item.stage,
            current: None,
            status: Status::Ok,
            version: RowVersion {
                reached: None,
                work: item.version.clone(),
                upgrade_from: item.upgrade_from.clone(),
            },
        };
        let role = RowRole::Client;
        let work = node_work(item);
        let run = StageRun {
            row: &row,
            role: &role,
            work: &work,
            attempt: item.attempt,
        };
        let start = resume(&work, self.earlier(item)?.as_ref());
        let mut journal = Journal {
            row: item.row,
            attempt,
            steps: steps::carried(&start, now_ms()),
        };
        if start.start < work.actions.len() {
            // Kept at once, so a death before the first step still finds
            // what this attempt carried (most of a node's stages have no
            // step at all and write nothing).
            self.spool.keep_journal(&journal)?;
        }
        let mut output = Output::new();
        if let Some(note) = steps::note(item.interrupted, &start) {
            output.push_str(&note);
        }
        let config: &BTreeMap<String, String> = &item.config;
        for (index, action) in work.actions.iter().enumerate().skip(start.start) {
            let step = action.describe(&work.package);
            output.push_str(&format!("== {step}\n"));
            // Kept before it runs: if the agent dies from here on, the
            // step runs again.
            let begun = steps::started(index, step.clone(), now_ms());
            journal.steps.push(begun.clone());
            self.spool.keep_journal(&journal)?;
            let mut step_output = Output::new();
            let done = self
                .actor
                .step(run, index, config, batched, &mut step_output)
                .await
                .unwrap_or_else(|| {
                    Err(Failure::terminal(
                        "this is the head node's work, not a compute node's".to_owned(),
                    ))
                });
            output.append(&step_output);
            let end = steps::ended(&begun, &done, step_output, now_ms());
            journal.steps.pop();
            journal.steps.push(end);
            self.spool.keep_journal(&journal)?;
            if let Err(mut failure) = done {
                failure.message =
                    format!("{step} failed on node {}: {}", self.node, failure.message);
                return Ok((output, Some(failure), journal.steps));
            }
        }
        Ok((output, None, journal.steps))
    }
}

/// Verifies `node`'s rows (SPEC §1.9): asks the server which native
/// packages they have, reads the node's package database once for them,
/// and reports the answer; the server judges the rows and says what it
/// found. Runs no script, changes nothing in the root, and needs no spool,
/// so `opm verify` on a node runs it beside the node's agent.
///
/// # Errors
/// [`AgentError::PackageDatabase`] when the database cannot be read
/// (nothing is reported), or the server's refusal or absence.
pub async fn verify_node(
    client: &ApiClient,
    actor: &Actor,
    node: &Name,
) -> Result<VerifySummary, AgentError> {
    let node = node.to_string();
    let question = client.verify_ask(&VerifyAsk { node: node.clone() }).await?;
    if question.packages.is_empty() {
        return Ok(VerifySummary::default());
    }
    let inventory = actor
        .inventory(&RootRef::Own, question.packages)
        .await
        .map_err(|error| AgentError::PackageDatabase {
            node: node.clone(),
            reason: error.to_string(),
        })?;
    client
        .verify_report(&VerifyReport { node, inventory })
        .await
}

/// This machine's clock, for the times of the steps it reports.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::NameKind;
    use opm_plan::Action;

    fn item(stage: Stage) -> WorkItem {
        WorkItem {
            row: 1,
            package: Name::new(NameKind::Opkg, "motd").unwrap(),
            stage,
            interrupted: false,
            attempt: 1,
            config: BTreeMap::new(),
            earlier: None,
            version: None,
            upgrade_from: None,
        }
    }

    #[test]
    fn a_node_installs_its_client_part_and_takes_it_down_again() {
        let install = node_work(&item(Stage::InstallBinPkgs));
        assert!(matches!(install.actions[0], Action::Install { .. }));
        assert_eq!(install.actions.len(), 2);
        assert!(node_work(&item(Stage::RunConfigurator)).actions.is_empty());
        let down = node_work(&item(Stage::ShouldNotBeInstalled));
        assert!(matches!(down.actions[1], Action::Remove { .. }));
    }

    #[test]
    fn backoff_grows_to_a_cap_with_jitter() {
        assert!(backoff(0) >= Duration::from_millis(500));
        assert!(backoff(0) <= Duration::from_millis(625));
        assert!(backoff(3) >= Duration::from_secs(4));
        assert!(backoff(40) <= MAX_BACKOFF + MAX_BACKOFF / 4);
    }
}
