//! Dashboard sessions of the embedded deployment (production keeps them in Redis): opaque
//! JSON under the SHA-256 of the cookie, with its key, when it began and when it ends. A key
//! holds at most a given number (a new sign-in ends its oldest); expired rows are removed by
//! the cleanup job (`dashboard_sessions_expires`), not by every write.

use sqlx::Row;

use super::pool::{Db, DbError};
use crate::domain::Timestamp;

/// A session being created (see [`Db::create_session`]).
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// The SHA-256 of the cookie.
    pub id: &'a str,
    pub key_id: &'a str,
    pub data: &'a str,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Db {
    /// Writes a new session, then ends the oldest sessions of its key beyond the newest
    /// `max_per_key` that have not ended (expired ones of the key go too), in one
    /// transaction. Returns how many sessions it ended.
    pub async fn create_session(
        &self,
        session: &NewSession<'_>,
        max_per_key: u32,
    ) -> Result<u64, DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO dashboard_sessions (id, key_id, data, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(session.id.to_owned())
        .bind(session.key_id.to_owned())
        .bind(session.data.to_owned())
        .bind(session.created_at.millis())
        .bind(session.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        // The key's sessions through `dashboard_sessions_key`: at most `max_per_key` + 1
        // live ones, and those that expired since.
        let ended = sqlx::query(
            "DELETE FROM dashboard_sessions WHERE key_id = $1 AND id NOT IN \
             (SELECT id FROM dashboard_sessions WHERE key_id = $1 AND expires_at > $2 \
              ORDER BY created_at DESC, id DESC LIMIT $3)",
        )
        .bind(session.key_id.to_owned())
        .bind(Timestamp::now().millis())
        .bind(i64::from(max_per_key.max(1)))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ended.rows_affected())
    }

    /// Rewrites session `id` (its data and end), if it still exists.
    pub async fn put_session(
        &self,
        id: &str,
        data: &str,
        expires_at: Timestamp,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE dashboard_sessions SET data = $2, expires_at = $3 WHERE id = $1")
            .bind(id.to_owned())
            .bind(data.to_owned())
            .bind(expires_at.millis())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Session `id`'s data unless it has ended.
    pub async fn get_session(&self, id: &str) -> Result<Option<String>, DbError> {
        let row =
            sqlx::query("SELECT data FROM dashboard_sessions WHERE id = $1 AND expires_at > $2")
                .bind(id.to_owned())
                .bind(Timestamp::now().millis())
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.try_get("data")).transpose()?)
    }

    pub async fn delete_session(&self, id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE id = $1")
            .bind(id.to_owned())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes sessions that ended before `now` (the cleanup job, through
    /// `dashboard_sessions_expires`). Returns how many.
    pub async fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64, DbError> {
        let done = sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
            .bind(now.millis())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Sessions stored (ended or not) of key `key_id`: for tests of the per-key cap.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn session_count_for_test(&self, key_id: Option<&str>) -> Result<i64, DbError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM dashboard_sessions WHERE $1 IS NULL OR key_id = $1",
        )
        .bind(key_id.map(str::to_owned))
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("n")?)
    }
}
