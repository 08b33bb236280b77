//! The promoter: a loop of the scheduler's own that turns `scheduled` jobs whose `run_at`
//! has come into `queued` ones and pushes them. A scheduled job has no queue message while it
//! waits, so a restart or a Redis that lost its data cannot fire it early or lose it: the row
//! is all there is until its time. Between passes it sleeps until the earliest `run_at` to
//! come (one index lookup); on PostgreSQL a newly scheduled job wakes it (`crate::wakeups`), so
//! it looks on its own only every [`LISTENING_FALLBACK`]; elsewhere it looks every
//! [`PROMOTE_EVERY`]. So a job starts within a second of its `run_at`, and an idle deployment
//! runs no promotion query. Any number of schedulers may run it: promotion is a conditional
//! update, so each job is promoted once.

use std::collections::HashMap;
use std::time::Duration;

use shared::db::Db;
use shared::domain::{JobId, QueueName};
use shared::queue::Queue;
use tokio_util::sync::CancellationToken;

/// How often due scheduled jobs are looked for without wake-ups from the database.
pub const PROMOTE_EVERY: Duration = Duration::from_millis(200);

/// The longest sleep while newly scheduled jobs wake the promoter.
pub const LISTENING_FALLBACK: Duration = Duration::from_secs(5);

/// Most jobs promoted per pass; the next pass takes the rest at once.
const BATCH: u32 = 1_000;

#[derive(Clone)]
pub struct Promoter {
    db: Db,
    queue: Queue,
}

impl Promoter {
    pub fn new(db: Db, queue: Queue) -> Promoter {
        Promoter { db, queue }
    }

    /// Promotes until shutdown. A failed pass is logged; a job promoted but not pushed waits
    /// as `queued` and the rescuer pushes it.
    pub async fn run(self, wake: crate::wakeups::Wake, shutdown: CancellationToken) {
        let idle = if wake.listening {
            LISTENING_FALLBACK
        } else {
            PROMOTE_EVERY
        };
        loop {
            let promoted = match self.pass().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "promoting scheduled jobs failed; retrying");
                    0
                }
            };
            if promoted as u32 == BATCH {
                continue;
            }
            // Until the next job falls due, or a newly scheduled one wakes us.
            let sleep = match self.db.next_scheduled_at().await {
                Ok(Some(at)) => {
                    let wait = at.millis() - shared::domain::Timestamp::now().millis();
                    Duration::from_millis(wait.max(0) as u64).min(idle)
                }
                Ok(None) => idle,
                Err(e) => {
                    tracing::debug!(error = %e, "next scheduled job unknown");
                    PROMOTE_EVERY
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = wake.scheduled.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// One pass: the due scheduled jobs queued and pushed; how many.
    pub async fn pass(&self) -> Result<usize, anyhow::Error> {
        let due = self.db.promote_scheduled(BATCH).await?;
        let mut by_queue: HashMap<QueueName, Vec<JobId>> = HashMap::new();
        for job in &due {
            by_queue.entry(job.queue).or_default().push(job.id);
        }
        for (queue, ids) in by_queue {
            if let Err(e) = self.queue.push_many(queue, &ids).await {
                tracing::warn!(queue = %queue, jobs = ids.len(), error = %e, "promoted jobs not pushed; the rescuer will");
            }
        }
        if !due.is_empty() {
            tracing::info!(jobs = due.len(), "scheduled jobs are due: queued");
        }
        Ok(due.len())
    }
}
