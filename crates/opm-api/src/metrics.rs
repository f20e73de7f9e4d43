//! What `opm server` tells Prometheus (`GET /metrics`): one registry of
//! the server's metrics and the few calls that feed it, so the handlers,
//! the agents' routes and the engine each record with one line and the
//! names, labels and buckets live here only.
//!
//! Label values are bounded: statuses, stages, outcomes and agent calls
//! are fixed sets; the only per-node series is the time since each node's
//! last contact (no per-row labels). Row counts and leases are read from
//! the store at scrape time ([`Metrics::scrape`]), in aggregate queries,
//! and so are the nodes' last contacts: the stored record `opm node list`
//! shows too ([`crate::contact`] writes it at most every 10 s per node),
//! so the two never disagree and a restarted server knows them at once.
//!
//! The text is Prometheus' classic exposition format (the `prometheus`
//! crate's encoder), not OpenMetrics: Debian's promtool (2.42) lints an
//! OpenMetrics counter's `_total` sample as a family without help, and
//! rejects the `info` type.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opm_engine::{Event, Reporter};
use opm_model::api::MAX_POLL_WAIT_MS;
use opm_model::{Name, Stage, StatusKind};
use opm_store::RowCounts;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// A node whose last contact is younger than this counts as connected:
/// an agent polls again at once after each answer, and a poll waits 30 s
/// at most, so a live agent is never silent for two of them.
const CONNECTED_MS: i64 = 2 * MAX_POLL_WAIT_MS as i64;

/// Row counts younger than this are given to a scrape again instead of
/// asking the store: counting 400,000 SQLite rows takes 0.15-0.2 s of the
/// store's one connection, and `/metrics` is open to anyone who reaches
/// the port, so however many scrapers ask, the store counts at most once
/// per period.
const COUNTS_REUSED_FOR: Duration = Duration::from_secs(2);

/// The stage label of rows that never said which stage they reached.
const NO_STAGE: &str = "none";

/// The buckets of a stage's duration: seconds for a script, an hour for
/// the longest package installs.
const STAGE_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

/// The buckets of an agent call's latency; a poll held for work lasts up
/// to 30 s.
const CALL_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// One of the agents' calls, the `call` label of their latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentCall {
    /// `POST /v1/agent/poll` (its time includes the wait for work).
    Poll,
    /// `POST /v1/agent/start`.
    Start,
    /// `POST /v1/agent/finish`.
    Finish,
    /// `POST /v1/agent/heartbeat`.
    Heartbeat,
}

impl AgentCall {
    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            AgentCall::Poll => "poll",
            AgentCall::Start => "start",
            AgentCall::Finish => "finish",
            AgentCall::Heartbeat => "heartbeat",
        }
    }
}

/// How a stage attempt ended, the `outcome` label of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageOutcome {
    /// The stage passed.
    Passed,
    /// The stage failed; its row is in error.
    Failed,
    /// The stage met trouble that passes (a lock, the network): no row error.
    Transient,
}

impl StageOutcome {
    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            StageOutcome::Passed => "passed",
            StageOutcome::Failed => "failed",
            StageOutcome::Transient => "transient",
        }
    }
}

/// Where a stage ran, the `runner` label of attempts and durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// The head node's own passes (the server and image rows).
    Head,
    /// A node's agent, through its finish report.
    Agent,
}

impl Runner {
    fn name(self) -> &'static str {
        match self {
            Runner::Head => "head",
            Runner::Agent => "agent",
        }
    }
}

/// The server's metrics and what they are computed from.
pub struct Metrics {
    registry: Registry,
    rows_by_status: IntGaugeVec,
    rows_by_stage: IntGaugeVec,
    leases: IntGauge,
    attempts: IntCounterVec,
    stage_seconds: HistogramVec,
    call_seconds: HistogramVec,
    polls_held: IntGauge,
    agents_connected: IntGauge,
    last_contact: GaugeVec,
    scrape_seconds: HistogramVec,
    /// The last row counts and when they were read; scrapes at once wait
    /// here for one read.
    counted: tokio::sync::Mutex<Option<(Instant, RowCounts)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Registers `metric` in `registry` and gives it back.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> prometheus::Result<M> {
    let metric = metric?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Metrics {
    /// A fresh registry with every metric of the server, `opm_build_info`
    /// set to `version`.
    ///
    /// # Errors
    /// Only if two metrics here had one name (a bug, found by any test).
    pub fn new(version: &str) -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let r = &registry;
        let build = registered(
            r,
            IntGaugeVec::new(
                Opts::new("opm_build_info", "The running opm's version; always 1."),
                &["version"],
            ),
        )?;
        build.with_label_values(&[version]).set(1);
        let stage_opts = |name: &str, help: &str, buckets: &[f64]| {
            HistogramOpts::new(name, help).buckets(buckets.to_vec())
        };
        Ok(Metrics {
            rows_by_status: registered(
                r,
                IntGaugeVec::new(
                    Opts::new("opm_rows", "Rows (target x opkg) by status."),
                    &["status"],
                ),
            )?,
            rows_by_stage: registered(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "opm_rows_by_stage",
                        "Rows by the stage they last completed ('none': never said).",
                    ),
                    &["stage"],
                ),
            )?,
            leases: registered(
                r,
                IntGauge::new("opm_leases_held", "Unexpired leases: targets at work."),
            )?,
            attempts: registered(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "opm_stage_attempts_total",
                        "Stage attempts ended since the server started.",
                    ),
                    &["stage", "outcome", "runner"],
                ),
            )?,
            stage_seconds: registered(
                r,
                HistogramVec::new(
                    stage_opts(
                        "opm_stage_duration_seconds",
                        "How long stage attempts took.",
                        &STAGE_BUCKETS,
                    ),
                    &["stage", "runner"],
                ),
            )?,
            call_seconds: registered(
                r,
                HistogramVec::new(
                    stage_opts(
                        "opm_agent_request_duration_seconds",
                        "How long the agents' calls took to answer (a poll: with its wait for work).",
                        &CALL_BUCKETS,
                    ),
                    &["call"],
                ),
            )?,
            polls_held: registered(
                r,
                IntGauge::new(
                    "opm_polls_held",
                    "Agents' polls under way now (held while they wait for work).",
                ),
            )?,
            agents_connected: registered(
                r,
                IntGauge::new(
                    "opm_agents_connected",
                    "Nodes whose agent called within the last 60 s.",
                ),
            )?,
            last_contact: registered(
                r,
                GaugeVec::new(
                    Opts::new(
                        "opm_node_last_contact_age_seconds",
                        "Seconds since each node's agent last called this server.",
                    ),
                    &["node"],
                ),
            )?,
            scrape_seconds: registered(
                r,
                HistogramVec::new(
                    stage_opts(
                        "opm_store_query_duration_seconds",
                        "How long the store's aggregate reads for a scrape took.",
                        &CALL_BUCKETS,
                    ),
                    &["query"],
                ),
            )?,
            counted: tokio::sync::Mutex::new(None),
            registry,
        })
    }

    /// A stage attempt ended.
    pub fn stage_ended(&self, runner: Runner, stage: Stage, outcome: StageOutcome, seconds: f64) {
        self.attempts
            .with_label_values(&[stage.name(), outcome.name(), runner.name()])
            .inc();
        self.stage_seconds
            .with_label_values(&[stage.name(), runner.name()])
            .observe(seconds.max(0.0));
    }

    /// An agent's call answered after `seconds`.
    pub fn call_answered(&self, call: AgentCall, seconds: f64) {
        self.call_seconds
            .with_label_values(&[call.name()])
            .observe(seconds);
    }

    /// A poll starts waiting; it counts as held until the guard drops
    /// (answered, or its client went away).
    pub fn poll_held(&self) -> HeldPoll {
        self.polls_held.inc();
        HeldPoll(self.polls_held.clone())
    }

    /// The row counts for a scrape: those of the last `read` when younger
    /// than [`COUNTS_REUSED_FOR`], else `read`'s, timed.
    ///
    /// # Errors
    /// `read`'s.
    pub async fn row_counts<E>(
        &self,
        read: impl Future<Output = Result<RowCounts, E>>,
    ) -> Result<RowCounts, E> {
        let mut last = self.counted.lock().await;
        if let Some((at, counts)) = last.as_ref()
            && at.elapsed() < COUNTS_REUSED_FOR
        {
            return Ok(counts.clone());
        }
        let began = Instant::now();
        let counts = read.await?;
        self.scrape_seconds
            .with_label_values(&["row_counts"])
            .observe(began.elapsed().as_secs_f64());
        *last = Some((Instant::now(), counts.clone()));
        Ok(counts)
    }

    /// The exposition text at `now_ms`, with the store's `counts`.
    pub fn scrape(&self, counts: &RowCounts, now_ms: i64) -> String {
        for status in [StatusKind::Ok, StatusKind::Running, StatusKind::Error] {
            let rows = counts
                .rows
                .iter()
                .filter(|count| count.status == status)
                .map(|count| count.rows)
                .sum::<u64>();
            self.rows_by_status
                .with_label_values(&[status.name()])
                .set(gauge(rows));
        }
        let stages = Stage::ALL.iter().map(|stage| Some(*stage));
        for stage in stages.chain([None]) {
            let rows = counts
                .rows
                .iter()
                .filter(|count| count.stage == stage)
                .map(|count| count.rows)
                .sum::<u64>();
            self.rows_by_stage
                .with_label_values(&[stage.map_or(NO_STAGE, Stage::name)])
                .set(gauge(rows));
        }
        self.leases.set(gauge(counts.leases));
        self.contacts_at(&counts.contacts, now_ms);
        let mut text = Vec::new();
        // The encoder writes UTF-8 text into a Vec, which cannot fail.
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut text) {
            tracing::warn!("cannot encode the metrics: {error}");
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    /// Sets the per-node ages and the connected count from the stored
    /// contacts.
    fn contacts_at(&self, contacts: &[(Name, i64)], now_ms: i64) {
        self.last_contact.reset();
        let mut connected = 0;
        for (node, last) in contacts.iter() {
            let age_ms = (now_ms - last).max(0);
            if age_ms < CONNECTED_MS {
                connected += 1;
            }
            #[allow(clippy::cast_precision_loss)] // ages are far below 2^52 ms
            self.last_contact
                .with_label_values(&[node.as_str()])
                .set(age_ms as f64 / 1000.0);
        }
        self.agents_connected.set(connected);
    }

    /// The content type of [`Metrics::scrape`]'s text.
    pub fn content_type() -> &'static str {
        prometheus::TEXT_FORMAT
    }
}

/// A gauge's value from a count.
fn gauge(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// A poll counted in `opm_polls_held` while this lives.
pub struct HeldPoll(IntGauge);

impl Drop for HeldPoll {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The head node's engine's reporter, timing its stages into the metrics
/// and passing every event on to `inner`.
pub struct StageTimer {
    inner: Arc<dyn Reporter>,
    metrics: Arc<Metrics>,
    /// When each running stage started, by row and stage; an entry whose
    /// stage was deferred (transient trouble) is replaced at its next start.
    started: Mutex<HashMap<(String, Stage), Instant>>,
}

impl StageTimer {
    /// Times the stages `inner` is told about into `metrics`.
    pub fn new(inner: Arc<dyn Reporter>, metrics: Arc<Metrics>) -> StageTimer {
        StageTimer {
            inner,
            metrics,
            started: Mutex::new(HashMap::new()),
        }
    }

    fn ended(&self, row: &str, stage: Stage, outcome: StageOutcome) {
        let began = self
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(row.to_owned(), stage));
        let seconds = began.map_or(0.0, |began| began.elapsed().as_secs_f64());
        self.metrics
            .stage_ended(Runner::Head, stage, outcome, seconds);
    }
}

impl Reporter for StageTimer {
    fn report(&self, event: &Event) {
        match event {
            Event::StageStarted { row, stage } => {
                self.started
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((row.clone(), *stage), Instant::now());
            }
            Event::StagePassed { row, stage } => self.ended(row, *stage, StageOutcome::Passed),
            Event::StageFailed { row, stage, .. } => {
                self.ended(row, *stage, StageOutcome::Failed);
            }
            Event::TargetStarted { .. } | Event::Waiting { .. } | Event::TargetDone { .. } => {}
        }
        self.inner.report(event);
    }
}

#[cfg(test)]
mod tests {
    // Fixed, valid names; a failure there is a test bug.
    #![allow(clippy::unwrap_used)]

    use std::sync::Mutex;

    use opm_model::{Name, NameKind, Stage, StatusKind};
    use opm_store::{RowCount, RowCounts};

    use super::{Event, Metrics, Reporter, StageTimer};

    fn metrics() -> Metrics {
        Metrics::new("1.2.3").unwrap()
    }

    fn node(name: &str) -> Name {
        Name::new(NameKind::Node, name).unwrap()
    }

    #[test]
    fn counts_fill_every_status_and_stage_with_zeros_where_there_are_no_rows() {
        let counts = RowCounts {
            rows: vec![
                RowCount {
                    status: StatusKind::Ok,
                    stage: Some(Stage::Finished),
                    rows: 5,
                },
                RowCount {
                    status: StatusKind::Error,
                    stage: Some(Stage::ShouldNotBeInstalled),
                    rows: 2,
                },
                RowCount {
                    status: StatusKind::Ok,
                    stage: None,
                    rows: 1,
                },
            ],
            leases: 3,
            contacts: Vec::new(),
        };
        let text = metrics().scrape(&counts, 0);
        for line in [
            r#"opm_rows{status="ok"} 6"#,
            r#"opm_rows{status="error"} 2"#,
            r#"opm_rows{status="running"} 0"#,
            r#"opm_rows_by_stage{stage="finished"} 5"#,
            r#"opm_rows_by_stage{stage="should_not_be_installed"} 2"#,
            r#"opm_rows_by_stage{stage="none"} 1"#,
            r#"opm_rows_by_stage{stage="run-configurator"} 0"#,
            "opm_leases_held 3",
            r#"opm_build_info{version="1.2.3"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_node_silent_for_a_minute_is_not_connected_but_keeps_its_age() {
        let metrics = metrics();
        let counts = RowCounts {
            contacts: vec![(node("n1"), 100_000), (node("n2"), 30_000)],
            ..RowCounts::default()
        };
        let text = metrics.scrape(&counts, 100_500);
        assert!(text.contains("opm_agents_connected 1\n"), "{text}");
        assert!(
            text.contains("opm_node_last_contact_age_seconds{node=\"n1\"} 0.5\n"),
            "{text}"
        );
        assert!(
            text.contains("opm_node_last_contact_age_seconds{node=\"n2\"} 70.5\n"),
            "{text}"
        );
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Event>>);

    impl Reporter for Recorder {
        fn report(&self, event: &Event) {
            self.0.lock().unwrap().push(event.clone());
        }
    }

    #[test]
    fn the_stage_timer_counts_ended_stages_and_passes_every_event_on() {
        let metrics = std::sync::Arc::new(metrics());
        let recorder = std::sync::Arc::new(Recorder::default());
        let timer = StageTimer::new(recorder.clone(), metrics.clone());
        let row = "node head / motd".to_owned();
        let events = [
            Event::StageStarted {
                row: row.clone(),
                stage: Stage::ShouldBeInstalled,
            },
            Event::StagePassed {
                row: row.clone(),
                stage: Stage::ShouldBeInstalled,
            },
            Event::StageStarted {
                row: row.clone(),
                stage: Stage::RunConfigurator,
            },
            Event::StageFailed {
                row,
                stage: Stage::RunConfigurator,
                message: "boom".to_owned(),
            },
        ];
        for event in &events {
            timer.report(event);
        }
        assert_eq!(*recorder.0.lock().unwrap(), events.to_vec());
        assert!(timer.started.lock().unwrap().is_empty());
        let text = metrics.scrape(&RowCounts::default(), 0);
        for line in [
            r#"opm_stage_attempts_total{outcome="passed",runner="head",stage="should_be_installed"} 1"#,
            r#"opm_stage_attempts_total{outcome="failed",runner="head",stage="run-configurator"} 1"#,
            r#"opm_stage_duration_seconds_count{runner="head",stage="run-configurator"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[tokio::test]
    async fn scrapes_close_together_count_the_rows_once() {
        let metrics = metrics();
        let reads = std::sync::atomic::AtomicU32::new(0);
        let read = || async {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(RowCounts {
                rows: Vec::new(),
                leases: 7,
                contacts: Vec::new(),
            })
        };
        assert_eq!(metrics.row_counts(read()).await.unwrap().leases, 7);
        assert_eq!(metrics.row_counts(read()).await.unwrap().leases, 7);
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        // A failed read is not kept.
        *metrics.counted.lock().await = None;
        assert_eq!(metrics.row_counts(async { Err(()) }).await, Err(()));
        assert_eq!(metrics.row_counts(read()).await.unwrap().leases, 7);
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn a_held_poll_counts_until_it_is_dropped() {
        let metrics = metrics();
        let held = metrics.poll_held();
        assert!(
            metrics
                .scrape(&RowCounts::default(), 0)
                .contains("opm_polls_held 1\n")
        );
        drop(held);
        assert!(
            metrics
                .scrape(&RowCounts::default(), 0)
                .contains("opm_polls_held 0\n")
        );
    }
}
