//! `AppState`, what every handler is given, and `Readiness`, what `/ready` checks (also in
//! processes that serve no API).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::extract::FromRef;
use shared::config::Config;
use shared::db::Db;
use shared::queue::Queue;
use shared::storage::Storage;

use crate::error::ApiError;

/// Everything a handler needs; one `Arc` to clone (a request clones it for each extractor,
/// and the fields' own clones, the resolver's configuration among them, cost allocations).
#[derive(Clone)]
pub struct AppState(Arc<AppStateInner>);

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct AppStateInner {
    pub config: Arc<Config>,
    pub db: Db,
    pub queue: Queue,
    pub storage: Storage,
    /// Every cache of this process, invalidated by committed changes (`cache`).
    pub caches: crate::cache::Caches,
    pub auth: crate::auth::KeyCache,
    /// Templates with their current version.
    pub templates: crate::cache::TemplateCache,
    /// Finished jobs' answers.
    pub finished: crate::finished_jobs::FinishedJobs,
    /// `public_base_url` without a trailing slash, for links.
    pub base_url: Arc<str>,
    pub readiness: Readiness,
    /// Bounds the render children this process starts (template checks and previews).
    pub sandbox: shared::sandbox::SandboxPool,
    /// CPU-heavy request checks (image decodes, reports, batches): bounded per process and
    /// per key, run on the blocking pool without ever waiting there (`offload.rs`).
    pub checks: crate::offload::CheckPool,
    /// Recent waiting-job counts per key, for the quota (`quotas.rs`).
    pub waiting: crate::quotas::WaitingCounts,
    /// Requests waiting for a job or batch to finish (`?wait=`, `waiting.rs`).
    pub waiters: crate::waiting::Waiters,
    /// Wake-ups of `GET /v1/events` streams.
    pub events: crate::waiting::EventFeed,
    /// Caps on streams, long-polls and archive downloads, per process and per key.
    pub long_lived: crate::long_lived::LongLived,
    /// Verifies signed download links; its key is read from the database on first use.
    links: Arc<tokio::sync::OnceCell<shared::links::LinkSigner>>,
    /// Signs Open Badges credentials; its key is read from the database on first use.
    issuer: Arc<tokio::sync::OnceCell<shared::credentials::Issuer>>,
    /// Looks up webhook and callback targets: asynchronous, bounded per process.
    pub resolver: shared::resolver::TargetResolver,
}

impl AppState {
    pub fn new(config: Arc<Config>, db: Db, queue: Queue, storage: Storage) -> Self {
        let caches = crate::cache::Caches::new(db.clone(), &config.cache);
        Self(Arc::new(AppStateInner {
            readiness: Readiness {
                db: db.clone(),
                queue: queue.clone(),
                storage: storage.clone(),
                consuming: None,
                health_stale_after_secs: config.health.stale_after_secs,
                header_read_timeout_secs: config.limits.header_read_timeout_secs,
                write_timeout_secs: config.limits.write_timeout_secs,
                metrics_token: config.metrics.token.clone(),
                watchdog: crate::watchdog::Watchdog::start(std::time::Duration::from_secs(
                    config.health.stall_after_secs,
                )),
                // The API's port is public: metrics only with the token, or when opened.
                metrics_open: config.metrics.public,
                caches: Some(caches.clone()),
            },
            storage,
            sandbox: shared::sandbox::SandboxPool::new(config.sandbox_limits()),
            checks: crate::offload::CheckPool::new(
                config.limits.max_concurrent_decodes,
                config.limits.max_checks_per_key,
                config.limits.max_waiting_checks,
            ),
            base_url: config.public_base_url().into(),
            long_lived: crate::long_lived::LongLived::new(&config.limits),
            resolver: shared::resolver::TargetResolver::new(&config.lookup_settings()),
            auth: crate::auth::KeyCache::new(caches.clone()),
            templates: crate::cache::TemplateCache::new(caches.clone()),
            finished: crate::finished_jobs::FinishedJobs::new(caches.clone()),
            caches,
            config,
            db,
            queue,
            links: Arc::default(),
            issuer: Arc::default(),
            waiting: Default::default(),
            waiters: Default::default(),
            events: Default::default(),
        }))
    }

    /// The download-link signer (loads its key once).
    pub async fn links(&self) -> Result<&shared::links::LinkSigner, ApiError> {
        Ok(self
            .links
            .get_or_try_init(|| shared::links::LinkSigner::load(&self.db))
            .await?)
    }

    /// The Open Badges credential issuer (loads its key once).
    pub async fn issuer(&self) -> Result<&shared::credentials::Issuer, ApiError> {
        Ok(self
            .issuer
            .get_or_try_init(|| shared::credentials::Issuer::load(&self.db, &self.base_url))
            .await?)
    }
}

impl AppState {
    /// In a process that also runs a worker, `/ready` reports its consumers too.
    pub fn with_consuming(mut self, consuming: Option<Arc<std::sync::atomic::AtomicBool>>) -> Self {
        Arc::make_mut(&mut self.0).readiness.consuming = consuming;
        self
    }
}

/// What `/ready` checks: the database, the queue and, in a process that runs a worker,
/// whether its queue consumers are running ("consuming", not merely "alive").
#[derive(Clone)]
pub struct Readiness {
    pub db: Db,
    pub queue: Queue,
    /// Files: `/ready` fails while object storage does not answer.
    pub storage: Storage,
    /// Set by the worker while its consumers run; `None` in a process without a worker.
    pub consuming: Option<Arc<AtomicBool>>,
    /// `health.stale_after_secs`: when recorded checks are too old to trust.
    pub health_stale_after_secs: u64,
    /// `limits.header_read_timeout_secs`, for the health server of processes without an API.
    pub header_read_timeout_secs: u64,
    /// `limits.write_timeout_secs`, likewise.
    pub write_timeout_secs: u64,
    /// `metrics.token`: when set, `/metrics` wants it as a bearer token.
    pub metrics_token: Option<shared::config::Secret<String>>,
    /// Whether this process still runs work: `/health` fails when it does not.
    pub watchdog: crate::watchdog::Watchdog,
    /// Without a token, whether `/metrics` answers here: on the health port (internal) yes;
    /// on the API's port only with `metrics.public`.
    pub metrics_open: bool,
    /// The API's caches, in a process serving the API: `/ready` says whether they receive
    /// invalidations, `/metrics` their sizes.
    pub caches: Option<crate::cache::Caches>,
}

impl FromRef<AppState> for Readiness {
    fn from_ref(state: &AppState) -> Self {
        state.readiness.clone()
    }
}
