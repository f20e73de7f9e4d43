//! Benchmark B7, an upgrade as a rollout at scale (`opm bench rollout`),
//! on B4's harness ([`crate::agents`]): N simulated agents install one
//! opkg at 1.0-1 through the real `opm server`, unbatched (B4's install
//! time, measured in the same run); then 2.0-1 is imported and `opm
//! upgrade` starts the upgrade as a rollout (`--max-parallel`,
//! `--max-failures`). Each agent's held poll is answered when the rollout
//! starts its node.
//!
//! Without injected failures the time runs until every row reports the
//! new version and the rollout is done. With `--fail K`, K agents chosen
//! at random report their upgrade's first stage as failed: once more of
//! them failed than the budget allows the rollout pauses, and the run
//! counts the nodes that got work after the budget was spent (the failing
//! report that spent it acknowledged): the failure budget stops a rollout
//! within one batch when that count stays below a batch.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use opm_api::client::ApiClient;
use opm_engine::upgrade::{UpgradeRequest, UpgradeScope, upgrade};
use opm_engine::{Clock as _, SystemClock};
use opm_model::api::{FinishReport, StartReport};
use opm_model::{Name, NameKind, RolloutPolicy, RolloutState};
use opm_store::{AnyStore, DEFAULT_GROUP, OpkgImport, Store};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::agents::{
    AgentsBench, OPKG, ServerChild, ServerCommand, collect, head_settled, next_random, patiently,
    poll_request, prepare, seed, work,
};

/// The version the benchmark's opkg is upgraded to.
const NEW_VERSION: &str = "2.0-1";

/// How long the run waits, once the rollout paused, for nodes it started
/// before the pause to report.
const AFTER_PAUSE: Duration = Duration::from_secs(3);

/// How one B7 run goes: B4's agents, the rollout's policy, and how many
/// agents fail on purpose.
#[derive(Debug, Clone)]
pub struct RolloutBench {
    /// B4's options.
    pub agents: AgentsBench,
    /// The upgrade's rollout policy.
    pub policy: RolloutPolicy,
    /// Agents whose upgrade fails on purpose.
    pub fail: u32,
}

/// What one agent's upgrade did.
#[derive(Debug, Clone, Copy)]
struct Upgraded {
    /// When its poll was answered with the upgrade's first stage.
    got_work: Instant,
    /// When its last report was acknowledged.
    done: Instant,
    /// Whether it failed on purpose.
    failed: bool,
}

/// What one run measured.
pub struct RolloutSummary {
    count: u32,
    policy: RolloutPolicy,
    fail: u32,
    install_secs: f64,
    rollout_secs: f64,
    started: usize,
    finished: usize,
    failed: usize,
    started_after_budget: usize,
    state: RolloutState,
    retried: usize,
}

impl RolloutSummary {
    /// An error when the run did not end as its policy says: every node
    /// upgraded and the rollout done without failures; paused with them.
    pub fn check(&self) -> anyhow::Result<()> {
        let expected = if self.fail == 0 {
            RolloutState::Done
        } else {
            RolloutState::Paused
        };
        if self.state != expected || (self.fail == 0 && self.finished != self.count as usize) {
            return Err(anyhow!(
                "the rollout ended {} with {} of {} nodes upgraded, expected {expected}",
                self.state,
                self.finished,
                self.count
            ));
        }
        Ok(())
    }

    /// The summary as one line of text.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{n} agents, {policy}: install unbatched (B4's) all reports {install:.2} s; the \
             rollout {state} {rollout:.2} s after the upgrade started ({ratio:.2}x the \
             install); {started} nodes started, {finished} upgraded, {failed} failed",
            n = self.count,
            policy = self.policy,
            install = self.install_secs,
            state = self.state,
            rollout = self.rollout_secs,
            ratio = self.rollout_secs / self.install_secs.max(f64::EPSILON),
            started = self.started,
            finished = self.finished,
            failed = self.failed,
        );
        if self.fail > 0 {
            line.push_str(&format!(
                "; {} failures injected: {} nodes started after the budget was spent",
                self.fail, self.started_after_budget
            ));
        }
        line.push_str(&format!("; {} requests retried", self.retried));
        line
    }

    /// The summary as a JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "policy": self.policy,
            "failures_injected": self.fail,
            "install_secs": self.install_secs,
            "rollout_secs": self.rollout_secs,
            "rollout_state": self.state,
            "nodes_started": self.started,
            "nodes_upgraded": self.finished,
            "nodes_failed": self.failed,
            "started_after_budget": self.started_after_budget,
            "retried_requests": self.retried,
        })
    }
}

/// Runs the benchmark against the initialised database `store` with an
/// `opm server` started by `server`.
pub async fn bench_rollout(
    args: &RolloutBench,
    store: &AnyStore,
    server: &ServerCommand,
) -> anyhow::Result<RolloutSummary> {
    let count = args.agents.count;
    if args.fail > count {
        return Err(crate::BadInput(format!(
            "--fail {} is more than the {count} agents",
            args.fail
        ))
        .into());
    }
    args.policy
        .check()
        .map_err(|error| anyhow::Error::new(crate::BadInput(error)))?;
    let tokens = prepare(store, count).await?;
    let server = ServerChild::start(server)?;
    head_settled(store).await?;
    let client = ApiClient::new(&format!("http://{}", server.addr), "", None)?;
    let mut seed = seed();
    let mut failing = BTreeSet::new();
    while failing.len() < args.fail as usize {
        failing.insert(next_random(&mut seed) % u64::from(count));
    }
    let (installed, installs) = unbounded_channel();
    let (upgraded, mut upgrades) = unbounded_channel();
    let retried = Arc::new(AtomicUsize::new(0));
    let mut agents = JoinSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let delay = Duration::from_millis(next_random(&mut seed) % (args.agents.jitter_ms + 1));
        agents.spawn(agent(
            client.with_token(token),
            format!("bench-n{}", i + 1),
            delay,
            failing.contains(&(i as u64)),
            installed.clone(),
            upgraded.clone(),
            Arc::clone(&retried),
        ));
    }
    drop((installed, upgraded));
    let timeout = Duration::from_secs(args.agents.timeout_secs);
    let installs = collect(installs, count, timeout, &server).await?;
    let install_secs = match (
        installs.iter().map(|run| run.started).min(),
        installs.iter().map(|run| run.done).max(),
    ) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => 0.0,
    };

    let opkg = Name::new(NameKind::Opkg, OPKG)?;
    store
        .import_opkg(
            &OpkgImport {
                name: opkg.clone(),
                version: NEW_VERSION.to_owned(),
                summary: "a benchmark opkg".to_owned(),
                source: "opm bench rollout".to_owned(),
                depends: Vec::new(),
                conflicts: Vec::new(),
            },
            SystemClock.now_ms(),
        )
        .await
        .map_err(anyhow::Error::new)?;
    let began = Instant::now();
    let request = UpgradeRequest {
        packages: vec![opkg],
        scope: UpgradeScope::Group(Name::new(NameKind::Group, DEFAULT_GROUP)?),
        allow_downgrade: false,
        rollout: args.policy,
    };
    upgrade(store, &request, SystemClock.now_ms())
        .await
        .map_err(anyhow::Error::new)?;

    // Every upgrade, until the rollout is done, or paused and quiet.
    let deadline = began + timeout;
    let mut runs: Vec<Upgraded> = Vec::new();
    let mut paused_at: Option<Instant> = None;
    let state = loop {
        match tokio::time::timeout(Duration::from_millis(200), upgrades.recv()).await {
            Ok(Some(Ok(run))) => runs.push(run),
            Ok(Some(Err(message))) => return Err(anyhow!("an agent failed: {message}")),
            Ok(None) => return Err(anyhow!("the agents stopped before all reported")),
            Err(_) => server.check_alive()?,
        }
        let state = rollout_state(store).await?;
        if state == RolloutState::Done && runs.len() == count as usize {
            break state;
        }
        if state == RolloutState::Paused {
            let since = *paused_at.get_or_insert_with(Instant::now);
            if since.elapsed() >= AFTER_PAUSE {
                break state;
            }
        }
        if Instant::now() >= deadline {
            return Err(anyhow!(
                "the rollout was still {state} with {} of {count} nodes reported after {} s",
                runs.len(),
                timeout.as_secs()
            ));
        }
    };
    let rollout_secs = runs
        .iter()
        .map(|run| run.done)
        .max()
        .map_or(0.0, |last| (last - began).as_secs_f64());
    // The budget is spent when the failure one past it is acknowledged.
    let mut failures: Vec<Instant> = runs.iter().filter(|r| r.failed).map(|r| r.done).collect();
    failures.sort_unstable();
    let budget = args
        .policy
        .max_failures
        .map_or(usize::MAX, |limit| limit.of(count as usize));
    let started_after_budget = failures.get(budget).map_or(0, |spent| {
        runs.iter().filter(|run| run.got_work > *spent).count()
    });
    server.check_alive()?;
    agents.abort_all();
    drop(server);
    Ok(RolloutSummary {
        count,
        policy: args.policy,
        fail: args.fail,
        install_secs,
        rollout_secs,
        started: runs.len(),
        finished: runs.iter().filter(|run| !run.failed).count(),
        failed: runs.iter().filter(|run| run.failed).count(),
        started_after_budget,
        state,
        retried: retried.load(Ordering::SeqCst),
    })
}

/// The state of the benchmark's rollout (the newest).
async fn rollout_state(store: &AnyStore) -> anyhow::Result<RolloutState> {
    let rollouts = store.rollouts().await.map_err(anyhow::Error::new)?;
    rollouts
        .first()
        .map(|rollout| rollout.state)
        .ok_or_else(|| anyhow!("opm upgrade opened no rollout"))
}

/// One simulated agent: after `delay` it installs as B4's agents do, then
/// its held poll waits until the rollout starts its node, and it reports
/// the upgrade's stages (the first one failed, when `fail`); then it keeps
/// a long-poll open until aborted.
async fn agent(
    client: ApiClient,
    node: String,
    delay: Duration,
    fail: bool,
    installed: UnboundedSender<Result<crate::agents::AgentRun, String>>,
    upgraded: UnboundedSender<Result<Upgraded, String>>,
    retried: Arc<AtomicUsize>,
) {
    tokio::time::sleep(delay).await;
    let run = work(&client, &node, &retried).await;
    let ok = run.is_ok();
    // The collector stops listening once it has failed; nothing to tell.
    let _ = installed.send(run);
    if !ok {
        return;
    }
    let _ = upgraded.send(upgrade_work(&client, &node, fail, &retried).await);
    let request = poll_request(&node);
    while client.poll(&request).await.is_ok() {}
}

/// The upgrade's stages as one agent reports them: all passed, or the
/// first failed when `fail`.
async fn upgrade_work(
    client: &ApiClient,
    node: &str,
    fail: bool,
    retried: &AtomicUsize,
) -> Result<Upgraded, String> {
    let failed = |what: &str, error: opm_api::AgentError| format!("{node}: {what}: {error}");
    let request = poll_request(node);
    let mut got_work = None;
    loop {
        let batch = patiently(retried, || client.poll(&request))
            .await
            .map_err(|error| failed("poll", error))?;
        if batch.items.is_empty() {
            continue;
        }
        let got = *got_work.get_or_insert_with(Instant::now);
        for item in &batch.items {
            let report = StartReport {
                row: item.row,
                stage: item.stage,
                token: batch.token,
            };
            let attempt = patiently(retried, || client.start(&report))
                .await
                .map_err(|error| failed("start", error))?;
            let report = FinishReport {
                attempt: attempt.attempt,
                token: batch.token,
                passed: !fail,
                exit_code: fail.then_some(1),
                output: String::new(),
                output_bytes: Some(0),
                message: fail.then(|| "failed on purpose (opm bench rollout --fail)".to_owned()),
                transient: false,
                steps: Vec::new(),
                version: (!fail).then(|| item.version.clone()).flatten(),
            };
            patiently(retried, || client.finish(&report))
                .await
                .map_err(|error| failed("finish", error))?;
            if fail || item.stage == opm_model::Stage::Finished {
                return Ok(Upgraded {
                    got_work: got,
                    done: Instant::now(),
                    failed: fail,
                });
            }
        }
    }
}
