//! What operators check: `/v1/status` (admin: recorded health checks, jobs per queue and
//! status), cache counters (admin) and whether the caches' invalidation channel is up.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Caller, Keyed};
use crate::state::AppState;
use crate::views::{RecordedHealth, WorkerView};

/// One cache of this process since it started.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CacheTierView {
    /// `keys`, `templates`, `template_lists`, `verifications`, `registry`, `finished_jobs`.
    pub name: String,
    pub hits: u64,
    pub misses: u64,
    /// Committed changes that touched this cache.
    pub invalidations: u64,
    pub entries: u64,
    /// About how much memory the entries take.
    pub bytes: u64,
    /// hits / (hits + misses), 0 when there were no reads.
    pub hit_ratio: f64,
}

/// The caches of the answering API process.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CacheStatsView {
    pub caches: Vec<CacheTierView>,
    /// Whether committed changes reach this process (nothing is cached while not).
    pub channel: CacheHealthView,
}

/// Cache counters of the answering API process (admin).
#[utoipa::path(get, path = "/v1/system/cache/stats", operation_id = "get_cache_stats", tag = "system",
    responses((status = 200, body = CacheStatsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn cache_stats(Keyed { state, caller }: Keyed) -> Result<Json<CacheStatsView>, ApiError> {
    caller.require_admin()?;
    Ok(Json(cache_stats_view(&state)))
}

/// The caches' counters and channel (also the dashboard's).
pub fn cache_stats_view(state: &AppState) -> CacheStatsView {
    let caches = state
        .caches
        .stats()
        .into_iter()
        .map(|s| {
            let reads = s.hits + s.misses;
            CacheTierView {
                name: s.name.to_owned(),
                hits: s.hits,
                misses: s.misses,
                invalidations: s.invalidations,
                entries: s.entries,
                bytes: s.bytes,
                hit_ratio: if reads == 0 {
                    0.0
                } else {
                    s.hits as f64 / reads as f64
                },
            }
        })
        .collect();
    CacheStatsView {
        caches,
        channel: health_view(state),
    }
}

/// What a clear did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CacheCleared {
    /// Entries this process dropped.
    pub dropped: u64,
}

/// Empties every cache of the answering API process (admin): the next reads come from the
/// database. Never needed for correctness (committed changes invalidate entries in every
/// process, whatever made them, hand-written SQL included); other API processes keep theirs.
#[utoipa::path(post, path = "/v1/system/cache/clear", operation_id = "clear_cache", tag = "system",
    responses((status = 200, body = CacheCleared), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn cache_clear(Keyed { state, caller }: Keyed) -> Result<Json<CacheCleared>, ApiError> {
    caller.require_admin()?;
    let dropped = state.caches.stats().iter().map(|s| s.entries).sum();
    state.caches.clear();
    Ok(Json(CacheCleared { dropped }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CacheHealthView {
    /// Where committed changes come from: `postgres` (`NOTIFY` from the database's
    /// triggers), `sqlite` (its invalidation log) or `off` (`cache.enabled = false`).
    pub channel: String,
    /// Whether changes arrive now. While not, nothing is cached: every read goes to the
    /// database.
    pub up: bool,
}

impl CacheHealthView {
    pub fn of(caches: &crate::cache::Caches) -> Self {
        let h = caches.health();
        CacheHealthView {
            channel: h.channel.to_owned(),
            up: h.up,
        }
    }
}

fn health_view(state: &AppState) -> CacheHealthView {
    CacheHealthView::of(&state.caches)
}

/// Whether committed changes reach the answering API process's caches.
#[utoipa::path(get, path = "/v1/system/cache/health", operation_id = "get_cache_health", tag = "system",
    responses((status = 200, body = CacheHealthView), (status = 401, body = ErrorBody)))]
pub async fn cache_health(State(state): State<AppState>, _caller: Caller) -> Json<CacheHealthView> {
    Json(health_view(&state))
}

/// Jobs in one queue by status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueCounts {
    pub queue: String,
    /// Status -> number of jobs (statuses with none are left out).
    pub jobs: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    /// The latest recorded health checks; null until the `health` task has run.
    pub health: Option<RecordedHealth>,
    pub queues: Vec<QueueCounts>,
    /// Worker processes: running ones, and for an hour those that stopped without saying
    /// so (`alive: false`).
    pub workers: Vec<WorkerView>,
}

/// What an operator checks first (admin): the recorded health checks (database, queue,
/// mail, disk), the jobs per queue and status, from the jobs table, and the workers.
#[utoipa::path(get, path = "/v1/status", operation_id = "get_status", tag = "system",
    responses((status = 200, body = StatusView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn status(Keyed { state, caller }: Keyed) -> Result<Json<StatusView>, ApiError> {
    caller.require_admin()?;
    let (checks, counts, workers) = tokio::join!(
        state.db.health_checks(),
        state.db.job_counts(),
        state.db.list_workers()
    );
    let mut queues: Vec<QueueCounts> = Vec::new();
    for (queue, status, n) in counts? {
        match queues.last_mut() {
            Some(q) if q.queue == queue => {
                q.jobs.insert(status, n);
            }
            _ => queues.push(QueueCounts {
                queue,
                jobs: BTreeMap::from([(status, n)]),
            }),
        }
    }
    Ok(Json(StatusView {
        health: RecordedHealth::new(checks?, state.config.health.stale_after_secs),
        queues,
        workers: workers?.into_iter().map(WorkerView::from).collect(),
    }))
}
