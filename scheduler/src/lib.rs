//! The scheduler: fires the configured cron schedules (`[schedules.<name>]`), and runs the
//! [`rescuer`] loop. Each tick enqueues one maintenance job; the scheduler never does that
//! work itself. Rescue is the exception, on purpose: see [`rescuer`].
//!
//! Exactly one job per schedule and tick, however many schedulers run: the tick's job has the
//! idempotency key `schedule:<name>:<tick ms>` (see [`shared::schedules`]), unique per owner
//! in the jobs table, so the second scheduler's insert finds the first one's job. Per
//! schedule, a paused schedule enqueues nothing, a tick is skipped while the previous run is
//! unfinished unless `overlap` is set, and `missed = "run-once"` enqueues one run on start
//! when ticks passed while no scheduler ran.

pub mod event_pump;
pub mod promoter;
pub mod rescuer;
pub mod wakeups;

use std::sync::Arc;
use std::time::Duration;

use shared::config::{Config, MissedTicks};
use shared::db::{Db, InsertOutcome};
use shared::domain::Timestamp;
use shared::queue::Queue;
use shared::schedules::ScheduleSpec;
use tokio_util::sync::CancellationToken;

pub async fn run(
    config: Arc<Config>,
    db: Db,
    queue: Queue,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let rescuer = rescuer::Rescuer::connect(config.clone(), queue.clone())
        .map_err(|e| anyhow::anyhow!("the rescuer's database pool: {e}"))?;
    let (enabled, disabled): (Vec<_>, Vec<_>) =
        config.schedule_specs().into_iter().partition(|s| s.enabled);
    let names = |specs: &[ScheduleSpec]| {
        specs
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    tracing::info!(enabled = %names(&enabled), disabled = %names(&disabled), "scheduler starting");
    let max_attempts = config.queues.maintenance.max_attempts;
    let mut tasks = tokio::task::JoinSet::new();
    let wake = wakeups::Wake::start(&db, shutdown.clone()).await;
    tasks.spawn(
        promoter::Promoter::new(rescuer.db().clone(), queue.clone())
            .run(wake.clone(), shutdown.clone()),
    );
    tasks.spawn(rescuer.run(shutdown.clone()));
    tasks.spawn(
        event_pump::EventPump::new(&config, db.clone(), queue.clone())
            .run(wake.clone(), shutdown.clone()),
    );
    for spec in enabled {
        let firing = Firing {
            spec,
            db: db.clone(),
            queue: queue.clone(),
            max_attempts,
        };
        tasks.spawn(firing.run(shutdown.clone()));
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// What happened to one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TickOutcome {
    /// This scheduler inserted the tick's job.
    Enqueued,
    /// Another scheduler had already inserted it.
    AlreadyEnqueued,
    Paused,
    /// The previous run has not finished and the schedule does not allow overlap.
    StillRunning,
}

/// One schedule's loop.
struct Firing {
    spec: ScheduleSpec,
    db: Db,
    queue: Queue,
    max_attempts: u32,
}

impl Firing {
    async fn run(self, shutdown: CancellationToken) {
        shared::metrics::schedule_started(&self.spec.name);
        if self.spec.missed == MissedTicks::RunOnce {
            match self.missed_tick().await {
                Ok(Some(tick)) => self.fire(tick, &shutdown).await,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(schedule = %self.spec.name, error = %e, "could not look for missed ticks")
                }
            }
        }
        let mut after = Timestamp::now();
        loop {
            let Some(tick) = self.spec.next_after(after) else {
                tracing::info!(schedule = %self.spec.name, "schedule never fires again");
                return;
            };
            if !sleep_until(tick, &shutdown).await {
                return;
            }
            self.fire(tick, &shutdown).await;
            // Behind (the database was slow or down): go on from now instead of firing a
            // backlog of past ticks one after another.
            let now = Timestamp::now();
            if let Some(next) = self.spec.next_after(tick)
                && next < now
            {
                tracing::warn!(schedule = %self.spec.name, "fell behind; skipping to the next tick from now");
                shared::metrics::schedule_tick(&self.spec.name, false, Duration::ZERO);
            }
            after = tick.max(now);
        }
    }

    /// The latest tick at or before now, if it is later than the last tick any scheduler
    /// recorded. A schedule that never fired has missed nothing.
    async fn missed_tick(&self) -> Result<Option<Timestamp>, shared::db::DbError> {
        let state = self.db.schedule_state(&self.spec.name).await?;
        let Some(last) = state.last_tick else {
            return Ok(None);
        };
        Ok(self
            .spec
            .latest_at_or_before(Timestamp::now())
            .filter(|latest| *latest > last))
    }

    /// Fires `tick`, retrying while the database or queue is away, until it succeeds, the
    /// next tick is due, or shutdown.
    async fn fire(&self, tick: Timestamp, shutdown: &CancellationToken) {
        let give_up = self
            .spec
            .next_after(tick)
            .unwrap_or(tick.plus_millis(60_000));
        let mut wait = Duration::from_millis(100);
        loop {
            match self.fire_once(tick).await {
                Ok(outcome) => {
                    tracing::debug!(schedule = %self.spec.name, tick = tick.millis(), ?outcome, "tick");
                    let lag = Timestamp::now().millis() - tick.millis();
                    if outcome != TickOutcome::Paused {
                        let fired = matches!(
                            outcome,
                            TickOutcome::Enqueued | TickOutcome::AlreadyEnqueued
                        );
                        let lag = Duration::from_millis(lag.max(0) as u64);
                        shared::metrics::schedule_tick(&self.spec.name, fired, lag);
                    }
                    if outcome == TickOutcome::StillRunning {
                        tracing::info!(schedule = %self.spec.name, "previous run unfinished; tick skipped");
                    }
                    return;
                }
                Err(e) => {
                    if Timestamp::now().plus_millis(wait.as_millis() as i64) >= give_up {
                        tracing::error!(schedule = %self.spec.name, tick = tick.millis(), error = %format!("{e:#}"), "tick not enqueued; giving up on it");
                        return;
                    }
                    tracing::warn!(schedule = %self.spec.name, error = %format!("{e:#}"), "tick not enqueued; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// One try at `tick`: check pause and overlap, insert the tick's job (or find the one
    /// another scheduler inserted), record it as the schedule's last run, push it. Its span
    /// starts the trace the tick's job continues.
    #[tracing::instrument(
        name = "tick",
        skip_all,
        fields(schedule = %self.spec.name, otel.name = %format_args!("schedule {}", self.spec.name))
    )]
    async fn fire_once(&self, tick: Timestamp) -> anyhow::Result<TickOutcome> {
        let name = &self.spec.name;
        let state = self.db.schedule_state(name).await?;
        let skipped = if state.paused {
            Some(TickOutcome::Paused)
        } else if !self.spec.overlap && state.running() {
            Some(TickOutcome::StillRunning)
        } else {
            None
        };
        if let Some(outcome) = skipped {
            // Noted as handled, so it is not "missed" on the next start.
            self.db.record_schedule_run(name, Some(tick), None).await?;
            return Ok(outcome);
        }
        let job = self.spec.job(Some(tick), self.max_attempts);
        match self.db.insert_job(&job).await? {
            InsertOutcome::Inserted(row) => {
                shared::metrics::jobs_submitted(row.kind, 1);
                self.db
                    .record_schedule_run(name, Some(tick), Some(row.id))
                    .await?;
                if let Err(e) = self.queue.push(row.queue, row.id, None).await {
                    // The row waits as `queued`; the rescuer pushes it again.
                    tracing::warn!(schedule = %name, job_id = %row.id, error = %e, "tick's job not pushed; the rescuer will");
                }
                Ok(TickOutcome::Enqueued)
            }
            InsertOutcome::Existing(row) => {
                self.db
                    .record_schedule_run(name, Some(tick), Some(row.id))
                    .await?;
                Ok(TickOutcome::AlreadyEnqueued)
            }
            InsertOutcome::KeyConflict => Ok(TickOutcome::AlreadyEnqueued),
        }
    }
}

/// Sleeps until the wall clock reaches `tick`; false on shutdown. Re-checks the wall clock
/// after each sleep, as the monotonic timer and the wall clock may drift apart.
async fn sleep_until(tick: Timestamp, shutdown: &CancellationToken) -> bool {
    loop {
        let left = tick.millis() - Timestamp::now().millis();
        if left <= 0 {
            return true;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(Duration::from_millis(left as u64)) => {}
        }
    }
}
