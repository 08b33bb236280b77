//! The rescuer: a loop of the scheduler's own (not a queued job), every
//! `rescue.interval_ms`. It expires the leases of jobs whose worker died or hung (the attempt
//! counts: `failed` to retry now, `dead` after the last, `cancelled` when cancelling was
//! asked) and pushes again the waiting jobs whose queue message was lost (Redis lost its data,
//! a push failed after the row was written).
//!
//! It is not a job because it is what must work when jobs do not: queued, it would wait behind
//! a long cleanup in the `maintenance` queue, and a rescue run whose own worker died would need
//! a rescue to finish. It uses a small connection pool of its own, so a busy main pool cannot
//! starve it. Any number of schedulers may run it at once: expiring a lease is a conditional
//! update (only one succeeds), and a duplicate push is harmless (only one claim succeeds).

use std::collections::HashMap;
use std::time::Duration;

use shared::config::Config;
use shared::db::{Db, DbError, WaitingJob};
use shared::domain::{JobId, QueueName, Timestamp};
use shared::queue::{Queue, QueueError};
use tokio_util::sync::CancellationToken;

/// Most ids one pass handles; the next pass, an interval later, takes the rest.
const BATCH: u32 = 1_000;

/// Connections of the rescuer's own pool: one pass runs its statements one after another.
const POOL_SIZE: u32 = 2;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RescuePass {
    /// Running jobs whose lease had expired and that now retry or are dead (those with a
    /// cancel request end `cancelled` and are not counted).
    pub expired_leases: usize,
    /// Waiting jobs pushed again because their message may be lost.
    pub repushed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RescueError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

#[derive(Clone)]
pub struct Rescuer {
    db: Db,
    queue: Queue,
    config: std::sync::Arc<Config>,
}

impl Rescuer {
    /// A rescuer on `db` (the caller's pool: tests and tools run single passes).
    pub fn new(config: std::sync::Arc<Config>, db: Db, queue: Queue) -> Rescuer {
        Rescuer { db, queue, config }
    }

    /// A rescuer with a database pool of its own, which connects on first use: a database
    /// that is away at start fails a pass, which the loop retries, instead of the scheduler.
    pub fn connect(config: std::sync::Arc<Config>, queue: Queue) -> Result<Rescuer, DbError> {
        let db = Db::connect_lazy(&shared::db::DbSettings {
            max_connections: POOL_SIZE,
            ..config.db_settings()
        })?;
        Ok(Rescuer::new(config, db, queue))
    }

    /// Its database pool, which the promoter shares.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Passes every `rescue.interval_ms` until shutdown. A failed pass (database or queue
    /// away) is logged and the next one tries again.
    pub async fn run(self, shutdown: CancellationToken) {
        let interval = Duration::from_millis(self.config.rescue.interval_ms);
        tracing::info!(
            interval_ms = self.config.rescue.interval_ms,
            "rescuer running"
        );
        loop {
            match self.pass().await {
                Ok(pass) if pass != RescuePass::default() => {
                    tracing::info!(
                        expired_leases = pass.expired_leases,
                        repushed = pass.repushed,
                        "rescued jobs"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "rescue pass failed; the next one retries"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// One pass: expire leases, notify what died of it, push again what may be lost.
    pub async fn pass(&self) -> Result<RescuePass, RescueError> {
        let (expired, dead) = self.db.expire_leases(BATCH).await?;
        for job in &expired {
            shared::metrics::lease_expired(shared::domain::JobKind::of_queue(job.queue), false);
        }
        self.notify_dead(&dead).await?;
        let stale_before =
            Timestamp::now().plus_millis(-(self.config.rescue.stale_after_secs as i64 * 1000));
        let stale = self.db.stale_waiting_jobs(stale_before, BATCH).await?;
        self.push_all(expired.iter().chain(stale.iter())).await?;
        shared::metrics::rescued(stale.len() as u64);
        Ok(RescuePass {
            expired_leases: expired.len() + dead.len(),
            repushed: stale.len(),
        })
    }

    /// Jobs that just died of an expired lease on their last attempt: the `job_failed` emails
    /// their `"notify"` asked for. (A worker that records `dead` itself inserts the email in
    /// the same transaction; here the outcome is already committed, and the idempotency key
    /// `notify:dead:<job>` keeps a second pass from adding another.)
    async fn notify_dead(&self, dead: &[JobId]) -> Result<(), DbError> {
        if dead.is_empty() {
            return Ok(());
        }
        for row in &self.db.jobs_by_ids(dead).await? {
            shared::metrics::lease_expired(row.kind, true);
            let message = row.error_message.as_deref().unwrap_or_default();
            let Some(email) = shared::notify::on_dead(&self.config, row, "lease_expired", message)
            else {
                continue;
            };
            self.db.insert_job(&email).await?;
            shared::metrics::jobs_submitted(email.kind, 1);
            if let Err(e) = self.queue.push(email.kind.queue(), email.id, None).await {
                tracing::warn!(job_id = %email.id, error = %e, "notification not pushed; the next pass will");
            }
        }
        Ok(())
    }

    async fn push_all<'a>(
        &self,
        jobs: impl Iterator<Item = &'a WaitingJob>,
    ) -> Result<(), RescueError> {
        let mut by_queue: HashMap<QueueName, Vec<JobId>> = HashMap::new();
        for job in jobs {
            by_queue.entry(job.queue).or_default().push(job.id);
        }
        for (queue, ids) in by_queue {
            self.queue.push_many(queue, &ids).await?;
            self.db.mark_pushed(&ids).await?;
        }
        Ok(())
    }
}
