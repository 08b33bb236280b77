//! What operators check: `/v1/status` (admin: recorded health checks, jobs per queue and
//! status), cache counters (admin) and whether the template cache's invalidation channel is up.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{Caller, Keyed};
use crate::state::AppState;
use crate::views::{RecordedHealth, WorkerView};

/// This process's template cache since it started.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CacheStatsView {
    pub hits: u64,
    pub misses: u64,
    /// Reads with `use_cache=false`.
    pub bypasses: u64,
    /// Invalidations applied (this process's changes and other processes' broadcasts).
    pub invalidations: u64,
    pub entries: u64,
    /// hits / (hits + misses), 0 when there were no reads.
    pub hit_ratio: f64,
}

/// Template cache counters (admin).
#[utoipa::path(get, path = "/v1/system/cache/stats", operation_id = "get_cache_stats", tag = "system",
    responses((status = 200, body = CacheStatsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn cache_stats(Keyed { state, caller }: Keyed) -> Result<Json<CacheStatsView>, ApiError> {
    caller.require_admin()?;
    let s = state.templates.stats().await;
    let reads = s.hits + s.misses;
    Ok(Json(CacheStatsView {
        hits: s.hits,
        misses: s.misses,
        bypasses: s.bypasses,
        invalidations: s.invalidations,
        entries: s.entries,
        hit_ratio: if reads == 0 {
            0.0
        } else {
            s.hits as f64 / reads as f64
        },
    }))
}

/// What a clear did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CacheCleared {
    /// Entries this process dropped.
    pub dropped: u64,
    /// Whether the other processes were told (`false` while the invalidation channel is
    /// down: their entries then expire within seconds anyway).
    pub broadcast: bool,
}

/// Empties the template cache of every API process (admin): the next reads come from the
/// database. Never needed for correctness (changes invalidate it); for an operator who
/// edited templates in the database by hand.
#[utoipa::path(post, path = "/v1/system/cache/clear", operation_id = "clear_cache", tag = "system",
    responses((status = 200, body = CacheCleared), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn cache_clear(Keyed { state, caller }: Keyed) -> Result<Json<CacheCleared>, ApiError> {
    caller.require_admin()?;
    let dropped = state.templates.stats().await.entries;
    state.templates.invalidate().await;
    Ok(Json(CacheCleared {
        dropped,
        broadcast: state.templates.health().up,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CacheHealthView {
    /// `redis` (invalidations reach every process) or `local` (one process: SQLite).
    pub channel: String,
    /// Whether invalidations are being received now.
    pub up: bool,
    /// Entry lifetime in force: short while the channel is down.
    pub ttl_secs: u64,
}

/// Whether the template cache's invalidation channel is up.
#[utoipa::path(get, path = "/v1/system/cache/health", operation_id = "get_cache_health", tag = "system",
    responses((status = 200, body = CacheHealthView), (status = 401, body = ErrorBody)))]
pub async fn cache_health(State(state): State<AppState>, _caller: Caller) -> Json<CacheHealthView> {
    let h = state.templates.health();
    Json(CacheHealthView {
        channel: h.channel.to_owned(),
        up: h.up,
        ttl_secs: h.ttl_secs,
    })
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
