//! `opm history` and `opm logs`: the attempts and operator events
//! recorded for rows, and the output each attempt captured.

use std::collections::BTreeSet;

use opm_model::Target;
use opm_model::api::{HistoryLine, HistoryQuery, LogsQuery};
use opm_store::{AttemptId, AttemptResult, Event, HistoryEntry, HistoryFilter, Store};

use super::hint::hinted;
use super::rows::each_kept;
use super::{OperateError, Result};
use crate::clock::utc;

/// Most history entries one query answers with.
pub const MAX_HISTORY: u32 = 100_000;

/// Entries a query without a limit answers with.
const DEFAULT_HISTORY: u32 = 1_000;

/// How far back `opm logs` looks for a row's last attempt.
const LOGS_LOOKBACK: u32 = 10_000;

/// One history entry as the operator sees it; the output only when asked.
pub fn history_line(entry: &HistoryEntry, with_output: bool) -> HistoryLine {
    HistoryLine {
        id: entry.id.0,
        target: entry.target.name.to_string(),
        kind: entry.target.kind.name().to_owned(),
        package: entry.opkg.to_string(),
        event: entry.event.name().to_owned(),
        stage: entry.stage,
        result: entry
            .result
            .map(|result| AttemptResult::name(result).to_owned()),
        started: utc(entry.started_ms),
        started_ms: entry.started_ms,
        ended_ms: entry.ended_ms,
        duration_ms: entry.ended_ms.map(|end| end - entry.started_ms),
        exit_code: entry.exit_code,
        output_bytes: entry.output_bytes,
        note: entry.note.clone(),
        whole_stage: entry.whole_stage,
        output: with_output.then(|| entry.output.clone()),
        steps: None,
    }
}

/// `opm history` (`GET /v1/history`): the newest entries the query keeps,
/// oldest first. With `group`, `stage` or `errors` the entries are those
/// of the rows `opm status` lists for the same filter (the rows there are
/// now: a removed row's entries are not among them).
///
/// # Errors
/// A node, image or opkg nothing was recorded for and that is not
/// registered (a typo is an error, not an empty answer), a filter `opm
/// status` would refuse, or the store's failure.
pub async fn history<S: Store>(store: &S, query: &HistoryQuery) -> Result<Vec<HistoryLine>> {
    hinted(store, history_unhinted(store, query).await).await
}

/// [`history`] before an unknown name's hint.
async fn history_unhinted<S: Store>(store: &S, query: &HistoryQuery) -> Result<Vec<HistoryLine>> {
    let rows = query.rows();
    let filter = HistoryFilter {
        target: rows.target(),
        opkg: query.package.clone(),
        limit: query.limit.unwrap_or(DEFAULT_HISTORY).min(MAX_HISTORY),
    };
    check_names(store, &filter).await?;
    let kept = if rows.group.is_some() || rows.stage.is_some() || rows.errors {
        let mut kept = BTreeSet::new();
        each_kept(store, &rows, |stored| {
            kept.insert((stored.row.target, stored.row.package));
        })
        .await?;
        Some(kept)
    } else {
        None
    };
    let entries = store.history(&filter).await?;
    Ok(entries
        .iter()
        .filter(|e| {
            kept.as_ref()
                .is_none_or(|kept| kept.contains(&(e.target.clone(), e.opkg.clone())))
        })
        .filter(|e| query.since_ms.is_none_or(|since| e.started_ms >= since))
        .filter(|e| !query.failed || e.result == Some(AttemptResult::Failed))
        .map(|e| history_line(e, false))
        .collect())
}

/// Refuses names the database does not know. History outlives removed
/// nodes and opkgs, so this only checks what is registered now when
/// nothing was recorded for it.
async fn check_names<S: Store>(store: &S, filter: &HistoryFilter) -> Result<()> {
    let recorded = store
        .history(&HistoryFilter {
            limit: 1,
            ..filter.clone()
        })
        .await?;
    if !recorded.is_empty() {
        return Ok(());
    }
    if let Some(target) = &filter.target {
        store.rows_for_target(target).await?;
    }
    if let Some(opkg) = &filter.opkg {
        store.rows_for_opkg(opkg).await?;
    }
    Ok(())
}

/// `opm logs` (`GET /v1/logs`): one attempt by id, or the last attempt of
/// a row (on the head node unless `node`/`image` says otherwise), with its
/// output and steps.
///
/// # Errors
/// Nothing named, an unknown row or attempt, a row without attempts, or
/// the store's failure.
pub async fn logs<S: Store>(store: &S, query: &LogsQuery) -> Result<HistoryLine> {
    hinted(store, logs_unhinted(store, query).await).await
}

/// [`logs`] before an unknown name's hint.
async fn logs_unhinted<S: Store>(store: &S, query: &LogsQuery) -> Result<HistoryLine> {
    let entry = match query.attempt {
        Some(id) => store.attempt(AttemptId(id)).await?,
        None => last_attempt(store, query).await?,
    };
    let steps = if entry.event == Event::Attempt {
        store.steps(entry.id).await?
    } else {
        Vec::new()
    };
    let mut line = history_line(&entry, true);
    line.steps = Some(steps);
    Ok(line)
}

async fn last_attempt<S: Store>(store: &S, query: &LogsQuery) -> Result<HistoryEntry> {
    let Some(package) = query.package.clone() else {
        return Err(OperateError::BadInput(
            "name an opkg or --attempt ID".to_owned(),
        ));
    };
    let target = match (&query.node, &query.image) {
        (Some(node), _) => Target::node(node.clone()),
        (None, Some(image)) => Target::image(image.clone()),
        (None, None) => {
            let head = store.head_node().await?.ok_or_else(|| {
                OperateError::BadInput(
                    "the database has no head node; run 'opm init' first".to_owned(),
                )
            })?;
            Target::node(head)
        }
    };
    store.row(&target, &package).await?;
    let entries = store
        .history(&HistoryFilter {
            target: Some(target.clone()),
            opkg: Some(package.clone()),
            limit: LOGS_LOOKBACK,
        })
        .await?;
    entries
        .into_iter()
        .rev()
        .find(|e| e.event == Event::Attempt)
        .ok_or_else(|| OperateError::BadInput(format!("{target} / {package} has no attempts yet")))
}
