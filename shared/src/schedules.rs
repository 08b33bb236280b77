//! Cron schedules, parsed once from configuration and shared by the scheduler (which fires
//! them) and the API (which lists their next fire time and runs them on demand).
//!
//! A tick's identity is (schedule, tick instant): its job carries the idempotency key
//! `schedule:<name>:<tick ms>`, unique in the jobs table, so however many schedulers fire the
//! same tick only one job exists. Tick instants come from the expression alone (whole
//! seconds in the schedule's time zone), so every scheduler computes the same ones.
//!
//! Why not apalis-cron's `CronScheduler`: piping it to storage fires once per scheduler, so
//! two schedulers would enqueue every tick twice, and its tick stream yields an `OutOfRange` error for ever once a
//! tick is consumed after its instant (its next tick is kept, and each poll finds it in the
//! past). We use the `cron` crate it is built on directly.

use std::str::FromStr;

use chrono::{DateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::db::{NewJob, SYSTEM_OWNER};
use crate::domain::Timestamp;
use crate::jobs::{MaintenancePayload, MaintenanceTask};

/// One cron schedule. Only `cron` is required for a new schedule; the rest has defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// The maintenance task each tick enqueues; defaults to the schedule's name.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub task: Option<MaintenanceTask>,
    /// Cron expression with seconds first: `sec min hour day-of-month month day-of-week
    /// [year]`, e.g. `0 30 3 * * *` (03:30:00 every day).
    pub cron: String,
    /// IANA time zone the expression is read in, e.g. `Europe/Berlin`.
    #[serde(default = "utc")]
    pub timezone: String,
    /// `false`: the schedule never fires (`quire schedules pause` stops one for a while).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What happens to ticks missed while no scheduler ran.
    #[serde(default)]
    pub missed: MissedTicks,
    /// Whether a tick enqueues a job while the previous one of the schedule has not finished.
    #[serde(default)]
    pub overlap: bool,
}

fn utc() -> String {
    "UTC".into()
}

fn yes() -> bool {
    true
}

/// Ticks missed while no scheduler ran (all stopped, or a deploy took longer than a period).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum MissedTicks {
    /// Forget them; the next tick runs on time.
    #[default]
    Skip,
    /// On start, run the schedule once if at least one tick was missed.
    RunOnce,
}

#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub name: String,
    pub task: MaintenanceTask,
    /// The expression as configured.
    pub expression: String,
    pub timezone: Tz,
    pub enabled: bool,
    pub missed: MissedTicks,
    pub overlap: bool,
    cron: cron::Schedule,
}

/// A schedule that does not parse: the field at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub field: &'static str,
    pub message: String,
}

impl ScheduleSpec {
    pub fn parse(name: &str, config: &ScheduleConfig) -> Result<ScheduleSpec, ScheduleError> {
        let error = |field, message: String| ScheduleError { field, message };
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(error(
                "name",
                "a schedule name is 1 to 64 lowercase letters, digits and '-'".into(),
            ));
        }
        let task = match config.task {
            Some(task) => task,
            None if name == "rescue" => {
                return Err(error(
                    "task",
                    "is required: rescue is no longer a schedule but the scheduler's own loop; set `rescue.interval_ms` instead".into(),
                ));
            }
            None => serde_json::from_value(serde_json::Value::String(name.to_owned()))
                .map_err(|_| {
                    error(
                        "task",
                        format!(
                            "is required: `{name}` is not a task name (tasks: cleanup, health, db-maintenance, cache-warm)"
                        ),
                    )
                })?,
        };
        if task == MaintenanceTask::Probe {
            return Err(error(
                "task",
                "`probe` is a diagnostic job and cannot be scheduled".into(),
            ));
        }
        if task == MaintenanceTask::Purge {
            return Err(error(
                "task",
                "`purge` is made by the change it purges for and cannot be scheduled".into(),
            ));
        }
        let cron = cron::Schedule::from_str(&config.cron).map_err(|e| {
            error(
                "cron",
                format!(
                    "`{}` is not a cron expression with seconds (sec min hour day-of-month month day-of-week [year], e.g. `0 30 3 * * *`): {e}",
                    config.cron
                ),
            )
        })?;
        let timezone = Tz::from_str(&config.timezone).map_err(|_| {
            error(
                "timezone",
                format!(
                    "`{}` is not an IANA time zone such as `UTC` or `Europe/Berlin`",
                    config.timezone
                ),
            )
        })?;
        Ok(ScheduleSpec {
            name: name.to_owned(),
            task,
            expression: config.cron.clone(),
            timezone,
            enabled: config.enabled,
            missed: config.missed,
            overlap: config.overlap,
            cron,
        })
    }

    fn local(&self, at: Timestamp) -> DateTime<Tz> {
        let utc = DateTime::<Utc>::from_timestamp_millis(at.millis()).unwrap_or_default();
        self.timezone.from_utc_datetime(&utc.naive_utc())
    }

    /// The first tick strictly after `at`; `None` if the expression never fires again.
    pub fn next_after(&self, at: Timestamp) -> Option<Timestamp> {
        self.cron
            .after(&self.local(at))
            .next()
            .map(|t| Timestamp::from_millis(t.timestamp_millis()))
    }

    /// The latest tick at or before `at`.
    pub fn latest_at_or_before(&self, at: Timestamp) -> Option<Timestamp> {
        // Ticks are whole seconds: search back from the next whole second.
        let ceiling = Timestamp::from_millis((at.millis().div_euclid(1000) + 1) * 1000);
        self.cron
            .after(&self.local(ceiling))
            .next_back()
            .map(|t| Timestamp::from_millis(t.timestamp_millis()))
            .filter(|t| *t <= at)
    }

    /// The idempotency key of the tick's job: what makes it exist once.
    pub fn tick_key(&self, tick: Timestamp) -> String {
        format!("schedule:{}:{}", self.name, tick.millis())
    }

    /// What the schedule's job does.
    pub fn payload(&self) -> MaintenancePayload {
        MaintenancePayload {
            task: self.task,
            schedule: Some(self.name.clone()),
            probe: None,
            tags: Vec::new(),
        }
    }

    /// The maintenance job a tick enqueues (`tick: None`: a run requested through the API,
    /// which has no tick identity).
    pub fn job(&self, tick: Option<Timestamp>, max_attempts: u32) -> NewJob {
        let mut job = NewJob::of(SYSTEM_OWNER, max_attempts, &self.payload());
        if let Some(tick) = tick {
            job.run_at = tick;
            // A tick's identity never expires (no window): it is what makes it run once.
            job.idempotency_key = Some(self.tick_key(tick));
            job.request_hash = Some("schedule".to_owned());
        }
        job
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cron: &str, timezone: &str) -> ScheduleSpec {
        let config = ScheduleConfig {
            task: Some(MaintenanceTask::Health),
            cron: cron.into(),
            timezone: timezone.into(),
            enabled: true,
            missed: MissedTicks::Skip,
            overlap: false,
        };
        ScheduleSpec::parse("check", &config).unwrap()
    }

    fn at(rfc3339: &str) -> Timestamp {
        Timestamp::from_millis(
            DateTime::parse_from_rfc3339(rfc3339)
                .unwrap()
                .timestamp_millis(),
        )
    }

    #[test]
    fn ticks_follow_the_expression_in_its_time_zone() {
        let every_10s = spec("*/10 * * * * *", "UTC");
        assert_eq!(
            every_10s.next_after(at("2026-11-21T10:00:03.500Z")),
            Some(at("2026-11-21T10:00:10Z"))
        );
        // Strictly after: firing a tick never yields the same tick again.
        assert_eq!(
            every_10s.next_after(at("2026-11-21T10:00:10Z")),
            Some(at("2026-11-21T10:00:20Z"))
        );
        assert_eq!(
            every_10s.latest_at_or_before(at("2026-11-21T10:00:10Z")),
            Some(at("2026-11-21T10:00:10Z"))
        );
        assert_eq!(
            every_10s.latest_at_or_before(at("2026-11-21T10:00:19.999Z")),
            Some(at("2026-11-21T10:00:10Z"))
        );
        // 03:30 in Berlin is 02:30 UTC in winter.
        let nightly = spec("0 30 3 * * *", "Europe/Berlin");
        assert_eq!(
            nightly.next_after(at("2026-11-21T12:00:00Z")),
            Some(at("2026-11-22T02:30:00Z"))
        );
        assert_eq!(
            nightly.latest_at_or_before(at("2026-11-21T12:00:00Z")),
            Some(at("2026-11-21T02:30:00Z"))
        );
    }

    #[test]
    fn bad_schedules_name_the_field() {
        let config = |cron: &str, timezone: &str, task| ScheduleConfig {
            task,
            cron: cron.into(),
            timezone: timezone.into(),
            enabled: true,
            missed: MissedTicks::Skip,
            overlap: false,
        };
        let field =
            |name: &str, c: &ScheduleConfig| ScheduleSpec::parse(name, c).unwrap_err().field;
        assert_eq!(
            field(
                "x",
                &config("* * * *", "UTC", Some(MaintenanceTask::Health))
            ),
            "cron"
        );
        assert_eq!(
            field(
                "x",
                &config("* * * * * *", "Mars/Olympus", Some(MaintenanceTask::Health))
            ),
            "timezone"
        );
        assert_eq!(
            field("nightly", &config("* * * * * *", "UTC", None)),
            "task"
        );
        assert_eq!(
            field(
                "Bad Name",
                &config("* * * * * *", "UTC", Some(MaintenanceTask::Health))
            ),
            "name"
        );
        assert_eq!(
            field(
                "p",
                &config("* * * * * *", "UTC", Some(MaintenanceTask::Probe))
            ),
            "task"
        );
        // A purge is made by its change, never by a clock.
        assert_eq!(field("purge", &config("* * * * * *", "UTC", None)), "task");
        // Rescue is not a task: the scheduler runs it as its own loop.
        assert_eq!(field("rescue", &config("* * * * * *", "UTC", None)), "task");
        // A built-in name is its own task.
        let cleanup = ScheduleSpec::parse("cleanup", &config("0 0 3 * * *", "UTC", None)).unwrap();
        assert_eq!(cleanup.task, MaintenanceTask::Cleanup);
    }

    #[test]
    fn a_tick_job_is_keyed_by_schedule_and_instant() {
        let s = spec("* * * * * *", "UTC");
        let tick = at("2026-11-21T10:00:00Z");
        let job = s.job(Some(tick), 3);
        assert_eq!(
            job.idempotency_key.as_deref(),
            Some(format!("schedule:check:{}", tick.millis()).as_str())
        );
        assert_eq!(job.run_at, tick);
        assert!(s.job(None, 3).idempotency_key.is_none());
    }
}
