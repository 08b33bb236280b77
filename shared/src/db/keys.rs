//! API keys. A key is 32 random bytes shown once; only its SHA-256 is stored (a fast hash is
//! right here: the key has 256 bits of entropy, so there is nothing to brute-force).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::pool::{Db, DbError};
use crate::domain::{EmailDomains, Timestamp};
use crate::secret::Secret;
use crate::webhooks::Networks;

/// The prefix every key starts with, so leaked keys are easy to recognise and scan for.
const KEY_PREFIX: &str = "qk_";

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to tell keys apart in listings.
    pub prefix: String,
    pub is_admin: bool,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub email: KeyEmailLimits,
    pub service: KeyServiceLimits,
    /// Networks its webhook and callback targets may resolve into although not public
    /// (besides `webhooks.allow_networks`); empty: none of its own.
    pub allow_networks: Networks,
}

/// A key's own share of the service; `None` follows the settings (`rate_limit.per_key`,
/// `quotas.max_waiting_jobs`) or, for the weight, 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyServiceLimits {
    /// Requests per `rate_limit.window_secs`; 0 is unlimited.
    pub rate_limit: Option<u64>,
    /// Jobs waiting (scheduled, queued, failed, running) at once; 0 is unlimited.
    pub max_waiting_jobs: Option<u64>,
    /// Turns among keys sharing a priority, 1 to 100 (2 runs twice as many jobs as 1).
    pub weight: Option<u64>,
}

/// A key's own email limits; `None` follows the settings (`email.quota_per_hour`,
/// `email.quota_per_day`) or, for domains, allows any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyEmailLimits {
    /// 0 is unlimited.
    pub quota_per_hour: Option<u64>,
    /// 0 is unlimited.
    pub quota_per_day: Option<u64>,
    pub domains: Option<EmailDomains>,
}

/// A key just created: the only moment the key itself exists outside the client.
#[derive(Debug)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: Secret<String>,
}

pub fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn key_from_row(row: &AnyRow) -> Result<ApiKey, DbError> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        revoked_at: row
            .try_get::<Option<i64>, _>("revoked_at")?
            .map(Timestamp::from_millis),
        email: KeyEmailLimits {
            quota_per_hour: quota(row, "email_quota_per_hour")?,
            quota_per_day: quota(row, "email_quota_per_day")?,
            domains: row
                .try_get::<Option<String>, _>("email_domains")?
                .map(|d| EmailDomains::parse(&d).map_err(|e| DbError::Corrupt(e.to_string())))
                .transpose()?,
        },
        service: KeyServiceLimits {
            rate_limit: quota(row, "rate_limit")?,
            max_waiting_jobs: quota(row, "max_waiting_jobs")?,
            weight: quota(row, "fair_weight")?,
        },
        allow_networks: row
            .try_get::<Option<String>, _>("allow_networks")?
            .map(|n| Networks::parse(&n).map_err(DbError::Corrupt))
            .transpose()?
            .unwrap_or_default(),
    })
}

fn quota(row: &AnyRow, column: &str) -> Result<Option<u64>, DbError> {
    row.try_get::<Option<i64>, _>(column)?
        .map(|n| u64::try_from(n).map_err(|_| DbError::Corrupt(format!("{column}: {n}"))))
        .transpose()
}

const KEY_COLUMNS: &str = "id, name, prefix, is_admin, created_at, revoked_at, \
                           email_quota_per_hour, email_quota_per_day, email_domains, \
                           rate_limit, max_waiting_jobs, fair_weight, allow_networks";

impl Db {
    pub async fn create_key(&self, name: &str, is_admin: bool) -> Result<NewApiKey, DbError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let id = uuid::Uuid::now_v7().to_string();
        let prefix: String = secret.chars().take(10).collect();
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO api_keys (id, name, key_hash, prefix, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING {KEY_COLUMNS}"
        )))
        .bind(id)
        .bind(name.to_owned())
        .bind(hash_key(&secret))
        .bind(prefix)
        .bind(i64::from(is_admin))
        .bind(Timestamp::now().millis())
        .fetch_one(self.pool())
        .await?;
        Ok(NewApiKey {
            key: key_from_row(&row)?,
            secret: Secret::new(secret),
        })
    }

    /// The live (not revoked) key with this secret.
    pub async fn find_key(&self, secret: &str) -> Result<Option<ApiKey>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        )))
        .bind(hash_key(secret))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn list_keys(&self) -> Result<Vec<ApiKey>, DbError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Replaces a key's own email limits; `false` when there is no key with this id. API
    /// processes see the change when their cached copy of the key expires (10 s).
    pub async fn set_key_email_limits(
        &self,
        id: &str,
        limits: &KeyEmailLimits,
    ) -> Result<bool, DbError> {
        let quota = |q: Option<u64>| q.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let done = sqlx::query(
            "UPDATE api_keys SET email_quota_per_hour = $2, email_quota_per_day = $3, \
             email_domains = $4 WHERE id = $1",
        )
        .bind(id.to_owned())
        .bind(quota(limits.quota_per_hour))
        .bind(quota(limits.quota_per_day))
        .bind(limits.domains.as_ref().map(ToString::to_string))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets (or with `None` clears) where notices about the key go; `false` when there is
    /// no key with this id.
    pub async fn set_key_notify_email(
        &self,
        id: &str,
        address: Option<&crate::domain::EmailAddress>,
    ) -> Result<bool, DbError> {
        let done = sqlx::query("UPDATE api_keys SET notify_email = $2 WHERE id = $1")
            .bind(id.to_owned())
            .bind(address.map(ToString::to_string))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a key's own service limits; `false` when there is no key with this id.
    /// API processes see the change when their cached copy of the key expires (10 s).
    pub async fn set_key_service_limits(
        &self,
        id: &str,
        limits: &KeyServiceLimits,
    ) -> Result<bool, DbError> {
        let n = |q: Option<u64>| q.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let done = sqlx::query(
            "UPDATE api_keys SET rate_limit = $2, max_waiting_jobs = $3, fair_weight = $4 \
             WHERE id = $1",
        )
        .bind(id.to_owned())
        .bind(n(limits.rate_limit))
        .bind(n(limits.max_waiting_jobs))
        .bind(n(limits.weight))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the networks a key's targets may reach although not public (empty: none);
    /// `false` when there is no key with this id. Applies within the key cache's 10 s.
    pub async fn set_key_allow_networks(
        &self,
        id: &str,
        networks: &Networks,
    ) -> Result<bool, DbError> {
        let done = sqlx::query("UPDATE api_keys SET allow_networks = $2 WHERE id = $1")
            .bind(id.to_owned())
            .bind((!networks.is_empty()).then(|| networks.to_string()))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Jobs of `owner` not finished yet (scheduled, waiting, queued, failed, running): what
    /// `quotas.max_waiting_jobs` bounds. Reads the owner's status index, not the table.
    pub async fn count_waiting_jobs(&self, owner: &str) -> Result<u64, DbError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE owner_id = $1 AND kind <> 'webhook' \
             AND status IN ('scheduled', 'waiting', 'queued', 'failed', 'running')",
        )
        .bind(owner.to_owned())
        .fetch_one(self.pool())
        .await?;
        Ok(n.max(0) as u64)
    }

    pub async fn get_key(&self, id: &str) -> Result<Option<ApiKey>, DbError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// True when a live key with this id was revoked now.
    pub async fn revoke_key(&self, id: &str) -> Result<bool, DbError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.to_owned())
                .bind(Timestamp::now().millis())
                .execute(self.pool())
                .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count_keys(&self) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }
}
