//! The API's cache layer: every cached read goes through a [`Tier`] of [`Caches`], and every
//! committed change invalidates exactly the tags it touches, in every API process.
//!
//! The changes themselves say what they touched: database triggers (migration 0021) emit
//! tags (`key:<hash>`, `template:<id>`, `template-name:<name>`, `templates`, `cert:<code>`,
//! `job:<id>`, `job:*`, `registry`) that [`Caches::listen`] applies as they commit — through
//! PostgreSQL `NOTIFY`, or SQLite's invalidation log. No code path can forget one, a rolled
//! back change invalidates nothing, and Redis plays no part: with Redis down every cache
//! stays exact. While the database's channel is down nothing is stored (reads go to the
//! database) and when it is back everything is dropped, since changes meanwhile are unknown.
//!
//! A change's answer waits until no process can serve what it replaced: the route drops the
//! tags itself ([`Caches::settle`]) and, on PostgreSQL, sends a fence after the commit and
//! waits (at most [`SETTLE_WAIT`]) until every listening API process has answered it, which
//! each does after applying every change before it. So a read that starts after the answer,
//! through any process, sees the change. Lifetimes (`cache.*_ttl_secs`) are a safety net
//! only.
//!
//! Tiers: API keys by hash, templates (by id or name, and the public list), public
//! verifications by code, public registry pages, finished jobs' views.

mod templates;
mod tier;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use serde::Serialize;
use shared::config::CacheSettings;
use shared::db::{CertificateRow, DatabaseBackend, Db, Invalidation, JobRow};
use shared::domain::JobId;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use templates::{CachedTemplate, ListEntry, TemplateCache, TemplateEntry};
pub use tier::{Tier, TierStats};

use crate::auth::Caller;
use tier::{Invalidate, TierSpec};

/// The tag prefix of a fence, and of its answers (see `shared::db::invalidations`).
const FENCE: &str = "fence:";
const ACK: &str = "ack:";

/// Longest a change's request waits for every process to answer its fence: a millisecond
/// or two on an idle machine, long enough for a loaded one (a test saw 250 ms run out with
/// the two cores busy building). Only revocations and template changes wait.
const SETTLE_WAIT: Duration = Duration::from_secs(2);

/// A finished job's answer: its owner (checked on every hit) and the JSON body.
pub struct FinishedView {
    pub owner: String,
    pub body: Bytes,
}

/// A public registry page: its JSON body and the template it was filtered by.
#[derive(Clone)]
pub struct RegistryPage {
    pub body: Bytes,
    pub template: Option<String>,
}

/// Every cache of one API process. Cloning is cheap.
#[derive(Clone)]
pub struct Caches {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    enabled: bool,
    /// Whether invalidations arrive now.
    up: Arc<AtomicBool>,
    keys: Tier<String, Option<Caller>>,
    templates: Tier<String, TemplateEntry>,
    template_lists: Tier<(), ListEntry>,
    verifications: Tier<String, Option<Arc<CertificateRow>>>,
    registry: Tier<String, RegistryPage>,
    finished: Tier<JobId, Arc<FinishedView>>,
    /// This process's fences in flight: answers received so far.
    fences: Mutex<HashMap<String, i64>>,
    /// Woken by every answer to a fence of this process.
    answered: Notify,
}

/// Whether invalidations reach this process, for `/ready` and `quire cache health`.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelHealth {
    /// `postgres` (`NOTIFY` from the triggers, every API process), `sqlite` (the
    /// invalidation log, read every 50 ms) or `off` (`cache.enabled = false`).
    pub channel: &'static str,
    pub up: bool,
}

impl Caches {
    pub fn new(db: Db, settings: &CacheSettings) -> Self {
        let up = Arc::new(AtomicBool::new(false));
        let secs = Duration::from_secs;
        let inner = Inner {
            keys: Tier::new(
                TierSpec {
                    name: "keys",
                    prefixes: &["key:"],
                    ttl: secs(settings.keys_ttl_secs),
                    max_bytes: 8 << 20,
                    weigh: |k: &String, _| 300 + k.len() as u32,
                },
                up.clone(),
            ),
            templates: Tier::new(
                TierSpec {
                    name: "templates",
                    prefixes: &["template:", "template-name:"],
                    ttl: secs(settings.templates_ttl_secs),
                    max_bytes: 64 << 20,
                    weigh: |k: &String, v: &TemplateEntry| {
                        let content = v.as_ref().map_or(0, |t| {
                            let c = &t.content;
                            c.source.len() + c.assets.values().map(Vec::len).sum::<usize>()
                        });
                        (200 + k.len() + content).min(u32::MAX as usize) as u32
                    },
                },
                up.clone(),
            ),
            template_lists: Tier::new(
                TierSpec {
                    name: "template_lists",
                    prefixes: &["templates"],
                    ttl: secs(settings.templates_ttl_secs),
                    max_bytes: 4 << 20,
                    weigh: |_, v: &ListEntry| (200 * v.len() + 64) as u32,
                },
                up.clone(),
            ),
            verifications: Tier::new(
                TierSpec {
                    name: "verifications",
                    prefixes: &["cert:", "job:"],
                    ttl: secs(settings.verifications_ttl_secs),
                    max_bytes: 32 << 20,
                    weigh: |_, _: &Option<Arc<CertificateRow>>| 600,
                },
                up.clone(),
            ),
            registry: Tier::new(
                TierSpec {
                    name: "registry",
                    prefixes: &["registry", "templates"],
                    ttl: secs(settings.registry_ttl_secs),
                    max_bytes: 16 << 20,
                    weigh: |k: &String, v: &RegistryPage| (k.len() + v.body.len() + 64) as u32,
                },
                up.clone(),
            ),
            finished: Tier::new(
                TierSpec {
                    name: "finished_jobs",
                    prefixes: &["job:"],
                    ttl: secs(settings.finished_jobs_ttl_secs),
                    max_bytes: 32 << 20,
                    weigh: |_, v: &Arc<FinishedView>| (v.body.len() + v.owner.len() + 64) as u32,
                },
                up.clone(),
            ),
            db,
            enabled: settings.enabled,
            up,
            fences: Mutex::default(),
            answered: Notify::new(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    fn tiers(&self) -> [&dyn Invalidate; 6] {
        let i = &self.inner;
        [
            &i.keys,
            &i.templates,
            &i.template_lists,
            &i.verifications,
            &i.registry,
            &i.finished,
        ]
    }

    pub fn keys(&self) -> &Tier<String, Option<Caller>> {
        &self.inner.keys
    }

    /// Public verifications by code; `None` (no such code) is not kept.
    pub fn verifications(&self) -> &Tier<String, Option<Arc<CertificateRow>>> {
        &self.inner.verifications
    }

    pub fn registry(&self) -> &Tier<String, RegistryPage> {
        &self.inner.registry
    }

    pub fn finished(&self) -> &Tier<JobId, Arc<FinishedView>> {
        &self.inner.finished
    }

    /// Applies committed changes until `stop`. Run once per API process, in the background.
    pub async fn listen(&self, stop: CancellationToken) {
        if !self.inner.enabled {
            // Never up: nothing is ever stored, every read goes to the database.
            return;
        }
        let mut changes = self.inner.db.cache_invalidations();
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return,
                next = changes.next() => next,
            };
            match next {
                Invalidation::Tags(tags) => self.apply(&tags),
                Invalidation::Missed => {
                    self.clear();
                    if !self.inner.up.swap(true, Ordering::AcqRel) {
                        tracing::info!("cache invalidations arriving; caching");
                    }
                }
                Invalidation::Down => {
                    if self.inner.up.swap(false, Ordering::AcqRel) {
                        tracing::warn!(
                            "cache invalidations interrupted; reading the database until they are back"
                        );
                    }
                    self.clear();
                }
            }
        }
    }

    /// Drops the entries `tags` touch, here: a change through this process reads its own
    /// write at once, whatever the channel is doing.
    pub fn invalidate(&self, tags: &[String]) {
        for tag in tags {
            for tier in self.tiers() {
                tier.invalidate(tag);
            }
        }
    }

    /// Committed changes' tags, from the database, in commit order: dropped; then fences
    /// answered (everything before them is applied) and answers to this process's counted.
    fn apply(&self, tags: &[String]) {
        self.invalidate(tags);
        for tag in tags {
            if let Some(nonce) = tag.strip_prefix(FENCE) {
                let (db, nonce) = (self.inner.db.clone(), nonce.to_owned());
                tokio::spawn(async move {
                    if let Err(e) = db.cache_ack(&nonce).await {
                        tracing::warn!(error = %e, "cannot answer a cache fence");
                    }
                });
            } else if let Some(nonce) = tag.strip_prefix(ACK)
                && let Some(answers) = self.fences().get_mut(nonce)
            {
                *answers += 1;
                self.inner.answered.notify_waiters();
            }
        }
    }

    /// Drops everything this process holds.
    pub fn clear(&self) {
        for tier in self.tiers() {
            tier.clear();
        }
    }

    /// After a change of `tags` committed: drops them here at once, then (PostgreSQL, while
    /// listening) waits until every API process has applied the change, at most
    /// [`SETTLE_WAIT`]. Changes that answer at once call it; others are applied as they
    /// arrive.
    pub async fn settle(&self, tags: &[String]) {
        self.invalidate(tags);
        let listening = self.inner.db.backend() == DatabaseBackend::Postgres
            && self.inner.up.load(Ordering::Acquire);
        if !listening {
            // SQLite: one API process; other writers (the CLI) are read within 50 ms.
            return;
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        self.fences().insert(nonce.clone(), 0);
        let fenced = tokio::time::timeout(SETTLE_WAIT, async {
            let listeners = match self.inner.db.cache_fence(&nonce).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot send a cache fence");
                    return false;
                }
            };
            loop {
                let answered = self.inner.answered.notified();
                tokio::pin!(answered);
                answered.as_mut().enable();
                if self.fences().get(&nonce).is_some_and(|n| *n >= listeners) {
                    return true;
                }
                answered.await;
            }
        })
        .await;
        self.fences().remove(&nonce);
        if !matches!(fenced, Ok(true)) {
            tracing::warn!(
                "not every API process answered a cache fence within {SETTLE_WAIT:?}; their lifetimes bound what they serve"
            );
        }
    }

    fn fences(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.inner.fences.lock().expect("cache fences lock")
    }

    pub fn stats(&self) -> Vec<TierStats> {
        self.tiers().iter().map(|t| t.stats()).collect()
    }

    /// Sets the entry and byte gauges of every tier (before `/metrics` renders).
    pub fn export_gauges(&self) {
        for s in self.stats() {
            shared::metrics::cache_size(s.name, s.entries, s.bytes);
        }
    }

    pub fn health(&self) -> ChannelHealth {
        let channel = match (self.inner.enabled, self.inner.db.backend()) {
            (false, _) => "off",
            (true, DatabaseBackend::Postgres) => "postgres",
            (true, DatabaseBackend::Sqlite) => "sqlite",
        };
        ChannelHealth {
            channel,
            up: self.inner.up.load(Ordering::Acquire),
        }
    }

    /// The tags of a verification answer: it is kept only once its job has finished (a
    /// pending certificate changes without a tagged change when it renders).
    pub fn verification_tags(row: &CertificateRow) -> Option<Vec<String>> {
        row.job_status.is_terminal().then(|| {
            vec![
                format!("cert:{}", row.verification_code),
                format!("job:{}", row.job_id),
            ]
        })
    }

    /// Keeps a finished job's answer (see [`Tier::store`]).
    pub fn store_finished(&self, generation: u64, row: &JobRow, body: &Bytes) {
        if !row.status.is_terminal() {
            return;
        }
        let view = Arc::new(FinishedView {
            owner: row.owner_id.clone(),
            body: body.clone(),
        });
        self.inner
            .finished
            .store(generation, row.id, view, vec![format!("job:{}", row.id)]);
    }
}
