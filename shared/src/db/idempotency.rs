//! `Idempotency-Key`s, for single jobs (held by their `jobs` row) and batches (held by their
//! `batches` row) alike: a key is an owner's for the idempotency window; after it, the next
//! request with it frees it from the old holder. The same key with the same request hash
//! answers the holder; with another hash it is a conflict.

use sqlx::{AssertSqlSafe, Row};

use super::pool::DbError;
use crate::domain::Timestamp;

/// The table whose rows hold keys (`idempotency_key`, `request_hash`, `owner_id`,
/// `created_at`).
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyHolder {
    Jobs,
    Batches,
    Workflows,
}

impl KeyHolder {
    fn table(self) -> &'static str {
        match self {
            Self::Jobs => "jobs",
            Self::Batches => "batches",
            Self::Workflows => "workflows",
        }
    }
}

/// Frees `owner`'s `key` if the row holding it is older than `window`.
pub(super) async fn release_expired<'c, E>(
    conn: E,
    holder: KeyHolder,
    owner: &str,
    key: &str,
    window: std::time::Duration,
) -> Result<(), DbError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let cutoff = Timestamp::now().millis() - window.as_millis() as i64;
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {} SET idempotency_key = NULL \
         WHERE owner_id = $1 AND idempotency_key = $2 AND created_at < $3",
        holder.table()
    )))
    .bind(owner.to_owned())
    .bind(key.to_owned())
    .bind(cutoff)
    .execute(conn)
    .await?;
    Ok(())
}

/// The id and request hash of the row holding `owner`'s `key`, if any.
pub(super) async fn holder_of<'c, E>(
    conn: E,
    holder: KeyHolder,
    owner: &str,
    key: &str,
) -> Result<Option<(String, String)>, DbError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, request_hash FROM {} WHERE owner_id = $1 AND idempotency_key = $2",
        holder.table()
    )))
    .bind(owner.to_owned())
    .bind(key.to_owned())
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let hash: Option<String> = row.try_get("request_hash")?;
    Ok(Some((row.try_get("id")?, hash.unwrap_or_default())))
}
