//! Waking waiting long-polls without each of them asking the store again
//! and again. One watcher task asks the store which nodes have work (one
//! query, however many agents wait) and wakes only the polls of those
//! nodes; a poll loads its node's work only when woken or at its deadline.
//!
//! The watcher looks when something changed (a tool's call, a head-node
//! pass that moved rows), at most once per [`DEBOUNCE`]; every [`TICK`]
//! for rows changed behind the server's back (the CLI on the same
//! database), waking only nodes whose rows changed since it last looked;
//! and every [`FULL_TICK`] wakes every node with work, for changes no row
//! of the node shows (a phase set with the CLI that unblocks a row).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opm_model::Name;
use opm_store::Store;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio::time::Instant;

use crate::router::AppState;

/// The shortest time between two looks prompted by changes: a burst of
/// changes (thousands of reports) costs one query per period.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// How often the watcher looks for rows changed behind the server's back.
const TICK: Duration = Duration::from_secs(1);

/// How often every node with work is woken, changed rows or not.
const FULL_TICK: Duration = Duration::from_secs(10);

/// The waiting polls, by node: one [`Notify`] per node that has any, and
/// how many polls of the node wait on it.
#[derive(Debug, Default)]
pub struct Waiters {
    nodes: Mutex<HashMap<Name, (Arc<Notify>, usize)>>,
}

/// One waiting poll's place in [`Waiters`]; leaving drops the node's entry
/// when it was the node's last waiting poll.
#[derive(Debug)]
pub struct Waiting<'w> {
    waiters: &'w Waiters,
    node: Name,
    notify: Arc<Notify>,
}

impl Waiters {
    fn lock(&self) -> MutexGuard<'_, HashMap<Name, (Arc<Notify>, usize)>> {
        // The map stays consistent whatever a panicking holder did: every
        // change is one insert, count or remove.
        self.nodes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enters a poll of `node` as waiting until the returned guard drops.
    pub fn enter(&self, node: &Name) -> Waiting<'_> {
        let mut waiting = self.lock();
        let (notify, polls) = waiting.entry(node.clone()).or_default();
        *polls += 1;
        Waiting {
            waiters: self,
            node: node.clone(),
            notify: Arc::clone(notify),
        }
    }

    /// Whether no poll waits.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Wakes the waiting polls of `nodes` (those that wait).
    pub fn wake<'n>(&self, nodes: impl IntoIterator<Item = &'n Name>) {
        let waiting = self.lock();
        for node in nodes {
            if let Some((notify, _)) = waiting.get(node) {
                notify.notify_waiters();
            }
        }
    }

    /// Wakes every waiting poll.
    pub fn wake_all(&self) {
        for (notify, _) in self.lock().values() {
            notify.notify_waiters();
        }
    }
}

impl Waiting<'_> {
    /// Completes when the node's polls are woken. Made before the poll
    /// looks at the store, it catches a wake that comes while it looks.
    pub fn woken(&self) -> Notified<'_> {
        self.notify.notified()
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self.waiters.lock();
        if let Some((_, polls)) = waiting.get_mut(&self.node) {
            *polls -= 1;
            if *polls == 0 {
                waiting.remove(&self.node);
            }
        }
    }
}

/// The watcher: runs until the server stops (its task is aborted).
pub async fn watch<S: Store + 'static>(state: Arc<AppState<S>>) {
    // Each node's newest row change when the watcher last looked.
    let mut seen: HashMap<Name, i64> = HashMap::new();
    let mut last_full = Instant::now();
    loop {
        let changed = tokio::select! {
            () = state.agents_wake.notified() => true,
            () = tokio::time::sleep(TICK) => false,
        };
        if state.waiters.is_empty() {
            // A poll that comes later looks at the store itself first.
            continue;
        }
        let full = changed || last_full.elapsed() >= FULL_TICK;
        match state.store.nodes_with_work().await {
            Ok(nodes) => {
                let wake = nodes
                    .iter()
                    .filter(|pending| full || seen.get(&pending.node) != Some(&pending.changed_ms))
                    .map(|pending| &pending.node);
                state.waiters.wake(wake);
                seen = nodes
                    .into_iter()
                    .map(|pending| (pending.node, pending.changed_ms))
                    .collect();
                if full {
                    last_full = Instant::now();
                }
            }
            Err(error) => tracing::warn!("cannot tell which nodes have work: {error}"),
        }
        if changed {
            tokio::time::sleep(DEBOUNCE).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::NameKind;

    fn node(name: &str) -> Name {
        Name::new(NameKind::Node, name).unwrap()
    }

    #[tokio::test]
    async fn only_the_woken_nodes_polls_wake_and_the_last_one_out_clears() {
        let waiters = Waiters::default();
        let (n1, n2) = (node("n1"), node("n2"));
        let first = waiters.enter(&n1);
        let second = waiters.enter(&n1);
        let other = waiters.enter(&n2);
        let (a, b, mut c) = (first.woken(), second.woken(), Box::pin(other.woken()));
        waiters.wake([&n1]);
        a.await;
        b.await;
        assert!(futures_now(&mut c).is_none(), "n2 was not woken");
        drop((first, second));
        assert_eq!(waiters.lock().len(), 1);
        drop(c);
        drop(other);
        assert!(waiters.is_empty());
    }

    /// Polls a future once without waiting.
    fn futures_now<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(future).poll(&mut context) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        }
    }
}
