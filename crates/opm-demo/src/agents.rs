//! Benchmark B4, agents at scale (`opm bench agents`). It adds N nodes to
//! the database, each with one row at `run-script-post-install` asked to
//! be `finished` (a stage with no actions on a node, so an agent only
//! reports its start and finish) and a token; starts the real `opm
//! server` on loopback as a child process, so the server's CPU and memory
//! are measured apart from the load generator's; and runs N agents in
//! this process, each one connection of its own: after a random delay
//! within the jitter each long-polls for its work, reports the stage's
//! start and finish, and long-polls again, so N polls are held open at the
//! end. The summary gives the latency of the polls answered with work and
//! of the reports, the time from the first agent's start until every
//! finish report was acknowledged, the server's CPU (cores) during that
//! load and over an idle window with every poll held, its peak RSS, and
//! the passed attempts and finished rows counted in the database, which
//! must each be N: a lost report fails the command (exit 1).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use opm_api::auth::{new_token, token_hash};
use opm_api::client::ApiClient;
use opm_model::api::{FinishReport, MAX_POLL_WAIT_MS, PollRequest, StartReport};
use opm_model::{Name, NameKind, Stage, Status, TargetKind};
use opm_store::{AnyStore, AttemptResult, Event, HistoryFilter, Population, Store};
use tokio::task::JoinSet;
use tokio::time::Instant;

use opm_engine::{Clock as _, SystemClock};

use crate::BadInput;

/// Open files the generator needs besides one connection per agent.
const SPARE_FILES: u64 = 256;

/// How long the server may take to start listening.
pub(crate) const SERVER_START: Duration = Duration::from_secs(30);

/// How long the head node's own row may take to finish before the load.
pub(crate) const HEAD_SETTLE: Duration = Duration::from_secs(30);

/// After the last report, before the idle window: the agents' second
/// polls reach the server.
const SETTLE: Duration = Duration::from_secs(1);

/// Lines of the server's stderr kept for an error message.
const STDERR_TAIL: usize = 20;

/// `/proc/PID/stat` counts CPU time in USER_HZ ticks, 100 a second on
/// every Linux architecture opm runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// The one opkg `opm bench populate` adds for this benchmark.
pub(crate) const OPKG: &str = "bench-p1";

/// How one benchmark run goes.
#[derive(Debug, Clone)]
pub struct AgentsBench {
    /// Simulated agents, one node each.
    pub count: u32,
    /// Agents start spread at random over this many milliseconds.
    pub jitter_ms: u64,
    /// Seconds the server's CPU is measured with every poll held open
    /// after the last report.
    pub idle_secs: u64,
    /// Seconds to wait for every report before giving up.
    pub timeout_secs: u64,
}

/// How to start the `opm server` under test: the binary and its
/// arguments (database, conf, root, ...) before `server`'s own.
#[derive(Debug, Clone)]
pub struct ServerCommand {
    /// The `opm` binary.
    pub exe: PathBuf,
    /// The global options it runs with.
    pub global: Vec<OsString>,
}

/// Refuses a run this process cannot hold open: one file per agent's
/// connection and some to spare, under `limit` (the raised open-files
/// limit).
pub fn check_open_files(limit: u64, count: u32) -> Result<(), BadInput> {
    if limit < u64::from(count) + SPARE_FILES {
        return Err(BadInput(format!(
            "{count} agents need about {} open files, and this process may have {limit} \
             (raise the hard limit: ulimit -Hn)",
            u64::from(count) + SPARE_FILES
        )));
    }
    Ok(())
}

/// What one run measured.
pub struct Summary {
    count: u32,
    setup_secs: f64,
    all_reports_secs: f64,
    poll: Latencies,
    start: Latencies,
    finish: Latencies,
    load_cores: f64,
    idle_cores: f64,
    idle_secs: u64,
    polls_held: usize,
    server_sockets: usize,
    retried: usize,
    peak_rss_mib: f64,
    passed: u64,
    finished: u64,
}

impl Summary {
    /// An error when a report was lost: every agent's finish report was
    /// acknowledged, so the database must hold one passed attempt and one
    /// finished row per agent.
    pub fn check(&self) -> anyhow::Result<()> {
        let count = u64::from(self.count);
        if self.passed != count || self.finished != count {
            return Err(anyhow!(
                "reports lost: {count} agents had their finish reports acknowledged, and the \
                 database holds {} passed attempts and {} finished rows",
                self.passed,
                self.finished
            ));
        }
        Ok(())
    }

    /// The summary as one line of text.
    pub fn line(&self) -> String {
        format!(
            "{n} agents: all {n} finish reports acknowledged {all:.2} s after the first agent \
             started; poll with work p50/p99/max {poll}, start {start}, finish {finish}; \
             server CPU {load:.2} cores under load, {idle:.3} idle over {secs} s with {held} \
             polls held ({sockets} sockets); {retried} requests retried after a busy, \
             unreachable or lease-moved answer; peak RSS {rss:.0} MiB; database: {passed} passed attempts, \
             {finished} rows finished (setup {setup:.1} s)",
            n = self.count,
            all = self.all_reports_secs,
            poll = self.poll,
            start = self.start,
            finish = self.finish,
            load = self.load_cores,
            idle = self.idle_cores,
            secs = self.idle_secs,
            held = self.polls_held,
            sockets = self.server_sockets,
            retried = self.retried,
            rss = self.peak_rss_mib,
            passed = self.passed,
            finished = self.finished,
            setup = self.setup_secs,
        )
    }

    /// The summary as a JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "setup_secs": self.setup_secs,
            "all_reports_secs": self.all_reports_secs,
            "poll_ms": self.poll.json(),
            "start_ms": self.start.json(),
            "finish_ms": self.finish.json(),
            "server_load_cores": self.load_cores,
            "server_idle_cores": self.idle_cores,
            "idle_secs": self.idle_secs,
            "polls_held": self.polls_held,
            "server_sockets": self.server_sockets,
            "retried_requests": self.retried,
            "server_peak_rss_mib": self.peak_rss_mib,
            "passed_attempts": self.passed,
            "finished_rows": self.finished,
        })
    }
}

/// p50, p99 and the maximum of some request latencies.
pub(crate) struct Latencies {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Latencies {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Latencies {
        samples.sort_unstable();
        let at = |q: f64| {
            // The nearest-rank percentile: the smallest sample with at
            // least q of them at or below it.
            let rank = (q * samples.len() as f64).ceil() as usize;
            samples
                .get(rank.saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Latencies {
            p50: at(0.50),
            p99: at(0.99),
            max: samples.last().copied().unwrap_or_default(),
        }
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        serde_json::json!({"p50": ms(self.p50), "p99": ms(self.p99), "max": ms(self.max)})
    }
}

impl std::fmt::Display for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "{:.1}/{:.1}/{:.1} ms",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Runs the benchmark against the initialised database `store` with an
/// `opm server` started by `server`.
pub async fn bench(
    args: &AgentsBench,
    store: &AnyStore,
    server: &ServerCommand,
) -> anyhow::Result<Summary> {
    let setup = Instant::now();
    let tokens = prepare(store, args.count).await?;
    let server = ServerChild::start(server)?;
    head_settled(store).await?;
    let setup_secs = setup.elapsed().as_secs_f64();

    let client = ApiClient::new(&format!("http://{}", server.addr), "", None)?;
    let (acks, acked) = tokio::sync::mpsc::unbounded_channel();
    let held = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicUsize::new(0));
    let mut seed = seed();
    let cpu_before = server.cpu_seconds()?;
    let load_started = Instant::now();
    let mut agents = JoinSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let delay = Duration::from_millis(next_random(&mut seed) % (args.jitter_ms + 1));
        agents.spawn(agent(
            client.with_token(token),
            format!("bench-n{}", i + 1),
            delay,
            acks.clone(),
            Arc::clone(&held),
            Arc::clone(&retried),
        ));
    }
    drop(acks);
    let runs = collect(
        acked,
        args.count,
        Duration::from_secs(args.timeout_secs),
        &server,
    )
    .await?;
    let load_wall = load_started.elapsed().as_secs_f64();
    let load_cores = (server.cpu_seconds()? - cpu_before) / load_wall;

    tokio::time::sleep(SETTLE).await;
    let polls_held = held.load(Ordering::SeqCst);
    let server_sockets = server.sockets();
    let cpu_idle = server.cpu_seconds()?;
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let idle_cores = (server.cpu_seconds()? - cpu_idle) / args.idle_secs.max(1) as f64;
    let peak_rss_mib = server.peak_rss_kib()? as f64 / 1024.0;
    server.check_alive()?;
    agents.abort_all();
    drop(server);

    let first = runs.iter().map(|run| run.started).min();
    let last = runs.iter().map(|run| run.done).max();
    let all_reports_secs = match (first, last) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => 0.0,
    };
    let (passed, finished) = counted(store, args.count).await?;
    Ok(Summary {
        count: args.count,
        setup_secs,
        all_reports_secs,
        poll: Latencies::of(runs.iter().map(|run| run.poll).collect()),
        start: Latencies::of(runs.iter().map(|run| run.start).collect()),
        finish: Latencies::of(runs.iter().map(|run| run.finish).collect()),
        load_cores,
        idle_cores,
        idle_secs: args.idle_secs,
        polls_held,
        server_sockets,
        retried: retried.load(Ordering::SeqCst),
        peak_rss_mib,
        passed,
        finished,
    })
}

/// Adds the nodes and their rows, and a token for each node (in node
/// order).
pub(crate) async fn prepare(store: &AnyStore, count: u32) -> anyhow::Result<Vec<String>> {
    let population = Population {
        nodes: count,
        opkgs: 1,
        stage: Stage::Finished,
        behind: true,
    };
    store
        .populate(&population, SystemClock.now_ms())
        .await
        .map_err(anyhow::Error::new)
        .context("cannot add the benchmark's nodes (does the database hold them already?)")?;
    let mut tokens = Vec::new();
    let mut hashes = Vec::new();
    for i in 1..=count {
        let node = Name::new(NameKind::Node, &format!("bench-n{i}"))?;
        let token = new_token().context("cannot read the system's randomness")?;
        hashes.push((opm_store::TokenSubject::Node(node), token_hash(&token)));
        tokens.push(token);
    }
    store
        .set_tokens(&hashes, SystemClock.now_ms())
        .await
        .map_err(anyhow::Error::new)?;
    Ok(tokens)
}

/// Waits until the server has carried the head node's own row (populate
/// gives every node one, the head too) to finished, so the load measures
/// the agents' work alone.
pub(crate) async fn head_settled(store: &AnyStore) -> anyhow::Result<()> {
    let opkg = Name::new(NameKind::Opkg, OPKG)?;
    let deadline = Instant::now() + HEAD_SETTLE;
    loop {
        let rows = store
            .rows_for_opkg(&opkg)
            .await
            .map_err(anyhow::Error::new)?;
        let head = store.nodes().await.map_err(anyhow::Error::new)?;
        let head = head.iter().find(|node| node.head).map(|node| &node.name);
        let settled = rows.iter().any(|stored| {
            Some(&stored.row.target.name) == head && stored.row.current == Some(Stage::Finished)
        });
        if settled {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(anyhow!(
                "opm server did not finish the head node's row {OPKG} within {} s",
                HEAD_SETTLE.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One agent's work, as it saw it.
pub(crate) struct AgentRun {
    pub(crate) started: Instant,
    pub(crate) poll: Duration,
    pub(crate) start: Duration,
    pub(crate) finish: Duration,
    pub(crate) done: Instant,
}

/// One simulated agent: waits out `delay`, polls until it gets its work,
/// reports each stage's start and finish (passed, no output), sends what
/// it measured, then keeps a long-poll open until aborted. Like a real
/// agent it asks again, after its backoff, when the server answers busy
/// (503) or cannot be reached, and polls again when a report finds the
/// lease moved on (409); `retried` counts those.
async fn agent(
    client: ApiClient,
    node: String,
    delay: Duration,
    acks: tokio::sync::mpsc::UnboundedSender<Result<AgentRun, String>>,
    held: Arc<AtomicUsize>,
    retried: Arc<AtomicUsize>,
) {
    tokio::time::sleep(delay).await;
    let run = work(&client, &node, &retried).await;
    let ok = run.is_ok();
    // The collector stops listening once it has failed; nothing to tell.
    let _ = acks.send(run);
    if !ok {
        return;
    }
    let request = poll_request(&node);
    loop {
        held.fetch_add(1, Ordering::SeqCst);
        let polled = client.poll(&request).await;
        held.fetch_sub(1, Ordering::SeqCst);
        if polled.is_err() {
            return;
        }
    }
}

pub(crate) fn poll_request(node: &str) -> PollRequest {
    PollRequest {
        agent: "bench".to_owned(),
        node: node.to_owned(),
        wait_ms: MAX_POLL_WAIT_MS,
    }
}

/// How often one request is asked again before the agent gives up.
const MAX_RETRIES: u32 = 10;

/// `ask`, again after a transient failure, with the real agent's backoff.
/// A busy answer changed nothing (its transaction rolled back), so asking
/// again is safe; a finish sent twice is recognised anyway.
pub(crate) async fn patiently<T, F, Fut>(
    retried: &AtomicUsize,
    mut ask: F,
) -> Result<T, opm_api::AgentError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, opm_api::AgentError>>,
{
    let mut failures = 0;
    loop {
        match ask().await {
            Err(error) if error.is_transient() && failures < MAX_RETRIES => {
                retried.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(opm_api::agent::backoff(failures)).await;
                failures += 1;
            }
            other => return other,
        }
    }
}

/// Whether the server refused a report because the lease moved on (409):
/// a request the agent gave up on still took the node's lease over. A real
/// agent then polls again, and so does this one.
fn lease_moved(error: &opm_api::AgentError) -> bool {
    matches!(error, opm_api::AgentError::Refused { status: 409, .. })
}

/// One agent's work: polls and reports stages until it has reported the
/// `finished` stage of its row (one stage for B4, an upgrade's five for
/// B6). Its poll, start and finish times are the longest of its rounds.
pub(crate) async fn work(
    client: &ApiClient,
    node: &str,
    retried: &AtomicUsize,
) -> Result<AgentRun, String> {
    let failed = |what: &str, error: opm_api::AgentError| format!("{node}: {what}: {error}");
    let started = Instant::now();
    let request = poll_request(node);
    let mut moved = 0;
    let (mut poll, mut start, mut finish) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    'round: loop {
        let batch = loop {
            let asked = Instant::now();
            let batch = patiently(retried, || client.poll(&request))
                .await
                .map_err(|error| failed("poll", error))?;
            if !batch.items.is_empty() {
                poll = poll.max(asked.elapsed());
                break batch;
            }
        };
        let mut done = false;
        for item in &batch.items {
            let asked = Instant::now();
            let report = StartReport {
                row: item.row,
                stage: item.stage,
                token: batch.token,
            };
            let started_attempt = match patiently(retried, || client.start(&report)).await {
                Ok(started_attempt) => started_attempt,
                Err(error) if lease_moved(&error) && moved < MAX_RETRIES => {
                    moved += 1;
                    retried.fetch_add(1, Ordering::SeqCst);
                    continue 'round;
                }
                Err(error) => return Err(failed("start", error)),
            };
            start = start.max(asked.elapsed());
            let asked = Instant::now();
            let report = FinishReport {
                attempt: started_attempt.attempt,
                token: batch.token,
                passed: true,
                exit_code: None,
                output: String::new(),
                output_bytes: Some(0),
                message: None,
                transient: false,
                steps: Vec::new(),
                version: item.version.clone(),
            };
            match patiently(retried, || client.finish(&report)).await {
                Ok(_) => {}
                Err(error) if lease_moved(&error) && moved < MAX_RETRIES => {
                    moved += 1;
                    retried.fetch_add(1, Ordering::SeqCst);
                    continue 'round;
                }
                Err(error) => return Err(failed("finish", error)),
            }
            finish = finish.max(asked.elapsed());
            done |= item.stage == Stage::Finished;
        }
        if done {
            return Ok(AgentRun {
                started,
                poll,
                start,
                finish,
                done: Instant::now(),
            });
        }
    }
}

/// Every agent's run, failing at the first agent that failed, when the
/// server died, or when `timeout` passes first.
pub(crate) async fn collect(
    mut acked: tokio::sync::mpsc::UnboundedReceiver<Result<AgentRun, String>>,
    count: u32,
    timeout: Duration,
    server: &ServerChild,
) -> anyhow::Result<Vec<AgentRun>> {
    let deadline = Instant::now() + timeout;
    let mut runs = Vec::new();
    while runs.len() < count as usize {
        let next = tokio::time::timeout(Duration::from_secs(1), acked.recv()).await;
        match next {
            Ok(Some(Ok(run))) => runs.push(run),
            Ok(Some(Err(message))) => return Err(anyhow!("an agent failed: {message}")),
            Ok(None) => return Err(anyhow!("the agents stopped before all reported")),
            Err(_) => server.check_alive()?,
        }
        if Instant::now() >= deadline {
            return Err(anyhow!(
                "only {} of {count} agents had their finish reports acknowledged within {} s",
                runs.len(),
                timeout.as_secs()
            ));
        }
    }
    Ok(runs)
}

/// The passed attempts of the benchmark's nodes in history, and their
/// rows at finished, as the database holds them.
async fn counted(store: &AnyStore, count: u32) -> anyhow::Result<(u64, u64)> {
    let opkg = Name::new(NameKind::Opkg, OPKG)?;
    let bench_node = |target: &opm_model::Target| {
        target.kind == TargetKind::Node && target.name.as_str().starts_with("bench-n")
    };
    let filter = HistoryFilter {
        target: None,
        opkg: Some(opkg.clone()),
        // Room for more than there should be, so extra attempts show.
        limit: count.saturating_mul(2).saturating_add(16),
    };
    let history = store.history(&filter).await.map_err(anyhow::Error::new)?;
    let passed = history
        .iter()
        .filter(|entry| {
            entry.event == Event::Attempt
                && entry.result == Some(AttemptResult::Passed)
                && bench_node(&entry.target)
        })
        .count();
    let rows = store
        .rows_for_opkg(&opkg)
        .await
        .map_err(anyhow::Error::new)?;
    let finished = rows
        .iter()
        .filter(|stored| {
            bench_node(&stored.row.target)
                && stored.row.current == Some(Stage::Finished)
                && stored.row.status == Status::Ok
        })
        .count();
    Ok((passed as u64, finished as u64))
}

/// A seed for the agents' delays, from the clock.
pub(crate) fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

/// splitmix64: plenty random for spreading start times.
pub(crate) fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `opm server` as a child process on a loopback port it picked; killed
/// when dropped.
pub(crate) struct ServerChild {
    child: Child,
    pub(crate) addr: SocketAddr,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl ServerChild {
    /// Starts `opm server` on a loopback port of its choosing.
    pub(crate) fn start(server: &ServerCommand) -> anyhow::Result<ServerChild> {
        let mut command = Command::new(&server.exe);
        command
            .args(["server", "--listen", "127.0.0.1:0"])
            .args(&server.global);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start opm server")?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let (listening, addr) = mpsc::channel();
        if let Some(pipe) = child.stderr.take() {
            let tail = Arc::clone(&stderr);
            // Drains the pipe for the server's whole life, so it never
            // blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(addr) = line
                        .strip_prefix("opm server: listening on http://")
                        .and_then(|addr| addr.parse::<SocketAddr>().ok())
                    {
                        let _ = listening.send(addr);
                    }
                    let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                    tail.push_back(line);
                    if tail.len() > STDERR_TAIL {
                        tail.pop_front();
                    }
                }
            });
        }
        let mut server = ServerChild {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        server.addr = addr.recv_timeout(SERVER_START).map_err(|_| {
            anyhow!(
                "opm server did not start listening within {} s: {}",
                SERVER_START.as_secs(),
                server.stderr_tail()
            )
        })?;
        Ok(server)
    }

    fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        if tail.is_empty() {
            "it said nothing".to_owned()
        } else {
            tail.iter().cloned().collect::<Vec<_>>().join(" / ")
        }
    }

    fn proc_file(&self, name: &str) -> anyhow::Result<String> {
        let path = format!("/proc/{}/{name}", self.child.id());
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))
    }

    /// The server's CPU time so far, user and system, in seconds.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = self.proc_file("stat")?;
        // The command name may hold spaces; the fields after it do not.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // utime and stime are fields 14 and 15, the 12th and 13th after
        // the name.
        let ticks = |index: usize| {
            fields
                .get(index)
                .and_then(|field| field.parse::<u64>().ok())
                .ok_or_else(|| anyhow!("cannot read the server's CPU time from {stat:?}"))
        };
        Ok((ticks(11)? + ticks(12)?) as f64 / TICKS_PER_SECOND)
    }

    /// The server's peak resident set (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = self.proc_file("status")?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow!("no VmHWM in the server's /proc status"))
    }

    /// The server's open sockets (its connections and listener).
    fn sockets(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| std::fs::read_link(entry.path()).ok())
                    .filter(|target| target.to_string_lossy().starts_with("socket:"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Fails when the server has exited.
    pub(crate) fn check_alive(&self) -> anyhow::Result<()> {
        let stat = self.proc_file("stat").unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        match state {
            Some("Z" | "X") | None => Err(anyhow!(
                "opm server exited during the benchmark: {}",
                self.stderr_tail()
            )),
            Some(_) => Ok(()),
        }
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
