//! Webhook endpoints (`webhooks`), their delivery log (`webhook_deliveries`, one row per
//! event and endpoint, keyed by its delivery job's id) and the per-key secret of one-off
//! `callback_url` deliveries.

use std::sync::LazyLock;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::jobs::{NewJob, insert_job_in};
use super::pool::{Db, DbError};
use crate::domain::{JobId, Timestamp};

/// A delivery's job: the owner's, at `notification` priority (above batch rows, below
/// single submissions); its `webhook_deliveries` row takes the job's id.
pub(super) fn delivery_job(owner: &str, max_attempts: u32) -> NewJob {
    let mut job = NewJob::of(owner, max_attempts, &crate::jobs::WebhookPayload {});
    job.priority = crate::domain::Priority::Notification;
    job
}

/// An endpoint as stored.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: String,
    pub owner_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<Timestamp>,
    pub consecutive_failures: i64,
    pub disabled_at: Option<Timestamp>,
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const WEBHOOK_COLUMNS: &str = "id, owner_id, url, events, description, secret, previous_secret, \
     previous_secret_until, consecutive_failures, disabled_at, disabled_reason, created_at, \
     updated_at";

impl WebhookRow {
    /// From columns named with `prefix` (a join's `w_id`, `w_url`, ...).
    fn from_row_prefixed(row: &AnyRow, prefix: &str) -> Result<WebhookRow, DbError> {
        let c = |e: sqlx::Error| DbError::Corrupt(format!("webhook: {e}"));
        let ts = |v: Option<i64>| v.map(Timestamp::from_millis);
        let col = |name: &str| format!("{prefix}{name}");
        let events: String = row.try_get(col("events").as_str()).map_err(c)?;
        Ok(WebhookRow {
            id: row.try_get(col("id").as_str()).map_err(c)?,
            owner_id: row.try_get(col("owner_id").as_str()).map_err(c)?,
            url: row.try_get(col("url").as_str()).map_err(c)?,
            events: serde_json::from_str(&events)
                .map_err(|e| DbError::Corrupt(format!("webhook events: {e}")))?,
            description: row.try_get(col("description").as_str()).map_err(c)?,
            secret: row.try_get(col("secret").as_str()).map_err(c)?,
            previous_secret: row.try_get(col("previous_secret").as_str()).map_err(c)?,
            previous_secret_until: ts(row
                .try_get(col("previous_secret_until").as_str())
                .map_err(c)?),
            consecutive_failures: row
                .try_get(col("consecutive_failures").as_str())
                .map_err(c)?,
            disabled_at: ts(row.try_get(col("disabled_at").as_str()).map_err(c)?),
            disabled_reason: row.try_get(col("disabled_reason").as_str()).map_err(c)?,
            created_at: Timestamp::from_millis(row.try_get(col("created_at").as_str()).map_err(c)?),
            updated_at: Timestamp::from_millis(row.try_get(col("updated_at").as_str()).map_err(c)?),
        })
    }

    /// The secrets that sign a delivery now: the current one, and the previous one while its
    /// overlap lasts.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&str> {
        let mut out = vec![self.secret.as_str()];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && until > now
        {
            out.push(old);
        }
        out
    }
}

/// A new endpoint, checked by the API.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub owner_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub secret: String,
}

/// What a `PATCH` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    /// Re-enable a disabled endpoint (and reset its failure count), or disable it.
    pub enabled: Option<bool>,
    /// A new secret, and until when the current one keeps signing too.
    pub rotate: Option<(String, Timestamp)>,
}

/// One delivery as its log shows it, with its job's state.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: JobId,
    pub webhook_id: Option<String>,
    pub owner_id: String,
    pub url: String,
    pub event_seq: i64,
    pub event_type: String,
    pub body: String,
    pub attempts: i64,
    pub response_status: Option<i64>,
    pub response_ms: Option<i64>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub last_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// The delivery job's status: `queued`, `running`, `failed` (will retry), `succeeded`,
    /// `dead`, `cancelled`.
    pub status: String,
    pub next_attempt_at: Option<Timestamp>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.owner_id, d.url, d.event_seq, d.event_type, \
     d.body, d.attempts, d.response_status, d.response_ms, d.response_body, d.error, \
     d.last_attempt_at, d.created_at, j.status, j.run_at";

impl DeliveryRow {
    fn from_row(row: &AnyRow) -> Result<DeliveryRow, DbError> {
        let c = |e: sqlx::Error| DbError::Corrupt(format!("delivery: {e}"));
        let id: String = row.try_get("id").map_err(c)?;
        let status: Option<String> = row.try_get("status").map_err(c)?;
        let run_at: Option<i64> = row.try_get("run_at").map_err(c)?;
        let status = status.unwrap_or_else(|| "expired".into());
        Ok(DeliveryRow {
            id: id
                .parse()
                .map_err(|e| DbError::Corrupt(format!("delivery id: {e}")))?,
            webhook_id: row.try_get("webhook_id").map_err(c)?,
            owner_id: row.try_get("owner_id").map_err(c)?,
            url: row.try_get("url").map_err(c)?,
            event_seq: row.try_get("event_seq").map_err(c)?,
            event_type: row.try_get("event_type").map_err(c)?,
            body: row.try_get("body").map_err(c)?,
            attempts: row.try_get("attempts").map_err(c)?,
            response_status: row.try_get("response_status").map_err(c)?,
            response_ms: row.try_get("response_ms").map_err(c)?,
            response_body: row.try_get("response_body").map_err(c)?,
            error: row.try_get("error").map_err(c)?,
            last_attempt_at: row
                .try_get::<Option<i64>, _>("last_attempt_at")
                .map_err(c)?
                .map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(row.try_get("created_at").map_err(c)?),
            next_attempt_at: (status == "failed" || status == "queued")
                .then(|| run_at.map(Timestamp::from_millis))
                .flatten(),
            status,
        })
    }
}

/// One attempt's outcome, for the log.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    pub response_status: Option<u16>,
    pub response_ms: i64,
    /// The first KiB of the answer's body.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub ends: DeliveryEnd,
}

/// Where an attempt leaves its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryEnd {
    Succeeded,
    /// Failed; another attempt will follow.
    WillRetry,
    /// Failed for good: refused permanently, or out of attempts.
    Dead,
}

/// An endpoint this attempt's failure disabled: whom to tell.
#[derive(Debug, Clone)]
pub struct DisabledEndpoint {
    pub webhook_id: String,
    pub url: String,
    pub owner_id: String,
    pub notify_email: Option<String>,
    pub failures: i64,
    pub disabled_at: Timestamp,
}

/// Where an endpoint's secrets are stored, what they are sealed for.
fn webhook_context(id: &str) -> String {
    format!("webhook:{id}")
}

/// Where a key's callback secret is stored, what it is sealed for.
fn callback_context(owner: &str) -> String {
    format!("callback:{owner}")
}

impl Db {
    /// An endpoint as stored, its secrets opened.
    fn webhook_of(&self, row: &AnyRow, prefix: &str) -> Result<WebhookRow, DbError> {
        let mut hook = WebhookRow::from_row_prefixed(row, prefix)?;
        let context = webhook_context(&hook.id);
        hook.secret = self.open(&hook.secret, &context)?;
        hook.previous_secret = hook
            .previous_secret
            .map(|s| self.open(&s, &context))
            .transpose()?;
        Ok(hook)
    }

    pub async fn create_webhook(&self, hook: &NewWebhook) -> Result<WebhookRow, DbError> {
        let now = Timestamp::now().millis();
        let id = format!("wh_{}", uuid::Uuid::now_v7().simple());
        let secret = self.seal(&hook.secret, &webhook_context(&id))?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO webhooks (id, owner_id, url, events, description, secret, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {WEBHOOK_COLUMNS}"
        )))
        .bind(id)
        .bind(hook.owner_id.clone())
        .bind(hook.url.clone())
        .bind(serde_json::to_string(&hook.events).expect("strings serialize"))
        .bind(hook.description.clone())
        .bind(secret)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        self.webhook_of(&row, "")
    }

    /// One endpoint, if it exists and (with `owner`) belongs to that key.
    pub async fn get_webhook(
        &self,
        id: &str,
        owner: Option<&str>,
    ) -> Result<Option<WebhookRow>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = $1 AND ($2 IS NULL OR owner_id = $2)"
        )))
        .bind(id.to_owned())
        .bind(owner.map(str::to_owned))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(|r| self.webhook_of(r, "")).transpose()
    }

    /// A key's endpoints (every key's with `None`), oldest first; a key has few.
    pub async fn list_webhooks(&self, owner: Option<&str>) -> Result<Vec<WebhookRow>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE ($1 IS NULL OR owner_id = $1) \
             ORDER BY created_at, id LIMIT 1000"
        )))
        .bind(owner.map(str::to_owned))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| self.webhook_of(r, "")).collect()
    }

    pub async fn count_webhooks(&self, owner: &str) -> Result<i64, DbError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE owner_id = $1")
            .bind(owner.to_owned())
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }

    /// Applies a change; `None` when there is no such endpoint (of that owner).
    pub async fn update_webhook(
        &self,
        id: &str,
        owner: Option<&str>,
        change: &WebhookChange,
    ) -> Result<Option<WebhookRow>, DbError> {
        let now = Timestamp::now().millis();
        let (description_set, description) = match &change.description {
            Some(d) => (1i64, d.clone()),
            None => (0, None),
        };
        let (secret, until) = match &change.rotate {
            Some((s, until)) => (
                Some(self.seal(s, &webhook_context(id))?),
                Some(until.millis()),
            ),
            None => (None, None),
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE webhooks SET \
             url = COALESCE($3, url), \
             events = COALESCE($4, events), \
             description = CASE WHEN $5 = 1 THEN $6 ELSE description END, \
             previous_secret = CASE WHEN $7 IS NULL THEN previous_secret ELSE secret END, \
             previous_secret_until = CASE WHEN $7 IS NULL THEN previous_secret_until ELSE $8 END, \
             secret = COALESCE($7, secret), \
             disabled_at = CASE WHEN $9 = 1 THEN NULL WHEN $9 = 0 THEN COALESCE(disabled_at, $10) \
                           ELSE disabled_at END, \
             disabled_reason = CASE WHEN $9 = 1 THEN NULL WHEN $9 = 0 THEN 'disabled by its owner' \
                               ELSE disabled_reason END, \
             consecutive_failures = CASE WHEN $9 = 1 THEN 0 ELSE consecutive_failures END, \
             updated_at = $10 \
             WHERE id = $1 AND ($2 IS NULL OR owner_id = $2) RETURNING {WEBHOOK_COLUMNS}"
        )))
        .bind(id.to_owned())
        .bind(owner.map(str::to_owned))
        .bind(change.url.clone())
        .bind(
            change
                .events
                .as_ref()
                .map(|e| serde_json::to_string(e).expect("strings serialize")),
        )
        .bind(description_set)
        .bind(description)
        .bind(secret)
        .bind(until)
        .bind(change.enabled.map(i64::from).unwrap_or(-1))
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(|r| self.webhook_of(r, "")).transpose()
    }

    /// Deletes an endpoint; its deliveries still waiting end `cancelled`. False when there
    /// is no such endpoint.
    pub async fn delete_webhook(&self, id: &str, owner: Option<&str>) -> Result<bool, DbError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool().begin().await?;
        let done =
            sqlx::query("DELETE FROM webhooks WHERE id = $1 AND ($2 IS NULL OR owner_id = $2)")
                .bind(id.to_owned())
                .bind(owner.map(str::to_owned))
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE jobs SET status = 'cancelled', finished_at = $2, updated_at = $2, \
             error_code = 'endpoint_deleted', error_message = 'the webhook was deleted' \
             WHERE kind = 'webhook' AND status IN ('queued', 'failed') \
             AND id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
        )
        .bind(id.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The delivery and, for an endpoint's, the endpoint as it is now (`None` once deleted):
    /// one query.
    pub async fn delivery_target(
        &self,
        id: JobId,
    ) -> Result<Option<(DeliveryRow, Option<WebhookRow>)>, DbError> {
        // Built once: every delivery attempt runs it.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            let hook_columns = WEBHOOK_COLUMNS
                .split(", ")
                .map(|c| format!("w.{c} AS w_{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "SELECT {DELIVERY_COLUMNS}, {hook_columns} FROM webhook_deliveries d \
                 LEFT JOIN jobs j ON j.id = d.id LEFT JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.id = $1"
            )
        });
        let row = sqlx::query(AssertSqlSafe(SQL.as_str()))
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let delivery = DeliveryRow::from_row(&row)?;
        let hook = match row.try_get::<Option<String>, _>("w_id")? {
            Some(_) => Some(self.webhook_of(&row, "w_")?),
            None => None,
        };
        Ok(Some((delivery, hook)))
    }

    /// The secret that signs `owner`'s `callback_url` deliveries, made on first use.
    pub async fn callback_secret(&self, owner: &str) -> Result<String, DbError> {
        let context = callback_context(owner);
        let secret: Option<String> = sqlx::query_scalar(
            "UPDATE api_keys SET callback_secret = COALESCE(callback_secret, $2) WHERE id = $1 \
             RETURNING callback_secret",
        )
        .bind(owner.to_owned())
        .bind(self.seal(&crate::webhooks::new_secret(), &context)?)
        .fetch_optional(self.pool())
        .await?;
        // Only keys submit with a `callback_url`.
        let stored = secret.ok_or_else(|| DbError::Other(format!("no API key `{owner}`")))?;
        self.open(&stored, &context)
    }

    /// Seals what is stored in the clear (rows from before secrets were sealed) or under
    /// `secrets.previous_kek`, with the current key; each row a conditional update, so any
    /// number of processes may do it at once. Run at every start; how many were sealed.
    pub async fn seal_stored_secrets(&self) -> Result<usize, DbError> {
        let Some(sealer) = self.sealer() else {
            return Ok(0);
        };
        let mut sealed = 0;
        let hooks = sqlx::query("SELECT id, secret, previous_secret FROM webhooks")
            .fetch_all(self.pool())
            .await?;
        for row in &hooks {
            let id: String = row.try_get("id")?;
            let secret: String = row.try_get("secret")?;
            let previous: Option<String> = row.try_get("previous_secret")?;
            if !sealer.is_stale(&secret) && !previous.as_deref().is_some_and(|p| sealer.is_stale(p))
            {
                continue;
            }
            let context = webhook_context(&id);
            let reseal = |s: &str| -> Result<String, DbError> {
                if sealer.is_stale(s) {
                    self.seal(&self.open(s, &context)?, &context)
                } else {
                    Ok(s.to_owned())
                }
            };
            let done = sqlx::query(
                "UPDATE webhooks SET secret = $2, previous_secret = $3 WHERE id = $1 \
                 AND secret = $4 AND previous_secret IS NOT DISTINCT FROM $5",
            )
            .bind(id.clone())
            .bind(reseal(&secret)?)
            .bind(previous.as_deref().map(reseal).transpose()?)
            .bind(secret.clone())
            .bind(previous.clone())
            .execute(self.pool())
            .await?;
            sealed += done.rows_affected() as usize;
        }
        let keys = sqlx::query(
            "SELECT id, callback_secret FROM api_keys WHERE callback_secret IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        for row in &keys {
            let id: String = row.try_get("id")?;
            let stored: String = row.try_get("callback_secret")?;
            if !sealer.is_stale(&stored) {
                continue;
            }
            let context = callback_context(&id);
            let done = sqlx::query(
                "UPDATE api_keys SET callback_secret = $2 WHERE id = $1 AND callback_secret = $3",
            )
            .bind(id.clone())
            .bind(self.seal(&self.open(&stored, &context)?, &context)?)
            .bind(stored.clone())
            .execute(self.pool())
            .await?;
            sealed += done.rows_affected() as usize;
        }
        sealed += self.reseal_secret_settings().await?;
        Ok(sealed)
    }

    /// Logs an attempt and keeps the endpoint's count of failed deliveries in a row: reset
    /// by a delivery that succeeded, one more for one that died; reaching `disable_after`
    /// (0 = never) disables the endpoint, returned so the caller can tell its owner. An
    /// attempt that will be retried changes no count. `endpoint_failures`: the count as the
    /// attempt read it (a success with none to reset writes only the log). The email
    /// `notice` makes for a disabled endpoint is inserted in the same transaction, so it
    /// exists exactly when the disabling does; returned with the endpoint, to push.
    pub async fn record_delivery_attempt(
        &self,
        id: JobId,
        attempt: &DeliveryAttempt,
        disable_after: u32,
        endpoint_failures: i64,
        notice: impl FnOnce(&DisabledEndpoint) -> Option<NewJob>,
    ) -> Result<Option<(DisabledEndpoint, Option<NewJob>)>, DbError> {
        let now = Timestamp::now().millis();
        let log = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, response_status = $2, \
             response_ms = $3, response_body = $4, error = $5, last_attempt_at = $6 \
             WHERE id = $1 RETURNING webhook_id",
        )
        .bind(id.to_string())
        .bind(attempt.response_status.map(i64::from))
        .bind(attempt.response_ms)
        .bind(attempt.response_body.clone())
        .bind(attempt.error.clone())
        .bind(now);
        // The common cases change no count: one statement, no transaction.
        let counts = match attempt.ends {
            DeliveryEnd::WillRetry => false,
            DeliveryEnd::Succeeded => endpoint_failures != 0,
            DeliveryEnd::Dead => true,
        };
        if !counts {
            let _: Option<Option<String>> = log.fetch_optional(self.pool()).await?;
            return Ok(None);
        }
        let mut tx = self.pool().begin().await?;
        let webhook: Option<Option<String>> = log.fetch_optional(&mut *tx).await?;
        let Some(Some(webhook)) = webhook else {
            tx.commit().await?;
            return Ok(None);
        };
        let disabled = if attempt.ends == DeliveryEnd::Succeeded {
            sqlx::query(
                "UPDATE webhooks SET consecutive_failures = 0 WHERE id = $1 \
                 AND consecutive_failures <> 0",
            )
            .bind(webhook.clone())
            .execute(&mut *tx)
            .await?;
            None
        } else {
            let row = sqlx::query(
                "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1, \
                 disabled_at = CASE WHEN $2 > 0 AND disabled_at IS NULL \
                     AND consecutive_failures + 1 >= $2 THEN $3 ELSE disabled_at END, \
                 disabled_reason = CASE WHEN $2 > 0 AND disabled_at IS NULL \
                     AND consecutive_failures + 1 >= $2 \
                     THEN 'disabled after ' || CAST($2 AS TEXT) || ' consecutive failed deliveries' \
                     ELSE disabled_reason END \
                 WHERE id = $1 RETURNING owner_id, url, consecutive_failures, disabled_at",
            )
            .bind(webhook.clone())
            .bind(i64::from(disable_after))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                Some(row) if row.try_get::<Option<i64>, _>("disabled_at")? == Some(now) => {
                    let owner: String = row.try_get("owner_id")?;
                    let email: Option<String> =
                        sqlx::query_scalar("SELECT notify_email FROM api_keys WHERE id = $1")
                            .bind(owner.clone())
                            .fetch_optional(&mut *tx)
                            .await?
                            .flatten();
                    let disabled = DisabledEndpoint {
                        webhook_id: webhook,
                        url: row.try_get("url")?,
                        owner_id: owner,
                        notify_email: email,
                        failures: row.try_get("consecutive_failures")?,
                        disabled_at: Timestamp::from_millis(now),
                    };
                    let notice = notice(&disabled);
                    if let Some(job) = &notice {
                        insert_job_in(&mut tx, job).await?;
                    }
                    Some((disabled, notice))
                }
                _ => None,
            }
        };
        tx.commit().await?;
        Ok(disabled)
    }

    /// An endpoint's deliveries, newest first: at most `limit` after the cursor
    /// (`created_at`, `id`) of the last one seen.
    pub async fn list_deliveries(
        &self,
        webhook_id: &str,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<DeliveryRow>, DbError> {
        let (at, id) = after.unwrap_or((i64::MAX, String::new()));
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d LEFT JOIN jobs j ON j.id = d.id \
             WHERE d.webhook_id = $1 AND (d.created_at < $2 OR (d.created_at = $2 AND d.id < $3)) \
             ORDER BY d.created_at DESC, d.id DESC LIMIT $4"
        )))
        .bind(webhook_id.to_owned())
        .bind(at)
        .bind(if id.is_empty() { "~".to_owned() } else { id })
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(DeliveryRow::from_row).collect()
    }

    /// Delivers a test event to an endpoint: a delivery job of its own, logged like any.
    pub async fn insert_test_delivery(
        &self,
        hook: &WebhookRow,
        body: &str,
        max_attempts: u32,
    ) -> Result<JobId, DbError> {
        let now = Timestamp::now().millis();
        let job = delivery_job(&hook.owner_id, max_attempts);
        let mut tx = self.pool().begin().await?;
        insert_job_in(&mut tx, &job).await?;
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, owner_id, url, event_seq, \
             event_type, body, created_at) VALUES ($1, $2, $3, $4, 0, 'webhook.test', $5, $6)",
        )
        .bind(job.id.to_string())
        .bind(hook.id.clone())
        .bind(hook.owner_id.clone())
        .bind(hook.url.clone())
        .bind(body.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(job.id)
    }
}
