//! API key authentication with a short in-process cache, so a burst of submissions does not
//! cost one key lookup per request. A key revoked through this process is forgotten at once;
//! one revoked elsewhere (the CLI, another API process) stops working within `KEY_TTL`, and
//! a key's email limits changed by the CLI apply within `KEY_TTL` too.

use std::time::Duration;

use moka::future::Cache;
use shared::db::{Db, hash_key};

use crate::error::ApiError;

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
        let found = db.find_key(secret).await?.map(Caller::of_key);
        self.cache.insert(hash, found.clone()).await;
        found.ok_or(ApiError::Unauthorized("unknown or revoked API key"))
    }

    /// Forget every cached key (after a revocation through this process).
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }
}

/// The authenticated caller: every `/v1` endpoint but public ones takes one.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub is_admin: bool,
    /// The key's own email quotas and recipient domains (cached with the key).
    pub email: shared::db::KeyEmailLimits,
    /// The key's own rate limit, waiting-jobs quota and weight (cached with the key).
    pub service: shared::db::KeyServiceLimits,
    /// Networks its webhook and callback targets may reach although not public.
    pub networks: shared::webhooks::Networks,
}

impl Caller {
    /// The caller a key stands for.
    pub fn of_key(key: shared::db::ApiKey) -> Caller {
        Caller {
            key_id: key.id,
            is_admin: key.is_admin,
            email: key.email,
            service: key.service,
            networks: key.allow_networks,
        }
    }

    /// The system, owner of the jobs schedules enqueue (also those run on request).
    pub fn system() -> Caller {
        Caller {
            key_id: shared::db::SYSTEM_OWNER.to_owned(),
            is_admin: true,
            email: Default::default(),
            service: Default::default(),
            networks: Default::default(),
        }
    }

    /// The owner filter for queries: admins see every owner's jobs.
    pub fn owner_filter(&self) -> Option<&str> {
        (!self.is_admin).then_some(self.key_id.as_str())
    }

    /// Public templates are everyone's; others only their owner's and admins'.
    pub fn may_read(&self, template: &shared::templates::TemplateRecord) -> bool {
        template.is_public || self.is_admin || template.owner_id == self.key_id
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this endpoint needs an admin key"))
        }
    }
}
