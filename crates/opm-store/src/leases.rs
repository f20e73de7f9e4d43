//! Leases on targets with fencing tokens: every grant takes the next value of
//! one counter (a sequence in PostgreSQL), so a token never comes back, and a write carrying a token
//! that is not the target's current one is refused.

use crate::db::{self, Db};
use opm_model::{Lease, Target};

use crate::error::{Result, StoreError};
use crate::locks;
use crate::nodes::TargetIds;
use crate::rows::token_value;

/// The current lease of the target with column pair `ids`, if any.
async fn current(conn: &mut impl Db, ids: TargetIds) -> Result<Option<(i64, Lease)>> {
    // By the target's one set column: `IS NOT DISTINCT FROM` a pair made
    // SQLite walk the image index through every node's lease.
    let found: Option<(i64, String, i64, i64)> = match ids {
        (Some(node), _) => {
            db::query_as("SELECT id, owner, token, expires_ms FROM leases WHERE node_id = $1")
                .bind(node)
        }
        (None, image) => {
            db::query_as("SELECT id, owner, token, expires_ms FROM leases WHERE image_id = $1")
                .bind(image)
        }
    }
    .fetch_optional(conn)
    .await?;
    found
        .map(|(id, owner, token, expires_at_ms)| Ok((id, lease_from(owner, token, expires_at_ms)?)))
        .transpose()
}

/// A lease from its stored columns.
pub(crate) fn lease_from(owner: String, token: i64, expires_at_ms: i64) -> Result<Lease> {
    let token = u64::try_from(token).map_err(|_| StoreError::Corrupt {
        what: "lease token",
        value: token.to_string(),
    })?;
    Ok(Lease {
        owner,
        token,
        expires_at_ms,
    })
}

/// Grants a lease unless another owner holds an unexpired one. Each grant,
/// even to the same owner, gets a new token and makes the old one stale.
pub(crate) async fn acquire(
    conn: &mut impl Db,
    target: &Target,
    owner: &str,
    ttl_ms: i64,
    now_ms: i64,
) -> Result<Lease> {
    let ids = locks::lock_target(conn, target).await?;
    if let Some((id, lease)) = current(conn, ids).await? {
        if lease.owner != owner && !lease.expired(now_ms) {
            return Err(StoreError::LeaseHeld {
                target: target.clone(),
                owner: lease.owner,
                expires_at_ms: lease.expires_at_ms,
            });
        }
        db::query("DELETE FROM leases WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    let (node, image) = ids;
    let expires_at_ms = now_ms.saturating_add(ttl_ms);
    // PostgreSQL's sequence hands out a token without locking anything
    // until commit, within the insert; SQLite's one writer may as well
    // count in a row.
    let token: i64 = if locks::is_postgres(conn) {
        db::query_scalar(
            "INSERT INTO leases (node_id, image_id, owner, token, expires_ms) \
             VALUES ($1, $2, $3, nextval('lease_tokens'), $4) RETURNING token",
        )
        .bind(node)
        .bind(image)
        .bind(owner)
        .bind(expires_at_ms)
        .fetch_one(conn)
        .await?
    } else {
        let token: i64 = db::query_scalar(
            "UPDATE lease_counter SET last = last + 1 WHERE id = 1 RETURNING last",
        )
        .fetch_one(&mut *conn)
        .await?;
        db::query(
            "INSERT INTO leases (node_id, image_id, owner, token, expires_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(node)
        .bind(image)
        .bind(owner)
        .bind(token)
        .bind(expires_at_ms)
        .execute(conn)
        .await?;
        token
    };
    lease_from(owner.to_owned(), token, expires_at_ms)
}

/// The target's lease if `token` is its current one; an expired lease still
/// counts while nobody has taken it over.
pub(crate) async fn check(conn: &mut impl Db, target: &Target, token: u64) -> Result<Lease> {
    let ids = locks::lock_target(conn, target).await?;
    check_held(
        target,
        current(conn, ids).await?.map(|(_, lease)| lease),
        token,
    )
}

/// The target's lease `held` (as read with its row) if `token` is its
/// current one.
pub(crate) fn check_held(target: &Target, held: Option<Lease>, token: u64) -> Result<Lease> {
    match held {
        Some(lease) if lease.token == token => Ok(lease),
        _ => Err(StoreError::StaleToken {
            target: target.clone(),
            token,
        }),
    }
}

/// Extends a lease held with `token`; running rows under it follow.
pub(crate) async fn renew(
    conn: &mut impl Db,
    target: &Target,
    token: u64,
    ttl_ms: i64,
    now_ms: i64,
) -> Result<Lease> {
    let lease = check(conn, target, token).await?;
    let expires_at_ms = now_ms.saturating_add(ttl_ms);
    let stored = token_value(token)?;
    db::query("UPDATE leases SET expires_ms = $1 WHERE token = $2")
        .bind(expires_at_ms)
        .bind(stored)
        .execute(&mut *conn)
        .await?;
    db::query(
        "UPDATE rows SET lease_expires_ms = $1 WHERE lease_token = $2 AND status = 'running'",
    )
    .bind(expires_at_ms)
    .bind(stored)
    .execute(conn)
    .await?;
    Ok(Lease {
        expires_at_ms,
        ..lease
    })
}

/// Gives a lease back; its token is stale from now on.
pub(crate) async fn release(conn: &mut impl Db, target: &Target, token: u64) -> Result<()> {
    check(conn, target, token).await?;
    db::query("DELETE FROM leases WHERE token = $1")
        .bind(token_value(token)?)
        .execute(conn)
        .await?;
    Ok(())
}
