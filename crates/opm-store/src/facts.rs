//! The cluster facts every decision reads besides the rows: the phase, the
//! head node, the images and the opkgs with their selections. They change
//! rarely and are read on every agent's poll, so a store keeps the last
//! ones it read with the database's `facts_version`, a counter that
//! triggers bump on every change to them (migration 0003 on SQLite, 0004
//! on PostgreSQL). A read then costs one statement, the phase and the
//! counter, while the counter stands still; whoever changed the facts,
//! this process or another, the next read sees it.

use std::sync::{Arc, Mutex, PoisonError};

use opm_model::{Name, Phase};

use crate::db::{self, Db};
use crate::error::{Result, StoreError};
use crate::nodes::{self, Image};
use crate::opkgs::{self, Opkg};

/// The cluster facts at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The install phase.
    pub phase: Phase,
    /// The head node, if one is registered.
    pub head: Option<Name>,
    /// Every image, by name.
    pub images: Vec<Image>,
    /// Every imported opkg, by name.
    pub opkgs: Vec<Opkg>,
}

/// What does not move with the phase, as read at one `facts_version`.
#[derive(Debug)]
struct Kept {
    version: i64,
    head: Option<Name>,
    images: Vec<Image>,
    opkgs: Vec<Opkg>,
}

/// The facts a store read last; each clone of a store shares them.
#[derive(Debug, Clone, Default)]
pub(crate) struct FactsCache(Arc<Mutex<Option<Arc<Kept>>>>);

impl FactsCache {
    fn at(&self, version: i64) -> Option<Arc<Kept>> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.as_ref()
            .filter(|kept| kept.version == version)
            .map(Arc::clone)
    }

    fn keep(&self, kept: Arc<Kept>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(kept);
    }
}

/// The facts, from `cache` while the database's counter is where it was.
/// The counter is read before the facts, so facts kept under a counter are
/// never older than it; a change in between only costs another read.
pub(crate) async fn facts(conn: &mut impl Db, cache: &FactsCache) -> Result<Facts> {
    let (name, version): (String, i64) =
        db::query_as("SELECT phase, facts_version FROM cluster WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    let phase = name.parse().map_err(|_| StoreError::Corrupt {
        what: "phase",
        value: name,
    })?;
    let kept = match cache.at(version) {
        Some(kept) => kept,
        None => {
            let kept = Arc::new(Kept {
                version,
                head: nodes::head_node(&mut *conn).await?,
                images: nodes::images(&mut *conn).await?,
                opkgs: opkgs::opkgs(conn).await?,
            });
            cache.keep(Arc::clone(&kept));
            kept
        }
    };
    Ok(Facts {
        phase,
        head: kept.head.clone(),
        images: kept.images.clone(),
        opkgs: kept.opkgs.clone(),
    })
}
