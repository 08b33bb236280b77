//! Email sends and shared settings (migration 0003).

use sqlx::Row;

use super::{Db, DbError};
use crate::domain::{JobId, Timestamp};

/// An email the server accepted, recorded before the job's own success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSend {
    pub message_id: String,
    pub recipients: i64,
}

impl Db {
    /// Notes that `job`'s email was accepted by the server. A second record for the same job
    /// keeps the first.
    pub async fn record_email_send(
        &self,
        job: JobId,
        message_id: &str,
        recipients: usize,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO email_sends (job_id, message_id, recipients, sent_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING",
        )
        .bind(job.to_string())
        .bind(message_id.to_owned())
        .bind(recipients as i64)
        .bind(Timestamp::now().millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The send recorded for `job`, if its email already went out.
    pub async fn email_send(&self, job: JobId) -> Result<Option<EmailSend>, DbError> {
        let row = sqlx::query("SELECT message_id, recipients FROM email_sends WHERE job_id = $1")
            .bind(job.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|row| {
            Ok(EmailSend {
                message_id: row.try_get("message_id")?,
                recipients: row.try_get("recipients")?,
            })
        })
        .transpose()
    }

    /// The setting `name`, created with `init()` by whichever process asks first; every
    /// process then reads the same value.
    pub async fn setting_or_init(
        &self,
        name: &str,
        init: impl FnOnce() -> String,
    ) -> Result<String, DbError> {
        sqlx::query(
            "INSERT INTO settings (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.to_owned())
        .bind(init())
        .bind(Timestamp::now().millis())
        .execute(self.pool())
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name.to_owned())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("value")?)
    }
}
