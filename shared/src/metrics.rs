//! Prometheus metrics. One recorder per process (the `metrics` facade, rendered by
//! `metrics-exporter-prometheus`), installed by [`install`] with the process's role as a
//! label on every series; `GET /metrics` on the API and on the health port of workers and
//! schedulers renders it with the process collector's figures (memory, CPU, file
//! descriptors). Without [`install`] (metrics off, or a test) every call here is a no-op.
//!
//! The names are the contract with `deploy/prometheus` (alerts) and `deploy/grafana`
//! (dashboard): change them together. Labels have bounded values only: kinds, queues,
//! route templates, methods, statuses, email classes, schedule names.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::JobKind;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static PROCESS: OnceLock<metrics_process::Collector> = OnceLock::new();

/// Milliseconds to ten seconds: HTTP requests and pool waits.
const FAST: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Five milliseconds to ten minutes: what a document job waits and runs.
const JOB: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
const BYTES: &[f64] = &[1e4, 3e4, 1e5, 3e5, 1e6, 3e6, 1e7, 3e7, 1e8];

/// Installs this process's recorder (once; later calls keep the first). `role` names what
/// the process runs: `run`, `api`, `worker` or `scheduler`; `revision` is the binary's git
/// revision (the `quire_build_info` metric).
pub fn install(role: &str, revision: &'static str) {
    if HANDLE.get().is_some() {
        return;
    }
    let builder = PrometheusBuilder::new()
        .add_global_label("role", role)
        .set_buckets(FAST)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Prefix("quire_job_".into()), JOB))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full("quire_render_seconds".into()), JOB))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full("quire_pdf_bytes".into()), BYTES))
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full("quire_schedule_tick_lag_seconds".into()), JOB)
        });
    let handle = match builder.and_then(|b| b.install_recorder()) {
        Ok(handle) => handle,
        Err(e) => {
            // Another recorder is installed (several apps in one test process): use none.
            tracing::debug!(error = %e, "metrics recorder not installed");
            return;
        }
    };
    let _ = HANDLE.set(handle);
    let process = metrics_process::Collector::default();
    process.describe();
    let _ = PROCESS.set(process);
    // Every job counter of every kind exists from the start at 0: `increase()` then sees the
    // first job too (a series born at 1 has no increase).
    for kind in JobKind::ALL {
        for name in [
            "quire_jobs_submitted_total",
            "quire_jobs_started_total",
            "quire_jobs_succeeded_total",
            "quire_jobs_failed_total",
            "quire_jobs_retried_total",
            "quire_jobs_dead_total",
            "quire_jobs_cancelled_total",
        ] {
            counter!(name, "kind" => kind.as_str()).increment(0);
        }
    }
    // Likewise the other counters without unbounded labels, so an alert or a panel reading
    // them has a series before the first event (and `increase()` counts that event).
    for name in [
        "quire_queue_errors_total",
        "quire_queue_reconnects_total",
        "quire_stale_results_rejected_total",
        "quire_lease_expiries_total",
        "quire_rescued_jobs_total",
    ] {
        counter!(name).increment(0);
    }
    for cache in CACHES {
        for name in [
            "quire_cache_hits_total",
            "quire_cache_misses_total",
            "quire_cache_invalidations_total",
        ] {
            counter!(name, "cache" => cache).increment(0);
        }
    }
    // Email classes are the built-in templates: a small fixed set.
    for class in crate::email_templates::builtin_email_templates() {
        counter!("quire_emails_sent_total", "class" => class).increment(0);
        counter!("quire_emails_failed_total", "class" => class).increment(0);
    }
    for op in ["put", "get", "delete"] {
        counter!("quire_storage_errors_total", "op" => op).increment(0);
    }
    for by in ["key", "address"] {
        counter!("quire_rate_limited_total", "by" => by).increment(0);
    }
    gauge!(
        "quire_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "revision" => revision,
    )
    .set(1.0);
}

/// The exposition text, or `None` when no recorder is installed.
pub fn render() -> Option<String> {
    let handle = HANDLE.get()?;
    if let Some(process) = PROCESS.get() {
        process.collect();
    }
    Some(handle.render())
}

/// One HTTP request answered: `route` is the matched route template.
pub fn http_request(route: &str, method: &str, status: u16, took: Duration) {
    let (route, method) = (route.to_owned(), method.to_owned());
    counter!("quire_http_requests_total", "route" => route.clone(), "method" => method.clone(),
        "status" => status.to_string())
    .increment(1);
    histogram!("quire_http_request_duration_seconds", "route" => route, "method" => method)
        .record(took.as_secs_f64());
}

/// A request refused by the rate limit of its key or client address (`by`).
pub fn rate_limited(by: &'static str) {
    counter!("quire_rate_limited_total", "by" => by).increment(1);
}

/// Jobs accepted (a batch counts its rows).
pub fn jobs_submitted(kind: JobKind, n: u64) {
    counter!("quire_jobs_submitted_total", "kind" => kind.as_str()).increment(n);
}

/// An attempt claimed after waiting `waited` since it became runnable.
pub fn job_started(kind: JobKind, waited: Duration) {
    counter!("quire_jobs_started_total", "kind" => kind.as_str()).increment(1);
    histogram!("quire_job_wait_seconds", "kind" => kind.as_str()).record(waited.as_secs_f64());
}

/// How one attempt ended, as recorded in the row (fenced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// Failed; it runs again after its backoff.
    Failed,
    Dead,
    Cancelled,
}

impl Outcome {
    /// As the job's status says it (`succeeded`, `failed`, `dead`, `cancelled`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Dead => "dead",
            Outcome::Cancelled => "cancelled",
        }
    }
}

pub fn job_finished(kind: JobKind, outcome: Outcome, ran: Duration) {
    let name = match outcome {
        Outcome::Succeeded => "quire_jobs_succeeded_total",
        Outcome::Failed => "quire_jobs_failed_total",
        Outcome::Dead => "quire_jobs_dead_total",
        Outcome::Cancelled => "quire_jobs_cancelled_total",
    };
    counter!(name, "kind" => kind.as_str()).increment(1);
    histogram!("quire_job_run_seconds", "kind" => kind.as_str()).record(ran.as_secs_f64());
}

/// A waiting job cancelled before it ran (no attempt).
pub fn job_cancelled_waiting(kind: JobKind) {
    counter!("quire_jobs_cancelled_total", "kind" => kind.as_str()).increment(1);
}

/// A failed or dead job made runnable again on request (`POST /v1/jobs/{id}/retry`).
pub fn job_retried(kind: JobKind) {
    counter!("quire_jobs_retried_total", "kind" => kind.as_str()).increment(1);
}

/// A PDF rendered in `took`, `bytes` long.
pub fn rendered(kind: JobKind, took: Duration, bytes: usize) {
    histogram!("quire_render_seconds", "kind" => kind.as_str()).record(took.as_secs_f64());
    histogram!("quire_pdf_bytes", "kind" => kind.as_str()).record(bytes as f64);
}

/// An email handed to the server (or the outbox), or refused; `class` is its built-in
/// template's name.
pub fn email(class: String, sent: bool) {
    let name = if sent {
        "quire_emails_sent_total"
    } else {
        "quire_emails_failed_total"
    };
    counter!(name, "class" => class).increment(1);
}

/// The API's caches (`api::cache`), by the name of their tier.
pub const CACHES: [&str; 6] = [
    "keys",
    "templates",
    "template_lists",
    "verifications",
    "registry",
    "finished_jobs",
];

/// A read of one of the API's caches: a hit or a miss.
pub fn cache_read(cache: &'static str, hit: bool) {
    let name = if hit {
        "quire_cache_hits_total"
    } else {
        "quire_cache_misses_total"
    };
    counter!(name, "cache" => cache).increment(1);
}

/// A committed change touched one of the API's caches.
pub fn cache_invalidated(cache: &'static str) {
    counter!("quire_cache_invalidations_total", "cache" => cache).increment(1);
}

/// What one of the API's caches holds now.
pub fn cache_size(cache: &'static str, entries: u64, bytes: u64) {
    gauge!("quire_cache_entries", "cache" => cache).set(entries as f64);
    gauge!("quire_cache_bytes", "cache" => cache).set(bytes as f64);
}

/// Waiting jobs the rescuer pushed again (their message may have been lost).
pub fn rescued(repushed: u64) {
    counter!("quire_rescued_jobs_total").increment(repushed);
}

/// A running job whose lease expired (its worker died or hung): the attempt is recorded as
/// failed (it runs again) or, on its last attempt, dead.
pub fn lease_expired(kind: JobKind, dead: bool) {
    counter!("quire_lease_expiries_total").increment(1);
    let name = if dead {
        "quire_jobs_dead_total"
    } else {
        "quire_jobs_failed_total"
    };
    counter!(name, "kind" => kind.as_str()).increment(1);
}

/// A result (or failure) of an attempt whose lease was lost: discarded by fencing.
pub fn stale_result_rejected() {
    counter!("quire_stale_results_rejected_total").increment(1);
}

/// A schedule this process runs: its tick counters exist from the start at 0.
pub fn schedule_started(schedule: &str) {
    counter!("quire_schedule_ticks_total", "schedule" => schedule.to_owned()).increment(0);
    counter!("quire_schedule_ticks_skipped_total", "schedule" => schedule.to_owned()).increment(0);
}

/// A schedule tick fired `lag` after its instant, or was skipped (the previous run still
/// going, or the scheduler fell behind). A paused schedule's ticks are neither.
pub fn schedule_tick(schedule: &str, fired: bool, lag: Duration) {
    let schedule = schedule.to_owned();
    if fired {
        counter!("quire_schedule_ticks_total", "schedule" => schedule.clone()).increment(1);
        histogram!("quire_schedule_tick_lag_seconds", "schedule" => schedule)
            .record(lag.as_secs_f64());
    } else {
        counter!("quire_schedule_ticks_skipped_total", "schedule" => schedule).increment(1);
    }
}

/// The database pool now.
pub fn db_pool(size: u32, idle: usize, max: u32) {
    let in_use = (size as usize).saturating_sub(idle);
    gauge!("quire_db_pool_connections", "state" => "idle").set(idle as f64);
    gauge!("quire_db_pool_connections", "state" => "in_use").set(in_use as f64);
    gauge!("quire_db_pool_max_connections").set(f64::from(max));
}

pub fn queue_error() {
    counter!("quire_queue_errors_total").increment(1);
}

pub fn queue_reconnect() {
    counter!("quire_queue_reconnects_total").increment(1);
}

/// A file storage operation (`put`, `get`, `delete`, …) that failed (not a missing file).
pub fn storage_error(op: &'static str) {
    counter!("quire_storage_errors_total", "op" => op).increment(1);
}

pub fn worker_consuming(consuming: bool) {
    gauge!("quire_worker_consuming").set(if consuming { 1.0 } else { 0.0 });
}

/// Waiting and running jobs per kind, and how long the oldest runnable one has waited: read
/// from the jobs table by [`crate::db::Db::backlog`].
pub fn backlog(backlog: &crate::db::Backlog, now: crate::domain::Timestamp) {
    let kind = backlog.kind.as_str();
    gauge!("quire_jobs_queued", "kind" => kind).set(backlog.waiting as f64);
    gauge!("quire_jobs_running", "kind" => kind).set(backlog.running as f64);
    gauge!("quire_jobs_scheduled", "kind" => kind).set(backlog.scheduled as f64);
    let age_ms = backlog
        .oldest_run_at
        .map_or(0, |t| (now.millis() - t.millis()).max(0));
    gauge!("quire_jobs_oldest_queued_age_seconds", "kind" => kind).set(age_ms as f64 / 1000.0);
}

/// Every `every`, until `stop`: the backlog gauges and the pool's, from `db`. Runs in the
/// API and scheduler processes (every instance reports the same backlog: aggregate with
/// `max`), and the pool gauges of this process.
pub async fn sample(
    db: crate::db::Db,
    with_backlog: bool,
    every: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        if with_backlog {
            match db.backlog().await {
                Ok(backlog) => {
                    let now = crate::domain::Timestamp::now();
                    for kind in &backlog {
                        self::backlog(kind, now);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "backlog not sampled"),
            }
        }
        let (size, idle, max) = db.pool_stats();
        db_pool(size, idle, max);
        if let Ok(waited) = db.time_acquire().await {
            histogram!("quire_db_pool_acquire_seconds").record(waited.as_secs_f64());
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
