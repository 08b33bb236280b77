//! API keys. A key is 32 random bytes shown once; only its SHA-256 is stored (a fast hash is
//! right here: the key has 256 bits of entropy, so there is nothing to brute-force).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, DbError};
use crate::config::Secret;
use crate::domain::Timestamp;

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
    })
}

impl Db {
    pub async fn create_key(&self, name: &str, is_admin: bool) -> Result<NewApiKey, DbError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let id = uuid::Uuid::now_v7().to_string();
        let prefix: String = secret.chars().take(10).collect();
        let row = sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, prefix, is_admin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             RETURNING id, name, prefix, is_admin, created_at, revoked_at",
        )
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
        let row = sqlx::query(
            "SELECT id, name, prefix, is_admin, created_at, revoked_at FROM api_keys \
             WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(hash_key(secret))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn list_keys(&self) -> Result<Vec<ApiKey>, DbError> {
        let rows = sqlx::query(
            "SELECT id, name, prefix, is_admin, created_at, revoked_at FROM api_keys \
             ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(key_from_row).collect()
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
