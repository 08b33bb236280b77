//! Schedule state shared by every scheduler and the API (migration 0004): paused or not, the
//! latest tick enqueued and the job of the latest run.

use std::collections::HashMap;

use sqlx::Row;

use super::jobs::JobRow;
use super::pool::{Db, DbError};
use crate::domain::{JobId, Timestamp};

#[derive(Debug, Clone, Default)]
pub struct ScheduleState {
    pub paused: bool,
    /// The latest tick a job was enqueued for.
    pub last_tick: Option<Timestamp>,
    /// The latest run's job (a tick's or one requested through the API), while it exists.
    pub last_run: Option<JobRow>,
}

impl ScheduleState {
    /// Whether the latest run has not finished (waiting, running, or failed and due to retry).
    pub fn running(&self) -> bool {
        self.last_run
            .as_ref()
            .is_some_and(|j| !j.status.is_terminal())
    }
}

impl Db {
    /// Every schedule's state by name, in two queries (schedules, then their last jobs).
    /// A schedule that never ran nor was paused has no entry.
    pub async fn schedule_states(&self) -> Result<HashMap<String, ScheduleState>, DbError> {
        self.states(None).await
    }

    pub async fn schedule_state(&self, name: &str) -> Result<ScheduleState, DbError> {
        Ok(self
            .states(Some(name))
            .await?
            .remove(name)
            .unwrap_or_default())
    }

    async fn states(&self, name: Option<&str>) -> Result<HashMap<String, ScheduleState>, DbError> {
        let rows =
            match name {
                Some(name) => sqlx::query(
                    "SELECT name, paused, last_tick, last_job_id FROM schedules WHERE name = $1",
                )
                .bind(name.to_owned())
                .fetch_all(self.pool())
                .await?,
                None => {
                    sqlx::query("SELECT name, paused, last_tick, last_job_id FROM schedules")
                        .fetch_all(self.pool())
                        .await?
                }
            };
        let mut states = HashMap::new();
        let mut last_jobs = Vec::new();
        for row in &rows {
            let name: String = row.try_get("name")?;
            let paused: i64 = row.try_get("paused")?;
            let last_tick: Option<i64> = row.try_get("last_tick")?;
            let last_job: Option<String> = row.try_get("last_job_id")?;
            if let Some(id) = last_job.and_then(|id| id.parse::<JobId>().ok()) {
                last_jobs.push(id);
            }
            states.insert(
                name,
                ScheduleState {
                    paused: paused != 0,
                    last_tick: last_tick.map(Timestamp::from_millis),
                    last_run: None,
                },
            );
        }
        let jobs = self.jobs_by_ids(&last_jobs).await?;
        for job in jobs {
            let schedule = job
                .payload
                .get("schedule")
                .and_then(|s| s.as_str())
                .map(str::to_owned);
            if let Some(state) = schedule.and_then(|s| states.get_mut(&s)) {
                state.last_run = Some(job);
            }
        }
        Ok(states)
    }

    /// Records a run of `name`: its job (`None`: the tick was skipped, paused or overlapping),
    /// and for a tick its instant. Any number of schedulers record the same tick; the latest
    /// tick wins, never an older one.
    pub async fn record_schedule_run(
        &self,
        name: &str,
        tick: Option<Timestamp>,
        job: Option<JobId>,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO schedules (name, paused, last_tick, last_job_id, updated_at) \
             VALUES ($1, 0, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET \
                 last_tick = COALESCE(excluded.last_tick, schedules.last_tick), \
                 last_job_id = COALESCE(excluded.last_job_id, schedules.last_job_id), \
                 updated_at = excluded.updated_at \
             WHERE excluded.last_tick IS NULL OR schedules.last_tick IS NULL \
                 OR excluded.last_tick >= schedules.last_tick",
        )
        .bind(name.to_owned())
        .bind(tick.map(|t| t.millis()))
        .bind(job.map(|j| j.to_string()))
        .bind(Timestamp::now().millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Pauses or resumes `name`: its ticks enqueue nothing while paused.
    pub async fn set_schedule_paused(&self, name: &str, paused: bool) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO schedules (name, paused, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at",
        )
        .bind(name.to_owned())
        .bind(i64::from(paused))
        .bind(Timestamp::now().millis())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
