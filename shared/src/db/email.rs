//! Email sends and shared settings (migration 0003); per-key email quotas (migration 0006).

use sqlx::Row;

use super::jobs::{InsertOutcome, NewJob, insert_job_in};
use super::pool::DatabaseBackend;
use super::pool::{Db, DbError};
use crate::domain::{JobId, Timestamp};

const MINUTE_MS: i64 = 60_000;

/// Recipients an accepted submission will email, charged to its key's quotas in the
/// transaction that inserts its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCharge {
    pub key_id: String,
    pub recipients: u64,
    /// `None`: unlimited.
    pub per_hour: Option<u64>,
    pub per_day: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaWindow {
    Hour,
    Day,
}

impl QuotaWindow {
    fn minutes(self) -> i64 {
        match self {
            QuotaWindow::Hour => 60,
            QuotaWindow::Day => 24 * 60,
        }
    }

    /// `hourly` or `daily`.
    pub fn adjective(self) -> &'static str {
        match self {
            QuotaWindow::Hour => "hourly",
            QuotaWindow::Day => "daily",
        }
    }
}

/// A submission that does not fit its key's quota: nothing was inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverQuota {
    pub window: QuotaWindow,
    pub limit: u64,
    /// Recipients already charged in the window.
    pub used: u64,
    pub requested: u64,
    /// Seconds until enough of the window's usage has aged out for this request to fit.
    pub retry_after_secs: u64,
}

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

    /// A secret setting (one of [`SEALED_SETTINGS`]): as [`Db::setting_or_init`], stored
    /// sealed (`sealing.rs`) and opened when read.
    pub async fn secret_setting_or_init(
        &self,
        name: &str,
        init: impl FnOnce() -> String,
    ) -> Result<String, DbError> {
        let context = format!("settings:{name}");
        let stored = match self.sealer() {
            Some(sealer) => {
                let sealed = sealer.seal(&init(), &context);
                self.setting_or_init(name, || sealed).await?
            }
            // Without a key nothing new is stored; one made before may still be read.
            None => sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name.to_owned())
                .fetch_optional(self.pool())
                .await?
                .ok_or_else(|| {
                    DbError::Other(format!(
                        "no key-encryption key: the setting {name} cannot be stored"
                    ))
                })?,
        };
        self.open(&stored, &context)
    }

    /// Seals the secret settings still stored in the clear or under the previous key.
    pub(super) async fn reseal_secret_settings(&self) -> Result<usize, DbError> {
        let Some(sealer) = self.sealer() else {
            return Ok(0);
        };
        let mut sealed = 0;
        for name in SEALED_SETTINGS {
            let stored: Option<String> =
                sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name.to_owned())
                    .fetch_optional(self.pool())
                    .await?;
            let Some(stored) = stored.filter(|s| sealer.is_stale(s)) else {
                continue;
            };
            let context = format!("settings:{name}");
            let done = sqlx::query("UPDATE settings SET value = $2 WHERE name = $1 AND value = $3")
                .bind(name.to_owned())
                .bind(self.seal(&self.open(&stored, &context)?, &context)?)
                .bind(stored.clone())
                .execute(self.pool())
                .await?;
            sealed += done.rows_affected() as usize;
        }
        Ok(sealed)
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

    /// [`Db::insert_job`], charging `charge` to its key's quotas in the same transaction:
    /// nothing is inserted when it does not fit, and an idempotent replay (the original job
    /// returned) is not charged again.
    pub async fn insert_job_charged(
        &self,
        job: &NewJob,
        charge: Option<&EmailCharge>,
    ) -> Result<Result<InsertOutcome, OverQuota>, DbError> {
        let mut tx = self.pool().begin().await?;
        let outcome = insert_job_in(&mut tx, job).await?;
        if let Err(over) = charge_inserted(&mut tx, self.backend(), &outcome, charge).await? {
            return Ok(Err(over));
        }
        tx.commit().await?;
        Ok(Ok(outcome))
    }
}

/// Charges a freshly inserted job's recipients inside the caller's transaction; an `Err`
/// means the caller must roll back (drop the transaction).
///
/// Exact under concurrency: on PostgreSQL the key's row is locked first, so one key's
/// charges run one at a time (each sees the previous one committed); on SQLite the
/// transaction already holds the database's single write lock (the job was inserted).
pub(super) async fn charge_inserted(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: DatabaseBackend,
    outcome: &InsertOutcome,
    charge: Option<&EmailCharge>,
) -> Result<Result<(), OverQuota>, DbError> {
    let (InsertOutcome::Inserted(_), Some(c)) = (outcome, charge) else {
        return Ok(Ok(()));
    };
    charge_in(tx, backend, c).await
}

/// Charges `c` inside the caller's transaction (what [`charge_inserted`] does once it knows
/// the job is new): a workflow charges all its emails' recipients at once.
pub(super) async fn charge_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: DatabaseBackend,
    c: &EmailCharge,
) -> Result<Result<(), OverQuota>, DbError> {
    if c.recipients == 0 {
        return Ok(Ok(()));
    }
    let now = Timestamp::now().millis();
    let minute = now.div_euclid(MINUTE_MS);
    let day_start = minute - QuotaWindow::Day.minutes();
    if c.per_hour.is_some() || c.per_day.is_some() {
        if backend == DatabaseBackend::Postgres {
            sqlx::query("SELECT id FROM api_keys WHERE id = $1 FOR NO KEY UPDATE")
                .bind(c.key_id.clone())
                .fetch_optional(&mut **tx)
                .await?;
        }
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN minute > $2 THEN recipients ELSE 0 END), 0) \
             AS BIGINT) AS hour, CAST(COALESCE(SUM(recipients), 0) AS BIGINT) AS day \
             FROM email_usage WHERE key_id = $1 AND minute > $3",
        )
        .bind(c.key_id.clone())
        .bind(minute - QuotaWindow::Hour.minutes())
        .bind(day_start)
        .fetch_one(&mut **tx)
        .await?;
        let used = |col: &str| -> Result<u64, DbError> {
            Ok(u64::try_from(row.try_get::<i64, _>(col)?).unwrap_or(0))
        };
        let mut worst: Option<OverQuota> = None;
        for (window, limit, used) in [
            (QuotaWindow::Hour, c.per_hour, used("hour")?),
            (QuotaWindow::Day, c.per_day, used("day")?),
        ] {
            let Some(limit) = limit else { continue };
            if used + c.recipients <= limit {
                continue;
            }
            let retry_after_secs =
                retry_after(tx, &c.key_id, window, used + c.recipients - limit, now).await?;
            if worst
                .as_ref()
                .is_none_or(|w| w.retry_after_secs < retry_after_secs)
            {
                worst = Some(OverQuota {
                    window,
                    limit,
                    used,
                    requested: c.recipients,
                    retry_after_secs,
                });
            }
        }
        if let Some(over) = worst {
            return Ok(Err(over));
        }
    }
    sqlx::query(
        "INSERT INTO email_usage (key_id, minute, recipients) VALUES ($1, $2, $3) \
         ON CONFLICT (key_id, minute) DO UPDATE SET recipients = email_usage.recipients + excluded.recipients",
    )
    .bind(c.key_id.clone())
    .bind(minute)
    .bind(i64::try_from(c.recipients).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await?;
    // Older than every window: never read again.
    sqlx::query("DELETE FROM email_usage WHERE key_id = $1 AND minute <= $2")
        .bind(c.key_id.clone())
        .bind(day_start)
        .execute(&mut **tx)
        .await?;
    Ok(Ok(()))
}

/// Seconds until `excess` recipients of the window have aged out: the window's minutes are
/// read oldest first (at most 1,440 rows, one query, only when a request is refused).
async fn retry_after(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key_id: &str,
    window: QuotaWindow,
    excess: u64,
    now: i64,
) -> Result<u64, DbError> {
    let minutes = window.minutes();
    let rows = sqlx::query(
        "SELECT minute, recipients FROM email_usage WHERE key_id = $1 AND minute > $2 \
         ORDER BY minute",
    )
    .bind(key_id.to_owned())
    .bind(now.div_euclid(MINUTE_MS) - minutes)
    .fetch_all(&mut **tx)
    .await?;
    let mut freed = 0u64;
    for row in &rows {
        freed += u64::try_from(row.try_get::<i64, _>("recipients")?).unwrap_or(0);
        if freed >= excess {
            // A minute's usage leaves the window when the window's first minute passes it.
            let leaves_at = (row.try_get::<i64, _>("minute")? + minutes) * MINUTE_MS;
            return Ok(u64::try_from((leaves_at - now + 999) / 1000)
                .unwrap_or(0)
                .max(1));
        }
    }
    // More than the whole quota: it never fits (the API refuses that before it gets here).
    Ok(u64::try_from(minutes * 60).unwrap_or(u64::MAX))
}

/// The setting that holds the key of signed download links (`links.rs`).
pub const LINK_KEY_SETTING: &str = "download_link_key";

/// The setting that holds the key that signs Open Badges credentials (`credentials.rs`).
pub const CREDENTIAL_KEY_SETTING: &str = "credential_signing_key";

/// Settings that are secrets, stored sealed.
const SEALED_SETTINGS: [&str; 2] = [LINK_KEY_SETTING, CREDENTIAL_KEY_SETTING];
