//! API key authentication through the cache layer's `keys` tier, so a burst of submissions
//! does not cost one key lookup per request. A key's row changing anywhere (a revocation
//! through any API process or the CLI, new limits) drops its entry in every API process as
//! the change commits (see `cache`); an unknown key is remembered as such until a key with
//! that hash is created.

use shared::db::{Db, hash_key};

use crate::cache::Caches;
use crate::error::ApiError;

#[derive(Clone)]
pub struct KeyCache {
    caches: Caches,
}

impl KeyCache {
    pub fn new(caches: Caches) -> Self {
        Self { caches }
    }

    pub async fn authenticate(&self, db: &Db, secret: &str) -> Result<Caller, ApiError> {
        let hash = hash_key(secret);
        let tag = format!("key:{hash}");
        let loading = async { db.find_key(secret).await.map(|k| k.map(Caller::of_key)) };
        let found = self
            .caches
            .keys()
            .load(&hash, loading, |_| Some(vec![tag]))
            .await?;
        found.ok_or(ApiError::Unauthorized("unknown or revoked API key"))
    }

    /// After a key's revocation committed (through this process, which does not know the
    /// key's hash): every API process has forgotten it when this returns.
    pub async fn revoked(&self) {
        self.caches.settle(&["key:*".to_owned()]).await;
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
