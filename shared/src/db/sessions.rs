//! Dashboard sessions of the embedded deployment (production keeps them in Redis): opaque
//! JSON under the SHA-256 of the cookie, with an expiry.

use sqlx::Row;

use super::pool::{Db, DbError};
use crate::domain::Timestamp;

impl Db {
    /// Writes (or rewrites) session `id` to end at `expires_at`; drops expired ones first.
    pub async fn put_session(
        &self,
        id: &str,
        data: &str,
        expires_at: Timestamp,
    ) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM dashboard_sessions WHERE id = $1 OR expires_at < $2")
            .bind(id.to_owned())
            .bind(Timestamp::now().millis())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO dashboard_sessions (id, data, expires_at) VALUES ($1, $2, $3)")
            .bind(id.to_owned())
            .bind(data.to_owned())
            .bind(expires_at.millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
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
}
