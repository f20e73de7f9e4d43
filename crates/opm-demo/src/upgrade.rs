//! Benchmark B6, an upgrade at scale (`opm bench upgrade`), on B4's
//! harness ([`crate::agents`]): N simulated agents, one node each, install
//! one opkg at 1.0-1 through the real `opm server` as in B4 (that time is
//! B4's install time, measured in the same run), then keep long-polling.
//! Version 2.0-1 is imported and `opm upgrade` (the use-case
//! `opm_engine::upgrade`, over the nodes' group) starts every node's
//! upgrade; each agent's held poll is answered with install-bin-pkgs and
//! it reports that stage and the four after it. The time until every row
//! reports the new version runs from the upgrade's start to the last
//! agent's finish report of `finished`; the database must then hold every
//! node's row at 2.0-1, else the command fails (exit 1).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use opm_api::client::ApiClient;
use opm_engine::upgrade::{UpgradeRequest, UpgradeScope, upgrade};
use opm_engine::{Clock as _, SystemClock};
use opm_model::{Name, NameKind, Stage, Status, TargetKind};
use opm_store::{AnyStore, DEFAULT_GROUP, OpkgImport, Store};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::agents::{
    AgentRun, AgentsBench, Latencies, OPKG, ServerChild, ServerCommand, collect, head_settled,
    next_random, poll_request, prepare, seed, work,
};

/// The version the benchmark's opkg is upgraded to.
const NEW_VERSION: &str = "2.0-1";

/// What one run measured.
pub struct UpgradeSummary {
    count: u32,
    install_secs: f64,
    start_ms: f64,
    started: usize,
    upgrade_secs: f64,
    poll: Latencies,
    finish: Latencies,
    retried: usize,
    upgraded: u64,
}

impl UpgradeSummary {
    /// An error when a row did not end at the new version.
    pub fn check(&self) -> anyhow::Result<()> {
        let count = u64::from(self.count);
        if self.upgraded != count || self.started != self.count as usize {
            return Err(anyhow!(
                "{count} agents, {} rows set back by opm upgrade, and the database holds {} rows \
                 finished at {NEW_VERSION}",
                self.started,
                self.upgraded
            ));
        }
        Ok(())
    }

    /// The summary as one line of text.
    pub fn line(&self) -> String {
        format!(
            "{n} agents: install (B4's) all reports {install:.2} s; opm upgrade set {started} rows \
             back in {start:.0} ms; every row at {NEW_VERSION} {upgrade:.2} s after the upgrade \
             started ({ratio:.2}x the install; 5 stages a row instead of 1); upgrade polls (the first one held \
             from before the upgrade) \
             p50/p99/max {poll}, finish {finish}; {retried} requests retried; database: \
             {upgraded} rows finished at {NEW_VERSION}",
            n = self.count,
            install = self.install_secs,
            started = self.started,
            start = self.start_ms,
            upgrade = self.upgrade_secs,
            ratio = self.upgrade_secs / self.install_secs.max(f64::EPSILON),
            poll = self.poll,
            finish = self.finish,
            retried = self.retried,
            upgraded = self.upgraded,
        )
    }

    /// The summary as a JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "install_secs": self.install_secs,
            "upgrade_start_ms": self.start_ms,
            "rows_started": self.started,
            "upgrade_secs": self.upgrade_secs,
            "upgrade_poll_ms": self.poll.json(),
            "upgrade_finish_ms": self.finish.json(),
            "retried_requests": self.retried,
            "rows_at_new_version": self.upgraded,
        })
    }
}

/// Runs the benchmark against the initialised database `store` with an
/// `opm server` started by `server`.
pub async fn bench_upgrade(
    args: &AgentsBench,
    store: &AnyStore,
    server: &ServerCommand,
) -> anyhow::Result<UpgradeSummary> {
    let tokens = prepare(store, args.count).await?;
    let server = ServerChild::start(server)?;
    head_settled(store).await?;
    let client = ApiClient::new(&format!("http://{}", server.addr), "", None)?;
    let (installed, installs) = unbounded_channel();
    let (upgraded, upgrades) = unbounded_channel();
    let retried = Arc::new(AtomicUsize::new(0));
    let mut seed = seed();
    let mut agents = JoinSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let delay = Duration::from_millis(next_random(&mut seed) % (args.jitter_ms + 1));
        agents.spawn(agent(
            client.with_token(token),
            format!("bench-n{}", i + 1),
            delay,
            installed.clone(),
            upgraded.clone(),
            Arc::clone(&retried),
        ));
    }
    drop((installed, upgraded));
    let timeout = Duration::from_secs(args.timeout_secs);
    let installs = collect(installs, args.count, timeout, &server).await?;
    let install_secs = span(&installs, None);

    // Every agent holds a poll now. The new version, then the upgrade of
    // every node's row, as `opm opkg import` and `opm upgrade --group
    // oscar_clients bench-p1` do.
    let opkg = Name::new(NameKind::Opkg, OPKG)?;
    store
        .import_opkg(
            &OpkgImport {
                name: opkg.clone(),
                version: NEW_VERSION.to_owned(),
                summary: "a benchmark opkg".to_owned(),
                source: "opm bench upgrade".to_owned(),
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
        rollout: opm_model::RolloutPolicy::default(),
    };
    let report = upgrade(store, &request, SystemClock.now_ms())
        .await
        .map_err(anyhow::Error::new)?;
    let start_ms = began.elapsed().as_secs_f64() * 1000.0;
    let upgrades = collect(upgrades, args.count, timeout, &server).await?;
    let upgrade_secs = span(&upgrades, Some(began));
    server.check_alive()?;
    agents.abort_all();
    drop(server);
    Ok(UpgradeSummary {
        count: args.count,
        install_secs,
        start_ms,
        started: report.started,
        upgrade_secs,
        poll: Latencies::of(upgrades.iter().map(|run| run.poll).collect()),
        finish: Latencies::of(upgrades.iter().map(|run| run.finish).collect()),
        retried: retried.load(Ordering::SeqCst),
        upgraded: upgraded_rows(store).await?,
    })
}

/// Seconds from `from` (else the first run's start) to the last run's end.
fn span(runs: &[AgentRun], from: Option<Instant>) -> f64 {
    let first = from.or_else(|| runs.iter().map(|run| run.started).min());
    let last = runs.iter().map(|run| run.done).max();
    match (first, last) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => 0.0,
    }
}

/// One simulated agent: after `delay` it installs as B4's agents do,
/// then its next poll waits for the upgrade and it reports the upgrade's
/// stages; then it keeps a long-poll open until aborted.
async fn agent(
    client: ApiClient,
    node: String,
    delay: Duration,
    installed: UnboundedSender<Result<AgentRun, String>>,
    upgraded: UnboundedSender<Result<AgentRun, String>>,
    retried: Arc<AtomicUsize>,
) {
    tokio::time::sleep(delay).await;
    for done in [installed, upgraded] {
        let run = work(&client, &node, &retried).await;
        let ok = run.is_ok();
        // The collector stops listening once it has failed; nothing to tell.
        let _ = done.send(run);
        if !ok {
            return;
        }
    }
    let request = poll_request(&node);
    while client.poll(&request).await.is_ok() {}
}

/// The benchmark's node rows finished at the new version, ok.
async fn upgraded_rows(store: &AnyStore) -> anyhow::Result<u64> {
    let opkg = Name::new(NameKind::Opkg, OPKG)?;
    let rows = store
        .rows_for_opkg(&opkg)
        .await
        .map_err(anyhow::Error::new)?;
    Ok(rows
        .iter()
        .filter(|stored| {
            let row = &stored.row;
            row.target.kind == TargetKind::Node
                && row.target.name.as_str().starts_with("bench-n")
                && row.current == Some(Stage::Finished)
                && row.status == Status::Ok
                && row.version.reached.as_deref() == Some(NEW_VERSION)
                && row.version.upgrade_from.is_none()
        })
        .count() as u64)
}
