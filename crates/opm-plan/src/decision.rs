//! [`decide`]: the rules of one pass over one row (SPEC §1.3), and the
//! [`Decision`] they produce.

use std::fmt;

use opm_model::{Name, Phase, Row, Stage, Status, Target};
use serde::Serialize;

use crate::actions::{
    Action, ImageRef, RowRole, stage_actions, uninstall_actions, upgrade_actions,
};
use crate::context::Context;
use crate::cycle::Cycle;
use crate::deps::{dependency_blocker, dependents_verdict};
use crate::orchestrate::{RequestChange, request_down};
use opm_model::{Step, Unfinished, legal_step};

/// What to do with a row now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Perform one stage: carry out its actions in order, then record it.
    Perform(Work),
    /// Change other rows' `requested` first (orchestration), then decide
    /// this row again.
    Request {
        /// The changes, in a stable order.
        changes: Vec<RequestChange>,
    },
    /// A crashed attempt's lease has expired and the row needs no more
    /// work (its request changed meanwhile): set its status back to ok and
    /// record the attempt as interrupted.
    Release {
        /// The owner of the expired lease.
        owner: String,
    },
    /// Nothing to do.
    Idle(Idle),
    /// Something has to happen elsewhere first.
    Blocked(Blocked),
}

/// One stage to perform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Work {
    /// The row's opkg (names the native packages of the actions).
    pub package: Name,
    /// The stage performed, and the row's `current` once it succeeds:
    /// `should_not_be_installed` for the uninstall path.
    pub stage: Stage,
    /// The steps, in order; empty for a stage this role does nothing at.
    pub actions: Vec<Action>,
    /// Whether an earlier attempt at this stage was interrupted (its lease
    /// expired), so history can say so.
    pub interrupted: bool,
    /// The opkg version the stage installs and is recorded with (SPEC
    /// §1.9): the row's work version; `None` when no version is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// For a stage of an upgrade: the version it started from
    /// (`OPM_UPGRADE_FROM`; `version` is `OPM_UPGRADE_TO`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_from: Option<String>,
}

impl Work {
    /// Whether this is the uninstall path rather than a step up.
    pub fn is_uninstall(&self) -> bool {
        self.stage == Stage::ShouldNotBeInstalled
    }

    /// The upgrade this stage belongs to, as (from, to).
    pub fn upgrade(&self) -> Option<(&str, &str)> {
        Some((self.upgrade_from.as_deref()?, self.version.as_deref()?))
    }
}

/// Why nothing needs doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "idle", rename_all = "snake_case")]
pub enum Idle {
    /// `requested == current`.
    Converged {
        /// The stage the row is at.
        stage: Stage,
    },
    /// `current` is past `requested`; nothing is undone.
    Ahead {
        /// The row's current stage.
        current: Stage,
        /// The row's requested stage.
        requested: Stage,
    },
}

/// What another row looks like, as a blocked reason reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// Its current stage (`None`: unknown, counts as the first).
    pub current: Option<Stage>,
    /// Its requested stage.
    pub requested: Stage,
    /// Whether it is in error, waiting for an operator.
    pub error: bool,
}

impl Seen {
    /// What `row` looks like.
    pub fn of(row: &Row) -> Seen {
        Seen {
            current: row.current,
            requested: row.requested,
            error: matches!(row.status, Status::Error { .. }),
        }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.current {
            Some(current) => write!(f, "it is at {current}")?,
            None => f.write_str("its current stage is unknown")?,
        }
        write!(f, ", requested {}", self.requested)?;
        if self.error {
            f.write_str(", in error: it waits for an operator")?;
        }
        Ok(())
    }
}

/// Why a row cannot move now; each names what it waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "blocked", rename_all = "snake_case")]
pub enum Blocked {
    /// The stage's gate is not open in the current phase (SPEC §1.2).
    Gate {
        /// The stage that would run next.
        stage: Stage,
        /// Its gate.
        gate: Phase,
        /// The cluster's phase now.
        phase: Phase,
    },
    /// The row is in error and waits for an operator (SPEC §1.3 rule 1).
    Error {
        /// What failed.
        message: String,
    },
    /// The row's packages drifted from what it records (SPEC §1.9): it is
    /// not finished, and what brings it back is a repair (`opm repair`),
    /// not the next stage of the ladder.
    Drifted {
        /// What differs.
        message: String,
    },
    /// Somebody holds a live lease on the row.
    Leased {
        /// The lease holder.
        owner: String,
        /// When the lease lapses, in ms since the epoch.
        expires_at_ms: i64,
    },
    /// The server's post-image waits for an image row (SPEC §1.4).
    Image {
        /// The image.
        image: Name,
        /// The opkg.
        package: Name,
        /// The image row.
        seen: Seen,
    },
    /// An opkg this one depends on has not passed the stage on this target.
    Dependency {
        /// The opkg depended on.
        package: Name,
        /// The stage it has to pass first.
        stage: Stage,
        /// Its row on this target; `None` when it has none.
        seen: Option<Seen>,
    },
    /// The opkg depends, directly or not, on a dependency cycle: no row of
    /// the cycle can ever go first, so it would wait forever.
    Cycle {
        /// The cycle, from an opkg back to itself.
        cycle: Cycle,
    },
    /// Uninstall refused: an opkg that depends on this one is installed or
    /// requested on this target.
    DependentWanted {
        /// The dependent opkg.
        package: Name,
        /// Its row on this target.
        seen: Seen,
    },
    /// Uninstall waits for a dependent opkg to be uninstalled first.
    DependentRemoving {
        /// The dependent opkg.
        package: Name,
        /// Its row on this target.
        seen: Seen,
    },
    /// A rollout has not started the row's node yet (SPEC §1.10): what
    /// `opm_plan::held_reason` tells it.
    Rollout {
        /// Why, with the rollout and the node's batch.
        reason: String,
    },
    /// The server's uninstall waits for the client and image rows.
    Uninstall {
        /// The first row waited for.
        target: Target,
        /// The opkg.
        package: Name,
        /// That row.
        seen: Seen,
        /// How many more rows are waited for.
        others: usize,
    },
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocked::Gate { stage, gate, phase } => write!(
                f,
                "gate {gate} of {stage} is not open while the phase is {phase}"
            ),
            Blocked::Rollout { reason } => f.write_str(reason),
            Blocked::Error { message } => write!(
                f,
                "in error, waiting for an operator (opm retry): {message}"
            ),
            Blocked::Drifted { message } => {
                write!(f, "drifted, waiting for a repair (opm repair): {message}")
            }
            Blocked::Leased {
                owner,
                expires_at_ms,
            } => write!(
                f,
                "held by a live lease of {owner} (expires at {expires_at_ms} ms)"
            ),
            Blocked::Image {
                image,
                package,
                seen,
            } => write!(
                f,
                "waiting for image {image} / {package} to complete {} ({seen})",
                Stage::InstallBinPkgs
            ),
            Blocked::Dependency {
                package,
                stage,
                seen,
            } => {
                write!(
                    f,
                    "waiting for opkg {package} on this target to complete {stage} ("
                )?;
                match seen {
                    Some(seen) => write!(f, "{seen})"),
                    None => write!(f, "it has no row here; request {package} too)"),
                }
            }
            Blocked::Cycle { cycle } => write!(
                f,
                "the opkgs' dependencies form a cycle ({cycle}): none of them can go first; \
                 drop one of the requires, re-import, then opm retry"
            ),
            Blocked::DependentWanted { package, seen } => write!(
                f,
                "uninstall refused: opkg {package} on this target depends on it ({seen}); \
                 remove {package} first or remove with its dependents"
            ),
            Blocked::DependentRemoving { package, seen } => write!(
                f,
                "waiting for opkg {package}, which depends on it, to be uninstalled on this target ({seen})"
            ),
            Blocked::Uninstall {
                target,
                package,
                seen,
                others,
            } => {
                write!(
                    f,
                    "waiting for {target} / {package} to be uninstalled first ({seen})"
                )?;
                if *others > 0 {
                    write!(f, " and {others} more")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Idle::Converged { stage } => write!(f, "converged at {stage}"),
            Idle::Ahead { current, requested } => write!(
                f,
                "ahead of request: at {current}, requested {requested}; nothing is undone \
                 (opm rerun runs stages again)"
            ),
        }
    }
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_uninstall() {
            f.write_str("uninstall")?;
        } else {
            write!(f, "perform {}", self.stage)?;
        }
        if let Some((from, to)) = self.upgrade() {
            write!(f, " (upgrade from {from} to {to})")?;
        }
        if self.interrupted {
            f.write_str(" again (the last attempt was interrupted)")?;
        }
        if self.actions.is_empty() {
            return f.write_str(": nothing to run, recorded as passed");
        }
        let steps: Vec<String> = self
            .actions
            .iter()
            .map(|action| action.describe(&self.package))
            .collect();
        write!(f, ": {}", steps.join(", "))
    }
}

impl fmt::Display for Decision {
    /// One line per row, as `opm plan` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Perform(work) => work.fmt(f),
            Decision::Request { changes } => {
                let changes: Vec<String> = changes.iter().map(ToString::to_string).collect();
                write!(f, "orchestrate: {}", changes.join(", "))
            }
            Decision::Release { owner } => write!(
                f,
                "release: the interrupted attempt of {owner} is no longer needed"
            ),
            Decision::Idle(idle) => write!(f, "idle: {idle}"),
            Decision::Blocked(blocked) => write!(f, "blocked: {blocked}"),
        }
    }
}

/// Decides what to do with `row` now (SPEC §1.3): skip an error row, respect
/// a live lease, then walk the ladder one stage, subject to the gates and
/// the cross-row rules.
pub fn decide(row: &Row, context: &Context) -> Decision {
    let (interrupted, stale_owner) = match &row.status {
        Status::Error { message } => {
            return Decision::Blocked(Blocked::Error {
                message: message.clone(),
            });
        }
        Status::Running { lease } if !lease.expired(context.now_ms) => {
            return Decision::Blocked(Blocked::Leased {
                owner: lease.owner.clone(),
                expires_at_ms: lease.expires_at_ms,
            });
        }
        // Drift is found by `opm verify`; until a repair requests the
        // stages that bring the row back it is not finished, and no stage
        // of the ladder runs on it. A drifted row requested down takes the
        // uninstall path as any other (removing what drifted away already
        // is no error), so a removal never waits for a repair first.
        Status::Drifted { message } if row.requested != Stage::ShouldNotBeInstalled => {
            return Decision::Blocked(Blocked::Drifted {
                message: message.clone(),
            });
        }
        Status::Drifted { .. } => (false, None),
        Status::Running { lease } => (true, Some(&lease.owner)),
        Status::Ok => (false, None),
    };
    let idle = |idle| match stale_owner {
        Some(owner) => Decision::Release {
            owner: owner.clone(),
        },
        None => Decision::Idle(idle),
    };
    // The ladder the store admits attempts by: decided here from the same
    // function, so the store never refuses what the planner decides.
    match legal_step(row.current, row.requested, context.unfinished) {
        Step::Uninstall
            if context.unfinished == Some(Unfinished::Uninstall)
                && row.requested > Stage::ShouldNotBeInstalled =>
        {
            // Requested up again after a cut-short uninstall: which parts
            // are still in place is unknown, so finish removing them (no
            // fan-out, no dependents check: the opkg is coming back) and
            // climb from the bottom.
            Decision::Perform(Work {
                package: row.package.clone(),
                stage: Stage::ShouldNotBeInstalled,
                actions: uninstall_actions(&context.role),
                interrupted,
                version: None,
                upgrade_from: None,
            })
        }
        // Includes a failed first install (opkg-<p> in, a script failed):
        // `current` is at the bottom with a package in place.
        Step::Uninstall => uninstall(row, context, interrupted),
        Step::Converged => idle(Idle::Converged {
            stage: row.effective_current(),
        }),
        Step::Ahead => idle(Idle::Ahead {
            current: row.effective_current(),
            requested: row.requested,
        }),
        Step::Up(stage) => step_up(row, context, stage, interrupted),
    }
}

/// Why `stage` may not run while the cluster is in `phase` (SPEC §1.2),
/// or `None` when its gate is open. The server checks a stage an agent
/// starts with it too, so no report can skip a gate.
pub fn gate_blocker(stage: Stage, phase: Phase) -> Option<Blocked> {
    let gate = stage.gate()?;
    (!phase.opens(gate)).then_some(Blocked::Gate { stage, gate, phase })
}

fn step_up(row: &Row, context: &Context, stage: Stage, interrupted: bool) -> Decision {
    if let Some(blocked) = gate_blocker(stage, context.phase) {
        return Decision::Blocked(blocked);
    }
    if let Some(blocked) = dependency_blocker(stage, &context.dependencies) {
        return Decision::Blocked(blocked);
    }
    let mut images: Vec<ImageRef> = Vec::new();
    if context.role == RowRole::Server && stage == Stage::RunScriptPostImage {
        // Images that still want the opkg; one being uninstalled does not
        // "have" it any more.
        let mut wanting: Vec<_> = context
            .images
            .iter()
            .filter(|image| image.row.requested > Stage::ShouldNotBeInstalled)
            .collect();
        wanting.sort_by(|a, b| a.image.name.cmp(&b.image.name));
        if let Some(waiting) = wanting
            .iter()
            .find(|image| image.row.effective_current() < Stage::InstallBinPkgs)
        {
            return Decision::Blocked(Blocked::Image {
                image: waiting.image.name.clone(),
                package: row.package.clone(),
                seen: Seen::of(&waiting.row),
            });
        }
        images = wanting
            .into_iter()
            .map(|image| image.image.clone())
            .collect();
    }
    let actions = if row.version.upgrade().is_some() {
        upgrade_actions(&context.role, stage, &images)
    } else {
        stage_actions(&context.role, stage, &images)
    };
    Decision::Perform(Work {
        package: row.package.clone(),
        stage,
        actions,
        interrupted,
        version: row.version.work.clone(),
        upgrade_from: row.version.upgrade_from.clone(),
    })
}

fn uninstall(row: &Row, context: &Context, interrupted: bool) -> Decision {
    if let Some(decision) = dependents_verdict(context) {
        return decision;
    }
    if context.role == RowRole::Server {
        let mut others: Vec<&Row> = context
            .clients
            .iter()
            .chain(context.images.iter().map(|image| &image.row))
            .collect();
        let changes = request_down(others.iter().copied());
        if !changes.is_empty() {
            return Decision::Request { changes };
        }
        others.retain(|other| other.effective_current() > Stage::ShouldNotBeInstalled);
        others.sort_by(|a, b| a.target.cmp(&b.target));
        if let Some(first) = others.first() {
            return Decision::Blocked(Blocked::Uninstall {
                target: first.target.clone(),
                package: row.package.clone(),
                seen: Seen::of(first),
                others: others.len() - 1,
            });
        }
    }
    Decision::Perform(Work {
        package: row.package.clone(),
        stage: Stage::ShouldNotBeInstalled,
        actions: uninstall_actions(&context.role),
        interrupted,
        version: None,
        upgrade_from: None,
    })
}
