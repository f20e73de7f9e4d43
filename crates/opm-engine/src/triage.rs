//! The sorting of the planner's decisions for a set of rows into what to
//! do (work, releases, request changes) and what to report (errors,
//! blocked rows), shared by the engine's rounds and the agents' work
//! handler so both word a waiting row the same way.

use opm_model::api::Waiting;
use opm_model::{Row, Target};
use opm_plan::{Blocked, Cluster, Decision, PlanError, RequestChange, Work};

use crate::clock::time_of_day;

/// The decisions of a set of rows, sorted; `I` identifies a row (its
/// store id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triage<I> {
    /// Stages to perform, each with its row and target, in row order.
    pub works: Vec<(I, Target, Work)>,
    /// Rows left running by a dead attempt whose work is no longer wanted.
    pub releases: Vec<(I, Target)>,
    /// Request changes the head node's orchestration asks for.
    pub requests: Vec<RequestChange>,
    /// Rows in error, waiting for an operator.
    pub errors: Vec<Waiting>,
    /// Rows blocked on something else.
    pub blocked: Vec<Waiting>,
    /// Whether some row waits for another live owner's lease (worth
    /// waiting for, unlike a gate).
    pub leased: bool,
}

impl<I> Default for Triage<I> {
    fn default() -> Self {
        Triage {
            works: Vec::new(),
            releases: Vec::new(),
            requests: Vec::new(),
            errors: Vec::new(),
            blocked: Vec::new(),
            leased: false,
        }
    }
}

/// Decides each of `rows` over `cluster` at `now_ms` and sorts the
/// decisions.
///
/// # Errors
/// A row the planner cannot place.
pub fn triage<'a, I: 'a>(
    cluster: &Cluster,
    rows: impl IntoIterator<Item = (I, &'a Row)>,
    now_ms: i64,
) -> Result<Triage<I>, PlanError> {
    let mut sorted = Triage::default();
    for (id, row) in rows {
        match cluster.decide(row, now_ms)? {
            Decision::Perform(work) => sorted.works.push((id, row.target.clone(), work)),
            Decision::Release { .. } => sorted.releases.push((id, row.target.clone())),
            Decision::Request { changes } => sorted.requests.extend(changes),
            Decision::Blocked(Blocked::Error { message }) => sorted.errors.push(Waiting {
                row: row.to_string(),
                reason: message,
            }),
            Decision::Blocked(Blocked::Leased {
                owner,
                expires_at_ms,
            }) => {
                sorted.leased = true;
                sorted.blocked.push(Waiting {
                    row: row.to_string(),
                    reason: format!(
                        "{} is being worked by {owner} until {}",
                        row.target,
                        time_of_day(expires_at_ms)
                    ),
                });
            }
            Decision::Blocked(reason) => sorted.blocked.push(Waiting {
                row: row.to_string(),
                reason: reason.to_string(),
            }),
            Decision::Idle(_) => {}
        }
    }
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use opm_model::{Lease, Name, NameKind, Phase, Stage, Status};

    use super::*;

    fn row(node: &str, package: &str, current: Stage, requested: Stage, status: Status) -> Row {
        Row {
            target: Target::node(Name::new(NameKind::Node, node).unwrap()),
            package: Name::new(NameKind::Opkg, package).unwrap(),
            requested,
            current: Some(current),
            status,
            version: opm_model::RowVersion::default(),
        }
    }

    #[test]
    fn each_kind_of_decision_lands_in_its_own_list() {
        let head = Name::new(NameKind::Node, "head").unwrap();
        let mut cluster = Cluster::new(head, Phase::Complete);
        let n1 = Name::new(NameKind::Node, "n1").unwrap();
        cluster.nodes.insert(n1, Default::default());
        let lease = |expires_at_ms| Lease {
            owner: "other:1:2".to_owned(),
            token: 1,
            expires_at_ms,
        };
        let rows = [
            row(
                "n1",
                "aa",
                Stage::ShouldNotBeInstalled,
                Stage::Finished,
                Status::Ok,
            ),
            row(
                "n1",
                "bb",
                Stage::ShouldNotBeInstalled,
                Stage::Finished,
                Status::Error {
                    message: "boom".to_owned(),
                },
            ),
            row(
                "n1",
                "cc",
                Stage::ShouldNotBeInstalled,
                Stage::Finished,
                Status::Running {
                    lease: lease(60_000),
                },
            ),
            row("n1", "dd", Stage::Finished, Stage::Finished, Status::Ok),
            row(
                "n1",
                "ee",
                Stage::Finished,
                Stage::Finished,
                Status::Running { lease: lease(10) },
            ),
        ];
        for stored in &rows {
            cluster.upsert(stored.clone());
        }
        let sorted = triage(&cluster, rows.iter().enumerate(), 1_000).unwrap();
        let ids: Vec<usize> = sorted.works.iter().map(|(id, _, _)| *id).collect();
        assert_eq!(ids, [0]);
        assert_eq!(sorted.works[0].2.stage, Stage::ShouldBeInstalled);
        assert_eq!(sorted.releases.len(), 1);
        assert_eq!(sorted.releases[0].0, 4);
        assert_eq!(sorted.errors.len(), 1);
        assert_eq!(sorted.errors[0].reason, "boom");
        assert!(sorted.leased);
        assert_eq!(sorted.blocked.len(), 1);
        assert_eq!(
            sorted.blocked[0].reason,
            "node n1 is being worked by other:1:2 until 00:01:00 UTC"
        );
        assert!(sorted.requests.is_empty());
    }
}
