//! The scheduler: on each tick of each schedule it enqueues one maintenance job. It never
//! does the work itself. A tick's job has the idempotency key `schedule:<name>:<tick>`, unique
//! per owner in the jobs table, so any number of schedulers produce exactly one job per tick.

use std::time::Duration;

use shared::config::Config;
use shared::db::{Db, InsertOutcome, NewJob};
use shared::domain::{JobId, JobKind, Timestamp};
use shared::jobs::{MaintenancePayload, MaintenanceTask};
use shared::queue::Queue;
use tokio_util::sync::CancellationToken;

/// Owner of the jobs schedules enqueue (and of the built-in templates).
pub use shared::db::SYSTEM_OWNER;

/// A schedule that fires every `every` on instants aligned to the Unix epoch, so every
/// scheduler process computes the same tick instants.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: &'static str,
    pub every: Duration,
    pub task: MaintenanceTask,
}

pub fn schedules(config: &Config) -> Vec<Schedule> {
    vec![Schedule {
        name: "rescue",
        every: Duration::from_secs(config.rescue.interval_secs),
        task: MaintenanceTask::Rescue,
    }]
}

/// The latest tick instant (Unix ms) of `every` at or before `now`.
fn tick_at(now: Timestamp, every: Duration) -> i64 {
    let every = every.as_millis().max(1) as i64;
    now.millis().div_euclid(every) * every
}

pub async fn run(
    config: &Config,
    db: Db,
    queue: Queue,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let schedules = schedules(config);
    tracing::info!(schedules = schedules.len(), "scheduler starting");
    let mut tasks = tokio::task::JoinSet::new();
    for schedule in schedules {
        let (db, queue, shutdown) = (db.clone(), queue.clone(), shutdown.clone());
        let max_attempts = config.queues.maintenance.max_attempts;
        tasks.spawn(async move {
            let mut last_tick = None;
            loop {
                let tick = tick_at(Timestamp::now(), schedule.every);
                if last_tick != Some(tick) {
                    match enqueue_tick(&db, &queue, &schedule, tick, max_attempts).await {
                        Ok(_) => last_tick = Some(tick),
                        Err(e) => tracing::warn!(schedule = schedule.name, error = %e, "tick not enqueued; retrying"),
                    }
                }
                let next = tick + schedule.every.as_millis() as i64;
                let wait = (next - Timestamp::now().millis()).clamp(50, 60_000);
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Inserts the tick's job (a second scheduler's insert of the same tick finds it there) and
/// pushes it. Returns whether this call created it.
pub async fn enqueue_tick(
    db: &Db,
    queue: &Queue,
    schedule: &Schedule,
    tick: i64,
    max_attempts: u32,
) -> anyhow::Result<bool> {
    let payload = MaintenancePayload {
        task: schedule.task,
        schedule: Some(schedule.name.to_owned()),
        probe: None,
    };
    let job = NewJob {
        id: JobId::new(),
        kind: JobKind::Maintenance,
        owner_id: SYSTEM_OWNER.to_owned(),
        max_attempts,
        run_at: Timestamp::from_millis(tick),
        payload: serde_json::to_value(&payload)?,
        idempotency_key: Some(format!("schedule:{}:{tick}", schedule.name)),
        request_hash: Some("schedule".to_owned()),
        // A tick's identity never expires: it is what makes it run once.
        idempotency_window: None,
        batch_id: None,
    };
    match db.insert_job(&job).await? {
        InsertOutcome::Inserted(row) => {
            // If this push fails the row waits; the next rescue tick pushes it.
            queue.push(row.queue, row.id, None).await?;
            Ok(true)
        }
        InsertOutcome::Existing(_) | InsertOutcome::KeyConflict => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_align_to_the_epoch() {
        let every = Duration::from_secs(10);
        assert_eq!(tick_at(Timestamp::from_millis(123_456), every), 120_000);
        assert_eq!(tick_at(Timestamp::from_millis(130_000), every), 130_000);
    }
}
