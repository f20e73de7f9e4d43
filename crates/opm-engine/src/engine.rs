//! The pass: load, decide, lease each target, carry the stages out, record,
//! and again until nothing more can be done now.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use opm_model::{Name, Row, Target, TargetKind};
use opm_native::PackageManager;
use opm_native::script::ScriptRunner;
use opm_plan::{Action, Resume, Work, resume};
use opm_store::{RowId, Store, StoreError, StoredRow};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::act::{self, Actor, Failure, PACKAGES_DIR, StageRun};
use crate::clock::{Clock, time_of_day};
use crate::config_values;
use crate::error::EngineError;
use crate::load::{Identity, Snapshot, load};
use crate::order::{order_on_target, side_by_side};
use crate::output::Output;
use crate::report::{Event, Reporter};
use crate::retry::{backoff_delay, store_call};
use crate::steps;
use crate::triage::triage;

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This machine (from opm.conf).
    pub identity: Identity,
    /// The root this machine's own packages go into (`--root`).
    pub own_root: PathBuf,
    /// Targets worked at the same time; with [`side_by_side`](Self::side_by_side)
    /// also the most script-only stages run at once on one target.
    pub jobs: usize,
    /// Whether a target's script-only stages of unrelated opkgs may run
    /// side by side (up to `jobs` at a time) instead of one after another.
    /// Off unless the site asks for it (`side_by_side_scripts`, `opm run
    /// --side-by-side`): OSCAR's API scripts were written to run one at a
    /// time on a host and edit shared files, so overlapping them is only
    /// safe where the site knows its scripts allow it.
    pub side_by_side: bool,
    /// How long a lease lasts unless renewed; renewed every third of it.
    pub lease_ttl: Duration,
    /// How long to wait for a target leased by another live owner before
    /// reporting it blocked.
    pub lease_wait: Duration,
    /// Each script's timeout.
    pub script_timeout: Duration,
    /// This machine's host name (the host part of lease owners).
    pub host: String,
    /// The process table (`/proc`), read to tell dead lease owners.
    pub proc_dir: PathBuf,
}

/// The I/O the engine drives, injected.
pub struct Engine<S: Store> {
    store: Arc<S>,
    actor: Actor,
    clock: Arc<dyn Clock>,
    reporter: Arc<dyn Reporter>,
    config: EngineConfig,
    owner: String,
    /// Leases held during a run, kept across its rounds so no other
    /// process slips in between two stages; each with its renewer.
    held: std::sync::Mutex<BTreeMap<Target, (u64, tokio::task::JoinHandle<()>)>>,
}

/// What one row is left waiting for at the end of a run (the API's type:
/// a node's agent reports the same).
pub use opm_model::api::Waiting;

/// What a run did and what it left.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// Stages that passed.
    pub passed: usize,
    /// Stages that failed (their rows are now in error).
    pub failed: usize,
    /// Rows in error at the end, with their messages.
    pub errors: Vec<Waiting>,
    /// Rows blocked at the end (gates, dependencies, other owners' leases,
    /// rollouts that have not started their node).
    pub blocked: Vec<Waiting>,
    /// Nodes a rollout started during the run: their agents have work now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub started: Vec<Name>,
}

/// How a run ended, for the exit code (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything requested in scope is reached.
    Converged,
    /// Some row is (or ended) in error.
    Failed,
    /// Work remains blocked.
    Blocked,
}

impl RunReport {
    /// The run's verdict: errors beat blocks.
    pub fn verdict(&self) -> Verdict {
        if self.failed > 0 || !self.errors.is_empty() {
            Verdict::Failed
        } else if !self.blocked.is_empty() {
            Verdict::Blocked
        } else {
            Verdict::Converged
        }
    }
}

/// How one stage ended.
enum StageEnd {
    Passed,
    Failed,
    /// Transient trouble: recorded in history, the row stays ok.
    Deferred(String),
    /// The store refused to begin the stage (the row had moved on since
    /// the decision); nothing was begun. The store's reason.
    Moved(String),
}

/// What a round does with one row of a target.
enum Job {
    /// Perform a stage.
    Perform(Work),
    /// Set a row left running by a dead attempt back to ok.
    Release,
}

/// What working one target produced.
#[derive(Default)]
struct TargetResult {
    passed: usize,
    failed: usize,
    progressed: bool,
    held: Option<(Target, Waiting)>,
    /// Rows whose stage met transient trouble: not tried again this run.
    deferred: Vec<(RowId, Waiting)>,
    /// Rows whose stage the store refused to begin: the stage, and the
    /// row with the store's reason.
    refused: Vec<(RowId, Work, Waiting)>,
}

/// How often in one run the store may refuse the same stage of a row
/// before the row is left alone: once is a row that moved on since the
/// decision (decided again on fresh rows); twice means planner and store
/// disagree about it, and deciding again would only spin.
const MAX_REFUSALS: u32 = 2;

/// Counts the store's refusals per row and stage over one run.
#[derive(Default)]
struct Refusals {
    counts: BTreeMap<RowId, (opm_model::Stage, u32)>,
}

impl Refusals {
    /// Notes a refusal of `work`'s stage on row `id`; the reason to leave
    /// the row alone for the rest of the run when it was refused
    /// [`MAX_REFUSALS`] times in a row.
    fn note(&mut self, id: RowId, work: &Work, refused: Waiting) -> Option<Waiting> {
        let count = match self.counts.get(&id) {
            Some((stage, count)) if *stage == work.stage => count + 1,
            _ => 1,
        };
        self.counts.insert(id, (work.stage, count));
        (count >= MAX_REFUSALS).then(|| Waiting {
            reason: format!(
                "the store refused {} {count} times in this run ({}); the row is left alone \
                 until the next run: planner and store disagree about it, so run 'opm plan' \
                 and 'opm history' and report both",
                if work.is_uninstall() {
                    "the uninstall".to_owned()
                } else {
                    work.stage.to_string()
                },
                refused.reason
            ),
            row: refused.row,
        })
    }
}

impl<S: Store + 'static> Engine<S> {
    /// An engine over these edges.
    ///
    /// # Errors
    /// When this process's identity (the lease owner) cannot be read.
    pub fn new(
        store: Arc<S>,
        packages: Arc<dyn PackageManager>,
        scripts: ScriptRunner,
        clock: Arc<dyn Clock>,
        reporter: Arc<dyn Reporter>,
        config: EngineConfig,
    ) -> Result<Engine<S>, EngineError> {
        let owner = crate::owner::Owner::this_process(&config.host)
            .map_err(EngineError::Identity)?
            .to_string();
        let actor = Actor::new(
            packages,
            scripts,
            config.own_root.clone(),
            config.script_timeout,
        );
        Ok(Engine {
            store,
            actor,
            clock,
            reporter,
            config,
            owner,
            held: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// Whose rows this engine's `opm plan` decides.
    pub fn plan_scope(&self) -> crate::operate::PlanScope {
        crate::operate::PlanScope {
            identity: self.config.identity.clone(),
            host: self.config.host.clone(),
            proc_dir: self.config.proc_dir.clone(),
        }
    }

    /// The lease owner this engine writes (`host:pid:start-time`).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    async fn snapshot(&self) -> Result<Snapshot, EngineError> {
        Ok(load(
            self.store.as_ref(),
            &self.config.identity,
            &self.config.host,
            &self.config.proc_dir,
            self.clock.now_ms(),
        )
        .await?)
    }

    /// The head node's name and the target a verify here is limited to:
    /// the head node verifies its own rows and its images' (`only` narrows
    /// that), an image machine its image's.
    async fn verify_scope(
        &self,
        only: Option<&Target>,
    ) -> Result<(Name, Option<Target>), EngineError> {
        let me = &self.config.identity;
        Ok(match me.role {
            opm_model::Role::Server => (me.name.clone(), only.cloned()),
            opm_model::Role::Client | opm_model::Role::Image => {
                let head = crate::retry::store_call(|| self.store.head_node())
                    .await?
                    .unwrap_or_else(|| me.name.clone());
                (head, Some(Target::image(me.name.clone())))
            }
        })
    }

    /// Verifies this machine's rows against its roots' package databases
    /// (SPEC §1.9): reads only, runs no script.
    ///
    /// # Errors
    /// A store failure that retrying did not cure; a root that cannot be
    /// read is in the result's `unreadable`.
    pub async fn verify(
        &self,
        only: Option<&Target>,
    ) -> Result<crate::verify::LocalVerify, EngineError> {
        let (head, only) = self.verify_scope(only).await?;
        Ok(crate::verify::verify_local(
            self.store.as_ref(),
            &self.actor,
            &head,
            only.as_ref(),
            self.clock.now_ms(),
        )
        .await?)
    }

    /// What the store says of `target`'s drift now, without reading any
    /// package database: a node's rows on the head node are its agent's
    /// to verify.
    ///
    /// # Errors
    /// A store failure that retrying did not cure.
    pub async fn stored_findings(
        &self,
        target: &Target,
    ) -> Result<opm_model::api::VerifySummary, EngineError> {
        Ok(crate::verify::stored_findings(self.store.as_ref(), target).await?)
    }

    /// Verifies what this machine can read, then requests the repair of
    /// every drifted row of `targets` (all when empty): nodes' rows by
    /// their stored status, this machine's by what the verify just found.
    ///
    /// # Errors
    /// As for [`Engine::verify`].
    pub async fn repair(
        &self,
        targets: &[Target],
    ) -> Result<(crate::verify::LocalVerify, Vec<crate::verify::Repaired>), EngineError> {
        let (head, only) = self.verify_scope(None).await?;
        let local = crate::verify::verify_local(
            self.store.as_ref(),
            &self.actor,
            &head,
            only.as_ref(),
            self.clock.now_ms(),
        )
        .await?;
        let parts = |row: &Row| {
            local
                .parts
                .get(&(row.target.clone(), row.package.clone()))
                .cloned()
        };
        // An image machine repairs its own image's rows only.
        let targets: Vec<Target> = match (&only, targets.is_empty()) {
            (Some(own), true) => vec![own.clone()],
            _ => targets.to_vec(),
        };
        let repaired = crate::verify::repair(
            self.store.as_ref(),
            &head,
            &targets,
            &parts,
            self.clock.now_ms(),
        )
        .await?;
        Ok((local, repaired))
    }

    /// Reconciles until nothing more can be done now.
    ///
    /// # Errors
    /// Infrastructure trouble that retrying did not cure; row failures are
    /// not errors here, they are in the report.
    pub async fn run(self: &Arc<Self>) -> Result<RunReport, EngineError> {
        let outcome = self.rounds().await;
        self.release_all().await;
        outcome
    }

    async fn rounds(self: &Arc<Self>) -> Result<RunReport, EngineError> {
        let mut report = RunReport::default();
        let started = self.clock.now_ms();
        let wait_ms = i64::try_from(self.config.lease_wait.as_millis()).unwrap_or(i64::MAX);
        let mut round_waits = 0;
        let mut deferred: BTreeMap<RowId, Waiting> = BTreeMap::new();
        // Targets whose lease another live owner kept past the wait: not
        // waited for again in this run.
        let mut given_up: BTreeMap<Target, Waiting> = BTreeMap::new();
        let mut refusals = Refusals::default();
        report.started = crate::rollout::advance(self.store.as_ref(), started).await?;
        loop {
            let snapshot = self.snapshot().await?;
            let now = self.clock.now_ms();
            let mut blocked = Vec::new();
            let pending = snapshot.mine.iter().filter(|stored| {
                // Met transient trouble earlier in this run: a later run
                // tries again.
                let waiting = deferred.get(&stored.id);
                blocked.extend(waiting.cloned());
                waiting.is_none()
            });
            let sorted = triage(
                &snapshot.cluster,
                pending.map(|stored| (stored.id, &stored.row)),
                now,
            )?;
            blocked.extend(sorted.blocked);
            let (errors, changes, leased) = (sorted.errors, sorted.requests, sorted.leased);
            // The head node's own rows and images are never in a rollout;
            // a compute node's are, when it works for itself.
            let allowed = if self.config.identity.role == opm_model::Role::Client {
                let gated = crate::rollout::gate(self.store.as_ref(), sorted.works).await?;
                blocked.extend(gated.held);
                gated.works
            } else {
                sorted.works
            };
            let mut works: BTreeMap<Target, Vec<(RowId, Job)>> = BTreeMap::new();
            for (id, target, work) in allowed {
                works
                    .entry(target)
                    .or_default()
                    .push((id, Job::Perform(work)));
            }
            // Interrupted attempts whose work is no longer wanted.
            for (id, target) in sorted.releases {
                works.entry(target).or_default().push((id, Job::Release));
            }
            let mut progressed = false;
            for change in &changes {
                store_call(|| {
                    self.store
                        .request(&change.target, &change.package, change.requested, now)
                })
                .await?;
                progressed = true;
            }
            let mut tasks = tokio::task::JoinSet::new();
            let permits = Arc::new(Semaphore::new(self.config.jobs.max(1)));
            let snapshot = Arc::new(snapshot);
            for (target, target_works) in works {
                if given_up.contains_key(&target) {
                    continue;
                }
                let engine = Arc::clone(self);
                let permits = Arc::clone(&permits);
                let snapshot = Arc::clone(&snapshot);
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    engine.work_target(&snapshot, target, target_works).await
                });
            }
            while let Some(joined) = tasks.join_next().await {
                let result = joined.map_err(|error| EngineError::Task(error.to_string()))??;
                report.passed += result.passed;
                report.failed += result.failed;
                progressed |= result.progressed;
                if let Some((target, waiting)) = result.held {
                    given_up.insert(target, waiting);
                }
                deferred.extend(result.deferred);
                for (id, work, refused) in result.refused {
                    if let Some(waiting) = refusals.note(id, &work, refused) {
                        tracing::warn!("{}: {}", waiting.row, waiting.reason);
                        deferred.insert(id, waiting);
                    }
                }
            }
            if !progressed && leased && self.clock.now_ms() - started < wait_ms {
                // Another live process works some of these rows: wait for
                // it (bounded), then look again.
                tokio::time::sleep(backoff_delay(round_waits)).await;
                round_waits += 1;
                continue;
            }
            if !progressed {
                blocked.extend(given_up.into_values());
                report.errors = errors;
                report.blocked = blocked;
                return Ok(report);
            }
        }
    }

    /// Leases `target`, waiting a bounded time for another live owner.
    async fn lease(
        &self,
        target: &Target,
    ) -> Result<Result<opm_model::Lease, Waiting>, EngineError> {
        let ttl = i64::try_from(self.config.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        let started = self.clock.now_ms();
        let wait = i64::try_from(self.config.lease_wait.as_millis()).unwrap_or(i64::MAX);
        let mut attempt = 0;
        loop {
            let now = self.clock.now_ms();
            match store_call(|| self.store.acquire_lease(target, &self.owner, ttl, now)).await {
                Ok(lease) => return Ok(Ok(lease)),
                Err(StoreError::LeaseHeld {
                    owner,
                    expires_at_ms,
                    ..
                }) => {
                    let dead = crate::owner::Owner::parse(&owner).is_some_and(|o| {
                        o.liveness(&self.config.host, &self.config.proc_dir)
                            == crate::owner::Liveness::Dead
                    });
                    if dead {
                        // Take the dead owner's lease over now: acquire as of
                        // its expiry, then renew as of now.
                        let remaining = (now + ttl - expires_at_ms).max(1);
                        let lease = store_call(|| {
                            self.store
                                .acquire_lease(target, &self.owner, remaining, expires_at_ms)
                        })
                        .await?;
                        let lease =
                            store_call(|| self.store.renew_lease(target, lease.token, ttl, now))
                                .await?;
                        return Ok(Ok(lease));
                    }
                    let reason = format!(
                        "{target} is being worked by {owner} until {}",
                        time_of_day(expires_at_ms)
                    );
                    if now - started >= wait {
                        return Ok(Err(Waiting {
                            row: target.to_string(),
                            reason,
                        }));
                    }
                    self.reporter.report(&Event::Waiting {
                        reason: reason.clone(),
                    });
                    tokio::time::sleep(backoff_delay(attempt).min(Duration::from_millis(
                        u64::try_from(wait - (now - started)).unwrap_or(0).max(1),
                    )))
                    .await;
                    attempt += 1;
                }
                Err(other) => return Err(other.into()),
            }
        }
    }

    async fn work_target(
        self: &Arc<Self>,
        snapshot: &Snapshot,
        target: Target,
        jobs: Vec<(RowId, Job)>,
    ) -> Result<TargetResult, EngineError> {
        let mut releases = Vec::new();
        let mut works = Vec::new();
        for (id, job) in jobs {
            match job {
                Job::Perform(work) => works.push((id, work)),
                Job::Release => releases.push(id),
            }
        }
        let known = self
            .held
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(&target)
            .map(|(token, _)| *token);
        let token = match known {
            Some(token) => token,
            None => match self.lease(&target).await? {
                Ok(lease) => {
                    let engine = Arc::clone(self);
                    let renewed = target.clone();
                    let renewer = tokio::spawn(async move {
                        engine.keep_renewing(&renewed, lease.token).await;
                    });
                    self.held
                        .lock()
                        .unwrap_or_else(|poison| poison.into_inner())
                        .insert(target.clone(), (lease.token, renewer));
                    lease.token
                }
                Err(waiting) => {
                    return Ok(TargetResult {
                        held: Some((target, waiting)),
                        ..TargetResult::default()
                    });
                }
            },
        };
        for id in &releases {
            let now = self.clock.now_ms();
            store_call(|| self.store.release_interrupted(*id, token, now)).await?;
        }
        let outcome = self
            .work_leased(snapshot, &target, works, token)
            .await
            .map(|mut result| {
                result.progressed |= !releases.is_empty();
                result
            });
        self.reporter.report(&Event::TargetDone { target });
        outcome
    }

    /// Gives every held lease back; a stale token (taken over meanwhile)
    /// has nothing to give back.
    async fn release_all(&self) {
        let held = std::mem::take(
            &mut *self
                .held
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        );
        for (target, (token, renewer)) in held {
            renewer.abort();
            let _ = store_call(|| self.store.release_lease(&target, token)).await;
        }
    }

    async fn keep_renewing(&self, target: &Target, token: u64) {
        let ttl = i64::try_from(self.config.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        loop {
            tokio::time::sleep(self.config.lease_ttl / 3).await;
            let now = self.clock.now_ms();
            if let Err(error) = store_call(|| self.store.renew_lease(target, token, ttl, now)).await
            {
                tracing::warn!("renewing the lease on {target}: {error}");
            }
        }
    }

    async fn work_leased(
        &self,
        snapshot: &Snapshot,
        target: &Target,
        works: Vec<(RowId, Work)>,
        token: u64,
    ) -> Result<TargetResult, EngineError> {
        let ids: BTreeMap<Name, RowId> = works
            .iter()
            .map(|(id, work)| (work.package.clone(), *id))
            .collect();
        let ordered = order_on_target(
            works.into_iter().map(|(_, work)| work).collect(),
            &snapshot.depends_on,
        );
        self.reporter.report(&Event::TargetStarted {
            target: target.clone(),
            stages: ordered.len(),
        });
        let role = snapshot.cluster.role_of(target)?;
        // Where each stage begins: after the steps an earlier attempt cut
        // short had passed (read before anything runs, so an install that
        // passed already joins no batch).
        let mut resumes: BTreeMap<Name, Resume> = BTreeMap::new();
        for work in &ordered {
            let Some(id) = ids.get(&work.package).copied() else {
                continue;
            };
            let earlier = store_call(|| self.store.last_attempt(id)).await?;
            resumes.insert(work.package.clone(), resume(work, earlier.as_ref()));
        }
        let fresh: Vec<Work> = ordered
            .iter()
            .filter(|work| resumes.get(&work.package).is_none_or(|r| r.start == 0))
            .cloned()
            .collect();
        let batched = self.actor.batch(&fresh).await;
        let mut result = TargetResult::default();
        // Related and package-manager stages go one after another in
        // dependency order; when the site opted in, the rest (script-only
        // stages of unrelated opkgs) then run up to `jobs` at a time.
        // Opted out, nothing is free and every stage goes in `ordered`'s
        // order, one at a time, as OSCAR's scripts expect.
        let free = if self.config.side_by_side {
            side_by_side(&ordered, &snapshot.depends_on)
        } else {
            BTreeSet::new()
        };
        let (parallel, serial): (Vec<Work>, Vec<Work>) = ordered
            .into_iter()
            .partition(|work| free.contains(&work.package));
        // Set once a side-by-side stage met infrastructure trouble: the
        // stages not yet begun are left for a later run, while the ones
        // under way finish and are recorded rather than being cut short.
        let broken = AtomicBool::new(false);
        let one = |work: Work| {
            let role = &role;
            let batched = &batched;
            let ids = &ids;
            let broken = &broken;
            let resumes = &resumes;
            async move {
                if broken.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                let Some(id) = ids.get(&work.package).copied() else {
                    return Ok(None);
                };
                let Some(stored) = snapshot.mine.iter().find(|s| s.id == id) else {
                    return Ok(None);
                };
                let attempt = snapshot.next_attempt(id, work.stage);
                let start = resumes
                    .get(&work.package)
                    .cloned()
                    .unwrap_or_else(Resume::whole);
                let run = StageRun {
                    row: &stored.row,
                    role,
                    work: &work,
                    attempt,
                };
                let end = self
                    .perform(snapshot, stored, run, token, &start, batched)
                    .await?;
                Ok::<_, EngineError>(Some((id, stored, work, end)))
            }
        };
        let mut ends = Vec::new();
        for work in serial {
            ends.push(one(work).await?);
        }
        let mut running = futures_util::stream::iter(parallel.into_iter().map(one))
            .buffer_unordered(self.config.jobs.max(1));
        let mut trouble = None;
        while let Some(end) = running.next().await {
            match end {
                Ok(end) => ends.push(end),
                Err(error) => {
                    broken.store(true, Ordering::Relaxed);
                    trouble.get_or_insert(error);
                }
            }
        }
        if let Some(error) = trouble {
            return Err(error);
        }
        for (id, stored, work, end) in ends.into_iter().flatten() {
            result.progressed = true;
            match end {
                StageEnd::Passed => result.passed += 1,
                StageEnd::Failed => result.failed += 1,
                StageEnd::Moved(reason) => result.refused.push((
                    id,
                    work,
                    Waiting {
                        row: stored.row.to_string(),
                        reason,
                    },
                )),
                StageEnd::Deferred(reason) => result.deferred.push((
                    id,
                    Waiting {
                        row: stored.row.to_string(),
                        reason,
                    },
                )),
            }
        }
        Ok(result)
    }

    /// Performs one stage: begins its attempt, carries the steps `resume`
    /// says passed already, runs the others in order (each recorded as it
    /// starts and as it ends), and ends the attempt with the row's change.
    async fn perform(
        &self,
        snapshot: &Snapshot,
        stored: &StoredRow,
        run: StageRun<'_>,
        token: u64,
        resume: &Resume,
        batched: &BTreeSet<Name>,
    ) -> Result<StageEnd, EngineError> {
        let row = &stored.row;
        let work = run.work;
        let now = self.clock.now_ms();
        let attempt_id = match store_call(|| {
            self.store.begin_attempt(stored.id, work.stage, token, now)
        })
        .await
        {
            Ok(id) => id,
            // Another worker did it while this one waited for the lease:
            // the next round decides on fresh rows.
            Err(error @ StoreError::RowMoved { .. }) => {
                return Ok(StageEnd::Moved(error.to_string()));
            }
            Err(error) => return Err(error.into()),
        };
        self.reporter.report(&Event::StageStarted {
            row: row.to_string(),
            stage: work.stage,
        });
        let mut output = Output::new();
        if let Some(note) = steps::note(work.interrupted, resume) {
            output.push_str(&note);
        }
        let carried = steps::carried(resume, now);
        if !carried.is_empty() {
            store_call(|| self.store.record_steps(attempt_id, &carried, token)).await?;
        }
        let mut failure = None;
        for (index, action) in work.actions.iter().enumerate().skip(resume.start) {
            let step = action.describe(&work.package);
            output.push_str(&format!("== {step}\n"));
            // Recorded before it runs: a crash from here on runs it again.
            let begun = steps::started(index, step.clone(), self.clock.now_ms());
            store_call(|| {
                self.store
                    .record_steps(attempt_id, std::slice::from_ref(&begun), token)
            })
            .await?;
            let mut step_output = Output::new();
            // Read per script: settling the configuration earlier in the
            // stage changes what later scripts get.
            let values = match action {
                Action::RunScript { .. } => self.config_values(row).await,
                _ => Ok(BTreeMap::new()),
            };
            let done = match values {
                Err(failed) => Err(failed),
                Ok(values) => match self
                    .actor
                    .step(run, index, &values, batched, &mut step_output)
                    .await
                {
                    Some(done) => done,
                    None if matches!(action, Action::SettleConfiguration) => {
                        self.settle(row, &mut step_output).await.map(|()| None)
                    }
                    None => self
                        .assign(snapshot, &work.package, &mut step_output)
                        .await
                        .map(|()| None),
                },
            };
            output.append(&step_output);
            // Recorded as soon as it ends: only a crash between the two
            // runs a completed step again.
            let end = steps::ended(&begun, &done, step_output, self.clock.now_ms());
            store_call(|| {
                self.store
                    .record_steps(attempt_id, std::slice::from_ref(&end), token)
            })
            .await?;
            if let Err(mut failed) = done {
                failed.message = format!("{step} failed: {}", failed.message);
                failure = Some(failed);
                break;
            }
        }
        let now = self.clock.now_ms();
        let deferred = failure
            .as_ref()
            .filter(|failure| failure.transient)
            .map(|failure| failure.message.clone());
        let (outcome, after) = act::conclude(row, work, output, failure);
        store_call(|| {
            self.store
                .finish_attempt(attempt_id, &outcome, &after, token, now)
        })
        .await?;
        if let Some(reason) = deferred {
            self.reporter.report(&Event::Waiting {
                reason: format!("{row}: {reason}"),
            });
            return Ok(StageEnd::Deferred(reason));
        }
        match &after.error {
            None => self.reporter.report(&Event::StagePassed {
                row: row.to_string(),
                stage: work.stage,
            }),
            Some(message) => self.reporter.report(&Event::StageFailed {
                row: row.to_string(),
                stage: work.stage,
                message: message.clone(),
            }),
        }
        Ok(if outcome.passed {
            StageEnd::Passed
        } else {
            StageEnd::Failed
        })
    }

    /// The configuration values a script of `row` gets (SPEC §1.8).
    async fn config_values(&self, row: &Row) -> Result<BTreeMap<String, String>, Failure> {
        let image = match row.target.kind {
            TargetKind::Image => Some(&row.target.name),
            TargetKind::Node => None,
        };
        store_call(|| self.store.config_values(&row.package, image))
            .await
            .map(|values| values.into_iter().collect())
            .map_err(|error| Failure {
                message: format!("reading the configuration values: {error}"),
                ..store_failure(error)
            })
    }

    async fn settle(&self, row: &Row, output: &mut Output) -> Result<(), Failure> {
        let dir = self
            .config
            .own_root
            .join(PACKAGES_DIR)
            .join(row.package.as_str());
        let form = dir.join("configurator.html");
        let fields = if form.exists() {
            opm_opkg::Configurator::from_path(&form)
                .map_err(|error| Failure::terminal(error.to_string()))?
        } else {
            Vec::new()
        };
        let admin: BTreeMap<String, String> =
            store_call(|| self.store.config_values(&row.package, None))
                .await
                .map_err(store_failure)?
                .into_iter()
                .collect();
        let values = config_values::settle(&fields, &admin);
        for (name, value) in &values {
            if !admin.contains_key(name) {
                store_call(|| self.store.config_set(&row.package, None, name, value))
                    .await
                    .map_err(store_failure)?;
            }
        }
        let path = dir.join(config_values::VALUES_FILE);
        let file = config_values::render(&values, &fields)
            .map_err(|error| Failure::terminal(format!("writing {}: {error}", path.display())))?;
        std::fs::create_dir_all(&dir)
            .and_then(|()| config_values::write_values(&dir, &file.text))
            .map_err(|error| Failure::terminal(format!("writing {}: {error}", path.display())))?;
        output.push_str(&config_values::listing(&values));
        for name in &file.left_out {
            output.push_str(&format!(
                "'{name}' is not an XML name: left out of {}, scripts get it as {}\n",
                path.display(),
                opm_native::script::env::config_variable(name)
                    .unwrap_or_else(|_| "no variable".to_owned())
            ));
        }
        Ok(())
    }

    async fn assign(
        &self,
        snapshot: &Snapshot,
        package: &Name,
        output: &mut Output,
    ) -> Result<(), Failure> {
        let now = self.clock.now_ms();
        for change in snapshot.cluster.assign_clients(package) {
            store_call(|| {
                self.store
                    .request(&change.target, &change.package, change.requested, now)
            })
            .await
            .map_err(store_failure)?;
            output.push_str(&format!("{change}\n"));
        }
        Ok(())
    }
}

fn store_failure(error: StoreError) -> Failure {
    Failure {
        transient: error.is_transient(),
        ..Failure::terminal(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_exit_code_table() {
        let mut report = RunReport::default();
        assert_eq!(report.verdict(), Verdict::Converged);
        report.blocked.push(Waiting {
            row: "node head / a".to_owned(),
            reason: "gate".to_owned(),
        });
        assert_eq!(report.verdict(), Verdict::Blocked);
        report.failed = 1;
        assert_eq!(report.verdict(), Verdict::Failed);
        report.failed = 0;
        report.errors.push(Waiting {
            row: "node head / b".to_owned(),
            reason: "x".to_owned(),
        });
        assert_eq!(report.verdict(), Verdict::Failed);
    }

    /// Issue 16, HIGH 2: a row the store keeps refusing is left alone,
    /// with the reason, instead of being decided again forever.
    #[test]
    fn a_stage_refused_twice_leaves_the_row_alone_and_says_why() {
        let work = |stage| Work {
            package: Name::new(opm_model::NameKind::Opkg, "pp").unwrap(),
            stage,
            actions: Vec::new(),
            interrupted: true,
            version: None,
            upgrade_from: None,
        };
        let refused = || Waiting {
            row: "node head / pp".to_owned(),
            reason: "node head / pp has moved on".to_owned(),
        };
        let mut refusals = Refusals::default();
        let (one, two) = (RowId(1), RowId(2));
        let uninstall = work(opm_model::Stage::ShouldNotBeInstalled);
        let up = work(opm_model::Stage::ShouldBeInstalled);
        // Once: the row moved on; it is decided again.
        assert_eq!(refusals.note(one, &uninstall, refused()), None);
        // Another row, or another stage of the same row, starts anew.
        assert_eq!(refusals.note(two, &uninstall, refused()), None);
        assert_eq!(refusals.note(one, &up, refused()), None);
        assert_eq!(refusals.note(one, &uninstall, refused()), None);
        let left = refusals.note(one, &uninstall, refused()).unwrap();
        assert_eq!(left.row, "node head / pp");
        assert!(
            left.reason
                .starts_with("the store refused the uninstall 2 times in this run")
                && left.reason.contains("node head / pp has moved on")
                && left.reason.contains("opm plan"),
            "{}",
            left.reason
        );
    }
}
