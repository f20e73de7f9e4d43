//! API bearer tokens, kept as hashes: the admin token and one per node.
//! Making a token is the caller's business (it needs randomness); this
//! module only stores a hash and says whose it is.

use opm_model::{Name, NameKind};

use crate::db::{self, Db};
use crate::error::Result;
use crate::nodes::{node_id, stored_name};

/// Whom a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSubject {
    /// The tools' API: everything the CLI can do.
    Admin,
    /// One compute node's agent: that node's rows only.
    Node(Name),
}

/// Replaces the subject's token (if any) by the one hashed as `hash`.
pub(crate) async fn set(
    conn: &mut impl Db,
    subject: &TokenSubject,
    hash: &str,
    now_ms: i64,
) -> Result<()> {
    let node = match subject {
        TokenSubject::Admin => None,
        TokenSubject::Node(name) => Some(node_id(conn, name).await?),
    };
    // One statement per case, not `IS NOT DISTINCT FROM $1`: SQLite plans
    // that for a NULL as much as a value, and scans every token.
    match node {
        Some(node) => db::query("DELETE FROM tokens WHERE node_id = $1").bind(node),
        None => db::query("DELETE FROM tokens WHERE node_id IS NULL"),
    }
    .execute(&mut *conn)
    .await?;
    db::query("INSERT INTO tokens (hash, node_id, created_ms) VALUES ($1, $2, $3)")
        .bind(hash)
        .bind(node)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the tokens of many subjects, each as [`set`] does.
pub(crate) async fn set_many(
    conn: &mut impl Db,
    tokens: &[(TokenSubject, String)],
    now_ms: i64,
) -> Result<()> {
    for (subject, hash) in tokens {
        set(conn, subject, hash, now_ms).await?;
    }
    Ok(())
}

/// Whose token is hashed as `hash`, if anybody's.
pub(crate) async fn subject(conn: &mut impl Db, hash: &str) -> Result<Option<TokenSubject>> {
    let found: Option<(Option<String>,)> = db::query_as(
        "SELECT n.name FROM tokens t LEFT JOIN nodes n ON n.id = t.node_id WHERE t.hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    Ok(match found {
        None => None,
        Some((None,)) => Some(TokenSubject::Admin),
        Some((Some(name),)) => Some(TokenSubject::Node(stored_name(NameKind::Node, &name)?)),
    })
}
