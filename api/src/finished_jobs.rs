//! Finished jobs' views in memory: `GET /v1/jobs/{id}` of a `succeeded`, `dead` or
//! `cancelled` job answers from here, without the database, with the JSON it answered the
//! first time.
//!
//! A finished row changes only by a retry, a deletion (dashboard) or the cleanup. Each of
//! those drops the entries here at once (the process that made the change reads its own write)
//! and tells every other API process (`Queue::publish_jobs_changed`). A read that started
//! before an invalidation never stores what it read (the generation check in [`get_or_load`]),
//! so an invalidation that overtakes a slow read still wins. Nothing is kept while the channel
//! is down (not yet subscribed, or Redis away): every read goes to the database, and when the
//! channel comes back everything is dropped, since changes meanwhile are unknown.
//!
//! [`get_or_load`]: FinishedJobs::get_or_load

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use moka::sync::Cache;
use shared::db::JobRow;
use shared::domain::JobId;
use shared::queue::Queue;
use tokio_util::sync::CancellationToken;

/// How long an entry lives: a safety net only.
const TTL: Duration = Duration::from_secs(300);
/// Most views kept (about 1 KiB each).
const CAPACITY: u64 = 20_000;

/// A finished job's answer: its owner (checked on every hit) and the JSON body.
pub struct FinishedView {
    pub owner: String,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct FinishedJobs {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Queue,
    views: Cache<JobId, Arc<FinishedView>>,
    up: Arc<AtomicBool>,
    /// Bumped by every invalidation: a load that saw another value when it started stores
    /// nothing.
    generation: AtomicU64,
}

impl FinishedJobs {
    pub fn new(queue: Queue) -> Self {
        let up = Arc::new(AtomicBool::new(false));
        let views = Cache::builder()
            .max_capacity(CAPACITY)
            .time_to_live(TTL)
            .build();
        Self {
            inner: Arc::new(Inner {
                queue,
                views,
                up,
                generation: AtomicU64::new(0),
            }),
        }
    }

    /// The cached answer for `id` if `owner` (`None`: an admin) may see it.
    pub fn get(&self, id: JobId, owner: Option<&str>) -> Option<Arc<FinishedView>> {
        let view = self
            .inner
            .views
            .get(&id)
            .filter(|view| owner.is_none_or(|owner| owner == view.owner));
        shared::metrics::finished_job_cache(view.is_some());
        view
    }

    /// The generation a load must see unchanged to store what it read.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Keeps `row`'s answer if the row is finished, the channel is up, and nothing was
    /// invalidated since `generation` was read (before the row was).
    pub fn store(&self, generation: u64, row: &JobRow, body: &Bytes) {
        let up = self.inner.up.load(Ordering::Acquire);
        if !up || !row.status.is_terminal() || self.generation() != generation {
            return;
        }
        let view = Arc::new(FinishedView {
            owner: row.owner_id.clone(),
            body: body.clone(),
        });
        self.inner.views.insert(row.id, view);
        // An invalidation that ran between the check and the insert must still win.
        if self.generation() != generation {
            self.inner.views.invalidate(&row.id);
        }
    }

    fn forget(&self, ids: Option<&[JobId]>) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        match ids {
            Some(ids) => ids.iter().for_each(|id| self.inner.views.invalidate(id)),
            None => self.inner.views.invalidate_all(),
        }
    }

    /// After `ids` changed (a retry, a deletion): dropped here at once, and in every other
    /// process through the queue. A failed publish is logged: the change is committed, and
    /// with Redis away the others lose their subscription, and with it every entry.
    pub async fn changed(&self, ids: &[JobId]) {
        if ids.is_empty() {
            return;
        }
        self.forget(Some(ids));
        if let Err(e) = self.inner.queue.publish_jobs_changed(ids).await {
            tracing::warn!(error = %e, "could not broadcast that finished jobs changed");
        }
    }

    /// Applies other processes' invalidations until `stop`. Run once per API process.
    pub async fn listen(&self, stop: CancellationToken) {
        let on_changed = {
            let cache = self.clone();
            move |ids: Option<Vec<JobId>>| cache.forget(ids.as_deref())
        };
        let on_state = {
            let cache = self.clone();
            move |up: bool| {
                // Changes made while not listening are unknown: start afresh either way.
                cache.inner.up.store(up, Ordering::Release);
                cache.forget(None);
            }
        };
        self.inner
            .queue
            .subscribe_jobs_changed(on_changed, on_state, stop)
            .await;
    }
}
