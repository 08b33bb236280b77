//! API key authentication with a short in-process cache, so a burst of submissions does not
//! cost one key lookup per request. A key revoked through this process is forgotten at once;
//! one revoked elsewhere (the CLI, another API process) stops working within `KEY_TTL`, and
//! a key's email limits changed by the CLI apply within `KEY_TTL` too.

use std::time::Duration;

use moka::future::Cache;
use shared::db::{Db, hash_key};

use crate::error::ApiError;
use crate::extract::Caller;

const KEY_TTL: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct KeyCache {
    /// SHA-256 of the key -> caller; `None` caches "no such live key" too, briefly.
    cache: Cache<String, Option<Caller>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(KEY_TTL)
                .build(),
        }
    }
}

impl KeyCache {
    pub async fn authenticate(&self, db: &Db, secret: &str) -> Result<Caller, ApiError> {
        let hash = hash_key(secret);
        if let Some(hit) = self.cache.get(&hash).await {
            return hit.ok_or(ApiError::Unauthorized("unknown or revoked API key"));
        }
        let found = db.find_key(secret).await?.map(|k| Caller {
            key_id: k.id,
            is_admin: k.is_admin,
            email: k.email,
        });
        self.cache.insert(hash, found.clone()).await;
        found.ok_or(ApiError::Unauthorized("unknown or revoked API key"))
    }

    /// Forget every cached key (after a revocation through this process).
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }
}
