//! The audit trail of the operator's actions: what each action is called
//! and what it was about, and its entry with who asked. Only actions that
//! changed something are recorded (a dry run is not): each action writes
//! its entry as the last change of the batch that carries it out, so the
//! entry lands with the action or not at all.

use opm_model::api::{
    AuditLine, AuditQuery, ConfigSetBody, ImageAddBody, InstallBody, NodeAddBody, PhaseBody,
    RemoveBody, RequestBody, RerunBody, RetryBody,
};
use opm_model::{Name, RolloutPolicy, RolloutState};
use opm_store::{AuditAction, AuditEntry, Batch, Change, Store};

use super::Result;
use crate::clock::utc;

/// Who asked for an action: the Unix user of a CLI on the database host,
/// the API token's name for a call through the API (so an action of the
/// CLI with `--remote` is recorded with the token's name: the server
/// cannot know the Unix user behind it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// Who asks for an action, and when: the time the action writes with
/// and the audit entry it writes beside its changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// Who.
    pub actor: Actor,
    /// When, in milliseconds since the epoch.
    pub now_ms: i64,
}

impl Asked {
    /// The audit entry of `action` on `subject`, as a change of the
    /// action's batch.
    pub(super) fn entry(&self, action: AuditAction, subject: String) -> Change {
        Change::Audit(AuditEntry {
            at_ms: self.now_ms,
            actor: self.actor.0.clone(),
            action,
            subject,
        })
    }

    /// Applies `changes` and the audit entry of `action` on `subject` in
    /// one transaction.
    pub(super) async fn apply(
        &self,
        store: &impl Store,
        changes: impl IntoIterator<Item = Change>,
        action: AuditAction,
        subject: String,
    ) -> Result<()> {
        let changes = changes
            .into_iter()
            .chain([self.entry(action, subject)])
            .collect();
        Ok(store.apply(&Batch { changes }, self.now_ms).await?)
    }
}

/// `opm history --audit` (`GET /v1/audit`): the audit entries since the
/// query's time, oldest first.
///
/// # Errors
/// The store's failure.
pub async fn audit(store: &impl Store, query: &AuditQuery) -> Result<Vec<AuditLine>> {
    let entries = store
        .audit_since(query.since_ms.unwrap_or(i64::MIN))
        .await?;
    Ok(entries
        .into_iter()
        .map(|entry| AuditLine {
            at: utc(entry.at_ms),
            at_ms: entry.at_ms,
            actor: entry.actor,
            action: entry.action.name().to_owned(),
            subject: entry.subject,
        })
        .collect())
}

fn names(names: &[Name]) -> String {
    names
        .iter()
        .map(Name::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command's rollout policy, when it has one: " (max-parallel 1)".
fn policy(policy: &RolloutPolicy) -> String {
    if policy.is_set() {
        format!(" ({policy})")
    } else {
        String::new()
    }
}

/// What `opm install` was about: its packages, group and rollout.
pub fn install_subject(body: &InstallBody) -> String {
    let packages = match &body.group {
        Some(group) => format!("{} on group {group}", names(&body.packages)),
        None => names(&body.packages),
    };
    format!("{packages}{}", policy(&body.rollout))
}

/// What `opm remove` was about.
pub fn remove_subject(body: &RemoveBody) -> String {
    format!("{}{}", names(&body.packages), policy(&body.rollout))
}

/// What `opm rollout resume|abort` was about: the rollout and the state
/// the action gives it.
pub fn rollout_subject(id: i64, label: &str, state: RolloutState) -> String {
    format!("rollout {id} {label}: {}", state.name())
}

/// What `opm request` was about: package, stage and where.
pub fn request_subject(body: &RequestBody) -> String {
    let place = match (&body.target, &body.group) {
        (Some(target), _) => target.to_string(),
        (None, Some(group)) => format!("group {group}"),
        (None, None) if body.server => "server".to_owned(),
        (None, None) => "all".to_owned(),
    };
    format!("{} {} on {place}", body.package, body.stage)
}

/// What `opm retry` was about.
pub fn retry_subject(body: &RetryBody) -> String {
    format!("{} on {}: {}", body.package, body.target, body.reason)
}

/// What `opm rerun` was about.
pub fn rerun_subject(body: &RerunBody) -> String {
    format!(
        "{} on {} from {}{}",
        body.package,
        body.target,
        body.from,
        policy(&body.rollout)
    )
}

/// What `opm cluster phase PHASE` was about.
pub fn phase_subject(body: &PhaseBody) -> String {
    body.phase.to_string()
}

/// What `opm node add` was about.
pub fn node_subject(body: &NodeAddBody) -> String {
    body.name.to_string()
}

/// What `opm image add` was about.
pub fn image_subject(body: &ImageAddBody) -> String {
    format!("{} at {}", body.name, body.path)
}

/// What `opm config set` was about: the package, image and the keys set
/// (not their values, which may be secrets).
pub fn config_subject(body: &ConfigSetBody) -> String {
    let values = body
        .values
        .iter()
        .map(|value| value.split_once('=').map_or(value.as_str(), |(key, _)| key))
        .collect::<Vec<_>>()
        .join(" ");
    match &body.image {
        Some(image) => format!("{} on image {image}: {values}", body.package),
        None => format!("{}: {values}", body.package),
    }
}
