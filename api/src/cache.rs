//! The per-process template cache: the current version of each template, so a submission
//! does not read the template store on every request.
//!
//! Entries are a template's record with its current version's content, by id and by name,
//! and the list of public templates. A change through the API invalidates this process's
//! entries at once and every other process's through a Redis event within milliseconds. While
//! that channel is down, entries live only [`FALLBACK_TTL`], so a missed invalidation is
//! stale for seconds at most and nothing fails; when it comes back everything is dropped.
//! Compiled typst state is cached separately per (id, version) in the worker, where versions
//! are immutable and need no invalidation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use shared::db::{Db, DbError};
use shared::queue::Queue;
use shared::templates::{TemplateContent, TemplateRecord};

/// How long an entry lives while invalidations arrive: a safety net only.
pub const TTL: Duration = Duration::from_secs(600);
/// How long an entry lives while the invalidation channel is down.
pub const FALLBACK_TTL: Duration = Duration::from_secs(5);
/// Most templates kept.
const CAPACITY: u64 = 1_000;
const TOPIC: &str = "templates";

/// A template with its current version's content.
#[derive(Debug, Clone)]
pub struct CachedTemplate {
    pub record: TemplateRecord,
    pub content: TemplateContent,
}

/// A template by id or by name; `None` remembers that there is none.
type TemplateEntry = Option<Arc<CachedTemplate>>;
/// The public templates, under the one key `()`.
type ListEntry = Arc<Vec<TemplateRecord>>;

/// Short lifetimes for entries made while the channel is down.
struct ChannelExpiry {
    up: Arc<AtomicBool>,
}

impl<K, V> Expiry<K, V> for ChannelExpiry {
    fn expire_after_create(&self, _: &K, _: &V, _: Instant) -> Option<Duration> {
        Some(if self.up.load(Ordering::Relaxed) {
            TTL
        } else {
            FALLBACK_TTL
        })
    }
}

/// Counters since start; `entries` is the current count.
#[derive(Debug, Clone, Serialize)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Reads that skipped the cache (`use_cache=false`).
    pub bypasses: u64,
    /// Invalidations applied: local changes and those received from other processes.
    pub invalidations: u64,
    pub entries: u64,
}

/// Whether invalidations reach every process.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelHealth {
    /// `redis` (cross-process) or `local` (SQLite deployment: one process).
    pub channel: &'static str,
    pub up: bool,
    /// Entry lifetime now in force, in seconds.
    pub ttl_secs: u64,
}

#[derive(Clone)]
pub struct TemplateCache {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    queue: Queue,
    templates: Cache<String, TemplateEntry>,
    lists: Cache<(), ListEntry>,
    up: Arc<AtomicBool>,
    hits: AtomicU64,
    misses: AtomicU64,
    bypasses: AtomicU64,
    invalidations: AtomicU64,
}

impl TemplateCache {
    /// Builds the cache; call [`TemplateCache::listen`] to receive other processes'
    /// invalidations.
    pub fn new(db: Db, queue: Queue) -> Self {
        let up = Arc::new(AtomicBool::new(false));
        let templates = Cache::builder()
            .max_capacity(CAPACITY)
            .expire_after(ChannelExpiry { up: up.clone() })
            .build();
        let lists = Cache::builder()
            .max_capacity(4)
            .expire_after(ChannelExpiry { up: up.clone() })
            .build();
        Self {
            inner: Arc::new(Inner {
                db,
                queue,
                templates,
                lists,
                up,
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                bypasses: AtomicU64::new(0),
                invalidations: AtomicU64::new(0),
            }),
        }
    }

    /// Applies invalidations published by other processes until `stop`. Run it once per
    /// process, in the background.
    pub async fn listen(&self, stop: CancellationToken) {
        let on_message = {
            let cache = self.clone();
            move |_: &str| cache.drop_all()
        };
        let on_state = {
            let cache = self.clone();
            move |up: bool| {
                if up {
                    // Changes made while we were not listening are unknown: start afresh.
                    cache.drop_all();
                }
                cache.inner.up.store(up, Ordering::Relaxed);
                if up {
                    tracing::info!("template cache invalidation channel up");
                } else {
                    tracing::warn!(
                        fallback_ttl_secs = FALLBACK_TTL.as_secs(),
                        "template cache invalidation channel down; entries expire quickly"
                    );
                }
            }
        };
        self.inner
            .queue
            .subscribe(TOPIC, on_message, on_state, stop)
            .await;
    }

    fn drop_all(&self) {
        self.inner.templates.invalidate_all();
        self.inner.lists.invalidate_all();
        self.inner.invalidations.fetch_add(1, Ordering::Relaxed);
        shared::metrics::template_cache_invalidated();
    }

    /// A live template by id or name with its current version. `use_cache = false` reads
    /// the database (and refreshes the entry).
    pub async fn get(&self, id_or_name: &str, use_cache: bool) -> Result<TemplateEntry, DbError> {
        let key = id_or_name.to_owned();
        let db = self.inner.db.clone();
        let loading = async move { load(&db, id_or_name).await };
        self.cached(&self.inner.templates, key, use_cache, loading)
            .await
    }

    /// Live public templates by name.
    pub async fn public_list(&self, use_cache: bool) -> Result<ListEntry, DbError> {
        let db = self.inner.db.clone();
        let loading = async move { db.list_templates(true).await.map(Arc::new) };
        self.cached(&self.inner.lists, (), use_cache, loading).await
    }

    /// One read through `cache`, counted: a hit, a miss (loaded once however many ask at the
    /// same moment), or a bypass that reloads and refreshes the entry.
    async fn cached<K, V>(
        &self,
        cache: &Cache<K, V>,
        key: K,
        use_cache: bool,
        loading: impl std::future::Future<Output = Result<V, DbError>>,
    ) -> Result<V, DbError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let inner = &self.inner;
        if !use_cache {
            inner.bypasses.fetch_add(1, Ordering::Relaxed);
            let loaded = loading.await?;
            cache.insert(key, loaded.clone()).await;
            return Ok(loaded);
        }
        if let Some(hit) = cache.get(&key).await {
            inner.hits.fetch_add(1, Ordering::Relaxed);
            shared::metrics::template_cache(true);
            return Ok(hit);
        }
        inner.misses.fetch_add(1, Ordering::Relaxed);
        shared::metrics::template_cache(false);
        cache
            .try_get_with(key, loading)
            .await
            .map_err(|e: Arc<DbError>| (*e).clone())
    }

    /// After a change: drops this process's entries and tells the others. A failed publish
    /// is logged, not returned: the change is committed, and other processes' entries
    /// expire within [`FALLBACK_TTL`] once they notice the channel is down.
    pub async fn invalidate(&self) {
        self.drop_all();
        if let Err(e) = self.inner.queue.publish(TOPIC, "changed").await {
            tracing::warn!(error = %e, "could not broadcast a template cache invalidation");
        }
    }

    pub async fn stats(&self) -> CacheStats {
        self.inner.templates.run_pending_tasks().await;
        self.inner.lists.run_pending_tasks().await;
        CacheStats {
            hits: self.inner.hits.load(Ordering::Relaxed),
            misses: self.inner.misses.load(Ordering::Relaxed),
            bypasses: self.inner.bypasses.load(Ordering::Relaxed),
            invalidations: self.inner.invalidations.load(Ordering::Relaxed),
            entries: self.inner.templates.entry_count() + self.inner.lists.entry_count(),
        }
    }

    pub fn health(&self) -> ChannelHealth {
        let cross = self.inner.queue.has_event_channel();
        let up = self.inner.up.load(Ordering::Relaxed);
        ChannelHealth {
            channel: if cross { "redis" } else { "local" },
            up,
            ttl_secs: if up { TTL } else { FALLBACK_TTL }.as_secs(),
        }
    }
}

async fn load(db: &Db, id_or_name: &str) -> Result<Option<Arc<CachedTemplate>>, DbError> {
    let Some(record) = db.find_template(id_or_name).await? else {
        return Ok(None);
    };
    let version = db
        .template_version(&record.id, record.version)
        .await?
        .ok_or_else(|| {
            DbError::Corrupt(format!("template {} has no current version", record.id))
        })?;
    Ok(Some(Arc::new(CachedTemplate {
        record,
        content: version.content,
    })))
}
