//! `opm upgrade` as a use-case over the store (SPEC §1.9): which rows the
//! operator named, what `opm_plan::upgrade_verdict` says of each, and the
//! one transaction that starts the upgrades. A downgrade without
//! `--allow-downgrade` refuses the whole request and changes nothing. The
//! stages themselves run as any other, in `opm run`, the server and the
//! agents.

use std::collections::{BTreeMap, BTreeSet};

use opm_model::{Name, RolloutPolicy, Target, TargetKind};
use opm_plan::{UpgradeVerdict, upgrade_verdict, with_dependencies};
use opm_store::{RowUpgrade, Store, StoreError};
use serde::Serialize;

use crate::rollout;

/// Which targets an upgrade covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpgradeScope {
    /// The head node, every image and every node.
    All,
    /// One node (the head node included).
    Node(Name),
    /// One image.
    Image(Name),
    /// The nodes of one group.
    Group(Name),
}

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The opkgs named; none names every imported opkg. The opkgs they
    /// depend on are covered too.
    pub packages: Vec<Name>,
    /// The targets.
    pub scope: UpgradeScope,
    /// Whether a wanted version older than a row's may be installed.
    pub allow_downgrade: bool,
    /// How the upgrades of nodes are spread out (SPEC §1.10).
    pub rollout: RolloutPolicy,
}

/// One row's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpgradeLine {
    /// The row's target.
    pub target: Target,
    /// The opkg.
    pub package: Name,
    /// What happens to it.
    pub verdict: UpgradeVerdict,
}

/// What `opm upgrade` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpgradeReport {
    /// Every covered row's verdict, by opkg and target.
    pub rows: Vec<UpgradeLine>,
    /// Rows set back to run the upgrade.
    pub started: usize,
    /// Rows that moved between the read and the write and were left as
    /// they are.
    pub moved: usize,
    /// Whether a downgrade refused the request (nothing was started).
    pub refused: bool,
    /// Why the rollout asked for refused the request (nothing was started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_refused: Option<String>,
    /// The rollout that spreads the nodes' upgrades out, if one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<i64>,
}

impl UpgradeReport {
    /// The rows whose upgrade was refused as a downgrade.
    pub fn downgrades(&self) -> impl Iterator<Item = &UpgradeLine> {
        self.rows
            .iter()
            .filter(|line| matches!(line.verdict, UpgradeVerdict::Downgrade { .. }))
    }

    /// Why nothing was started, when a downgrade refused the request.
    pub fn refusal(&self) -> Option<String> {
        if let Some(refusal) = &self.rollout_refused {
            return Some(refusal.clone());
        }
        if !self.refused {
            return None;
        }
        let rows: Vec<String> = self
            .downgrades()
            .map(|line| format!("{} / {}", line.target, line.package))
            .collect();
        Some(format!(
            "nothing upgraded: a downgrade is refused for {}; pass --allow-downgrade to go to \
             the older version, or 'opm opkg unpin' it",
            rows.join(", ")
        ))
    }
}

/// Decides every covered row's upgrade and starts those that may go, in
/// one transaction; refuses them all when one would be a downgrade the
/// operator did not allow.
///
/// # Errors
/// The store's: an unknown opkg, node, image or group is bad input.
pub async fn upgrade<S: Store>(
    store: &S,
    request: &UpgradeRequest,
    now_ms: i64,
) -> Result<UpgradeReport, StoreError> {
    let opkgs = store.opkgs().await?;
    let known: BTreeSet<&Name> = opkgs.iter().map(|opkg| &opkg.import.name).collect();
    for named in &request.packages {
        if !known.contains(named) {
            return Err(StoreError::UnknownOpkg {
                name: named.to_string(),
            });
        }
    }
    let depends_on: BTreeMap<Name, BTreeSet<Name>> = opkgs
        .iter()
        .map(|opkg| {
            (
                opkg.import.name.clone(),
                opkg.import.depends.iter().cloned().collect(),
            )
        })
        .collect();
    let wanted: BTreeMap<&Name, &str> = opkgs
        .iter()
        .filter(|opkg| !opkg.wanted_version.is_empty())
        .map(|opkg| (&opkg.import.name, opkg.wanted_version.as_str()))
        .collect();
    let named: BTreeSet<Name> = if request.packages.is_empty() {
        known.into_iter().cloned().collect()
    } else {
        request.packages.iter().cloned().collect()
    };
    let covered: Vec<Name> = with_dependencies(&named, &depends_on)
        .into_iter()
        .filter(|package| depends_on.contains_key(package))
        .collect();
    let mut report = UpgradeReport::default();
    let refusal = match request.rollout.check() {
        Err(refusal) => Some(refusal),
        Ok(()) => rollout::busy_refusal(&rollout::unfinished(store, &covered, now_ms).await?),
    };
    if refusal.is_some() {
        report.rollout_refused = refusal;
        return Ok(report);
    }
    let in_scope = scope_filter(store, &request.scope).await?;
    let mut rows = store.rows_for_opkgs(&covered).await?;
    rows.retain(|stored| in_scope(&stored.row.target));
    rows.sort_by(|a, b| (&a.row.package, &a.row.target).cmp(&(&b.row.package, &b.row.target)));
    let mut starts = Vec::new();
    for stored in rows {
        let verdict = upgrade_verdict(
            &stored.row,
            wanted.get(&stored.row.package).copied(),
            request.allow_downgrade,
        );
        if let UpgradeVerdict::Start { to, .. } = &verdict {
            starts.push(RowUpgrade {
                row: stored.id,
                to: to.clone(),
            });
        }
        report.rows.push(UpgradeLine {
            target: stored.row.target,
            package: stored.row.package,
            verdict,
        });
    }
    if report.downgrades().next().is_some() {
        report.refused = true;
        return Ok(report);
    }
    if !starts.is_empty() {
        let started = store.start_upgrades(&starts, now_ms).await?;
        report.started = started.len();
        report.moved = starts.len() - started.len();
    }
    // The compute nodes set back, in name order: the rollout's members.
    let head = store.head_node().await?;
    let mut members: Vec<Name> = report
        .rows
        .iter()
        .filter(|line| {
            matches!(line.verdict, UpgradeVerdict::Start { .. })
                && line.target.kind == TargetKind::Node
                && Some(&line.target.name) != head.as_ref()
        })
        .map(|line| line.target.name.clone())
        .collect();
    members.sort();
    members.dedup();
    let label = covered
        .iter()
        .map(|package| match wanted.get(package) {
            Some(version) => format!("{package} {version}"),
            None => package.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    report.rollout =
        rollout::begin(store, label, covered, request.rollout, members, now_ms).await?;
    Ok(report)
}

/// Whether a target is in `scope`; naming an unknown node, image or group
/// is an error.
async fn scope_filter<S: Store>(
    store: &S,
    scope: &UpgradeScope,
) -> Result<Box<dyn Fn(&Target) -> bool + Send>, StoreError> {
    Ok(match scope {
        UpgradeScope::All => Box::new(|_| true),
        UpgradeScope::Node(node) => {
            if !store.nodes().await?.iter().any(|n| &n.name == node) {
                return Err(StoreError::UnknownNode {
                    name: node.to_string(),
                });
            }
            let target = Target::node(node.clone());
            Box::new(move |t| *t == target)
        }
        UpgradeScope::Image(image) => {
            if !store.images().await?.iter().any(|i| &i.name == image) {
                return Err(StoreError::UnknownImage {
                    name: image.to_string(),
                });
            }
            let target = Target::image(image.clone());
            Box::new(move |t| *t == target)
        }
        UpgradeScope::Group(group) => {
            let members: BTreeSet<Target> = store
                .group_members(group)
                .await?
                .into_iter()
                .map(Target::node)
                .collect();
            Box::new(move |t| members.contains(t))
        }
    })
}
