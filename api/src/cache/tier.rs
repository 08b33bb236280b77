//! One in-process cache: entries tagged with what they depend on, dropped when a committed
//! change touches one of their tags, counted for `/metrics` and the stats endpoint.
//!
//! A read that started before an invalidation never stores what it read: [`Tier::load`]
//! takes the tier's generation before reading the database and stores only if no
//! invalidation for this tier came in between (and checks again after storing, so an
//! invalidation that overtakes the insert still wins). Nothing is stored while the
//! invalidation channel is down.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;
use serde::Serialize;

/// A value with the tags it depends on.
#[derive(Clone)]
struct Entry<V> {
    value: V,
    tags: Arc<[String]>,
}

/// Tag -> keys whose entries carry it.
type Index<K> = Arc<Mutex<HashMap<String, HashSet<K>>>>;

/// How a tier is built.
pub struct TierSpec<K, V> {
    /// Its name on `/metrics` and in the stats.
    pub name: &'static str,
    /// The tag prefixes its entries use (`"key:"`): other tags never touch it.
    pub prefixes: &'static [&'static str],
    /// Entry lifetime: a safety net only, changes invalidate entries.
    pub ttl: Duration,
    /// Most bytes kept, as [`TierSpec::weigh`] counts them.
    pub max_bytes: u64,
    /// About how many bytes an entry takes.
    pub weigh: fn(&K, &V) -> u32,
}

/// Counters since start, and what the tier holds now.
#[derive(Debug, Clone, Serialize)]
pub struct TierStats {
    pub name: &'static str,
    pub hits: u64,
    pub misses: u64,
    /// Changes that touched this tier (each drops the entries carrying the tag).
    pub invalidations: u64,
    pub entries: u64,
    /// About how much memory the entries take.
    pub bytes: u64,
}

pub struct Tier<K, V> {
    name: &'static str,
    prefixes: &'static [&'static str],
    entries: Cache<K, Entry<V>>,
    index: Index<K>,
    /// Bumped by every invalidation of this tier.
    generation: AtomicU64,
    /// Whether invalidations arrive (shared by every tier of the process).
    up: Arc<AtomicBool>,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
}

impl<K, V> Tier<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(spec: TierSpec<K, V>, up: Arc<AtomicBool>) -> Self {
        let index: Index<K> = Arc::default();
        let weigh = spec.weigh;
        // No eviction listener prunes the index: its notice of an old entry can come after a
        // new entry of the same key was indexed, and unindex it (a test caught the new entry
        // then outliving three changes). The index is rebuilt from the live entries instead
        // when it grows well past them (`store`).
        let entries = Cache::builder()
            .max_capacity(spec.max_bytes)
            .weigher(move |k: &K, e: &Entry<V>| weigh(k, &e.value))
            .time_to_live(spec.ttl)
            .build();
        Self {
            name: spec.name,
            prefixes: spec.prefixes,
            entries,
            index,
            generation: AtomicU64::new(0),
            up,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        }
    }

    /// The cached value, counted as a hit or a miss.
    pub fn get(&self, key: &K) -> Option<V> {
        let found = self.entries.get(key).map(|e| e.value);
        let (counter, label) = if found.is_some() {
            (&self.hits, true)
        } else {
            (&self.misses, false)
        };
        counter.fetch_add(1, Ordering::Relaxed);
        shared::metrics::cache_read(self.name, label);
        found
    }

    /// The generation a load must see unchanged to store what it read: take it before
    /// reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps `value` under `key` with its `tags`, unless the channel is down or this tier was
    /// invalidated since `generation`.
    pub fn store(&self, generation: u64, key: K, value: V, tags: Vec<String>) {
        if !self.up.load(Ordering::Acquire) || self.generation() != generation {
            return;
        }
        let tags: Arc<[String]> = tags.into();
        {
            // Indexed and inserted under the lock, so a rebuild sees every live entry.
            let mut index = self.index.lock().expect("cache index lock");
            if index.len() as u64 > 4 * self.entries.entry_count() + 10_000 {
                index.clear();
                for (k, e) in self.entries.iter() {
                    for tag in e.tags.iter() {
                        index.entry(tag.clone()).or_default().insert((*k).clone());
                    }
                }
            }
            for tag in tags.iter() {
                index.entry(tag.clone()).or_default().insert(key.clone());
            }
            self.entries.insert(key.clone(), Entry { value, tags });
        }
        // An invalidation that ran between the check and the insert must still win.
        if self.generation() != generation {
            self.entries.invalidate(&key);
        }
    }

    /// The cached value, or `load`'s, kept when `tags` of it says what it depends on
    /// (`None`: do not keep it, e.g. an answer that changes without a tagged change).
    pub async fn load<E>(
        &self,
        key: &K,
        load: impl Future<Output = Result<V, E>>,
        tags: impl FnOnce(&V) -> Option<Vec<String>>,
    ) -> Result<V, E> {
        if let Some(hit) = self.get(key) {
            return Ok(hit);
        }
        self.reload(key.clone(), load, tags).await
    }

    /// `load`'s value whatever is cached (a caller that must see the database), kept as
    /// [`Tier::load`] keeps it.
    pub async fn reload<E>(
        &self,
        key: K,
        load: impl Future<Output = Result<V, E>>,
        tags: impl FnOnce(&V) -> Option<Vec<String>>,
    ) -> Result<V, E> {
        let generation = self.generation();
        let value = load.await?;
        if let Some(tags) = tags(&value) {
            self.store(generation, key, value.clone(), tags);
        }
        Ok(value)
    }

    /// Applies a committed change's tag: drops the entries carrying it (`prefix*` drops
    /// every entry of a tier using `prefix`); tags of other tiers do nothing.
    pub fn invalidate(&self, tag: &str) {
        let Some(prefix) = self.prefixes.iter().find(|p| tag.starts_with(**p)) else {
            return;
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.invalidations.fetch_add(1, Ordering::Relaxed);
        shared::metrics::cache_invalidated(self.name);
        if tag.len() == prefix.len() + 1 && tag.ends_with('*') {
            self.clear_entries();
            return;
        }
        let keys = self.index.lock().expect("cache index lock").remove(tag);
        for key in keys.into_iter().flatten() {
            self.entries.invalidate(&key);
        }
    }

    /// Drops everything (the channel went down or came back: changes meanwhile are unknown).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.clear_entries();
    }

    fn clear_entries(&self) {
        self.entries.invalidate_all();
        self.index.lock().expect("cache index lock").clear();
    }

    pub fn stats(&self) -> TierStats {
        self.entries.run_pending_tasks();
        TierStats {
            name: self.name,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            entries: self.entries.entry_count(),
            bytes: self.entries.weighted_size(),
        }
    }
}

/// Something the tiers can be told of, whatever their key and value types.
pub trait Invalidate: Send + Sync {
    fn invalidate(&self, tag: &str);
    fn clear(&self);
    fn stats(&self) -> TierStats;
}

impl<K, V> Invalidate for Tier<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn invalidate(&self, tag: &str) {
        Tier::invalidate(self, tag)
    }
    fn clear(&self) {
        Tier::clear(self)
    }
    fn stats(&self) -> TierStats {
        Tier::stats(self)
    }
}
