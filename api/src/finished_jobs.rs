//! Finished jobs' views in memory: `GET /v1/jobs/{id}` of a `succeeded`, `dead` or
//! `cancelled` job answers from the cache layer's `finished_jobs` tier, without the database,
//! with the JSON it answered the first time.
//!
//! A finished row changes only by a retry, a re-render or a deletion (dashboard, cleanup);
//! each commits a `job:<id>` (or `job:*`) tag that drops the view in every API process (see
//! `cache`). The process that made the change drops it at once itself ([`FinishedJobs::changed`]).

use std::sync::Arc;

use axum::body::Bytes;
use shared::db::JobRow;
use shared::domain::JobId;

use crate::cache::{Caches, FinishedView};

#[derive(Clone)]
pub struct FinishedJobs {
    caches: Caches,
}

impl FinishedJobs {
    pub fn new(caches: Caches) -> Self {
        Self { caches }
    }

    /// The cached answer for `id` if `owner` (`None`: an admin) may see it.
    pub fn get(&self, id: JobId, owner: Option<&str>) -> Option<Arc<FinishedView>> {
        self.caches
            .finished()
            .get(&id)
            .filter(|view| owner.is_none_or(|owner| owner == view.owner))
    }

    /// The generation a load must see unchanged to store what it read.
    pub fn generation(&self) -> u64 {
        self.caches.finished().generation()
    }

    /// Keeps `row`'s answer if the row is finished and nothing was invalidated since
    /// `generation` was read (before the row was).
    pub fn store(&self, generation: u64, row: &JobRow, body: &Bytes) {
        self.caches.store_finished(generation, row, body);
    }

    /// After `ids` changed through this process (a retry, a deletion): dropped here at once.
    pub fn changed(&self, ids: &[JobId]) {
        let tags: Vec<String> = ids.iter().map(|id| format!("job:{id}")).collect();
        self.caches.invalidate(&tags);
    }
}
