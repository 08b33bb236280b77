//! `/v1/schedules` (admin): the configured cron schedules with their next fire time and last
//! run; run one now, pause, resume. The schedules themselves are configuration (every
//! process reads the same); their state (paused, last tick, last run) is in the database,
//! shared with the schedulers.

use axum::Json;
use serde::{Deserialize, Serialize};
use shared::config::MissedTicks;
use shared::db::ScheduleState;
use shared::domain::Timestamp;
use shared::schedules::ScheduleSpec;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, Caller, Keyed};
use crate::state::AppState;
use crate::submit::{Accepted, Submission, submit};
use crate::views::JobView;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleView>,
}

/// A schedule as configured, with its state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduleView {
    pub name: String,
    /// The maintenance task each tick enqueues: `rescue`, `cleanup`, `health`,
    /// `db-maintenance` or `cache-warm`.
    pub task: String,
    /// Cron expression, seconds first.
    pub cron: String,
    /// IANA time zone the expression is read in.
    pub timezone: String,
    /// Disabled in configuration: no scheduler fires it.
    pub enabled: bool,
    /// Paused through the API: ticks enqueue nothing until resumed.
    pub paused: bool,
    /// Whether a tick runs while the previous run is unfinished.
    pub overlap: bool,
    /// Ticks missed while no scheduler ran: `skip` or `run-once` (on start).
    pub missed: String,
    /// The next tick (RFC 3339); null when disabled or paused.
    pub next_run_at: Option<String>,
    /// The latest tick a scheduler handled (enqueued or skipped).
    pub last_tick_at: Option<String>,
    /// The latest run's job (its status, result or error), while it exists.
    pub last_run: Option<JobView>,
}

impl ScheduleView {
    fn new(spec: &ScheduleSpec, state: &ScheduleState, base_url: &str) -> Self {
        let next = (spec.enabled && !state.paused)
            .then(|| spec.next_after(Timestamp::now()))
            .flatten();
        ScheduleView {
            name: spec.name.clone(),
            task: spec.task.to_string(),
            cron: spec.expression.clone(),
            timezone: spec.timezone.name().to_owned(),
            enabled: spec.enabled,
            paused: state.paused,
            overlap: spec.overlap,
            missed: match spec.missed {
                MissedTicks::Skip => "skip",
                MissedTicks::RunOnce => "run-once",
            }
            .into(),
            next_run_at: next.map(|t| t.to_rfc3339()),
            last_tick_at: state.last_tick.map(|t| t.to_rfc3339()),
            last_run: state
                .last_run
                .as_ref()
                .map(|job| JobView::from_row(job, base_url)),
        }
    }
}

fn spec(state: &AppState, name: &str) -> Result<ScheduleSpec, ApiError> {
    state
        .config
        .schedule_spec(name)
        .ok_or(ApiError::NotFound("schedule"))
}

/// Every configured schedule, its next fire time and its last run (admin).
#[utoipa::path(get, path = "/v1/schedules", operation_id = "list_schedules", tag = "schedules",
    responses((status = 200, body = ScheduleList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(Keyed { state, caller }: Keyed) -> Result<Json<ScheduleList>, ApiError> {
    caller.require_admin()?;
    let states = state.db.schedule_states().await?;
    let none = ScheduleState::default();
    let schedules = state
        .config
        .schedule_specs()
        .iter()
        .map(|spec| {
            ScheduleView::new(
                spec,
                states.get(&spec.name).unwrap_or(&none),
                &state.base_url,
            )
        })
        .collect();
    Ok(Json(ScheduleList { schedules }))
}

/// Runs the schedule's task now, outside its ticks (admin). Works while paused or disabled;
/// refused with 409 `already_running` while the previous run is unfinished, unless the
/// schedule allows overlap. Answers like a submission: 202 and the job.
#[utoipa::path(post, path = "/v1/schedules/{name}/run", operation_id = "run_schedule", tag = "schedules",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 202, body = crate::views::SubmittedView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn run(
    Keyed { state, caller }: Keyed,
    ApiPath(name): ApiPath<String>,
) -> Result<Accepted, ApiError> {
    caller.require_admin()?;
    let spec = spec(&state, &name)?;
    if !spec.overlap && state.db.schedule_state(&name).await?.running() {
        return Err(ApiError::Conflict {
            code: "already_running",
            message: format!(
                "the previous run of `{name}` has not finished and the schedule does not allow overlap"
            ),
        });
    }
    let payload = spec.payload();
    let accepted = submit(&state, &Caller::system(), None, Submission::of(&payload)).await?;
    state
        .db
        .record_schedule_run(&name, None, Some(accepted.id))
        .await?;
    tracing::info!(schedule = %name, job_id = %accepted.id, "schedule run on request");
    Ok(accepted)
}

/// `pause` and `resume` differ only in their path and the flag they set: one definition for
/// both, so their documented answers cannot drift apart.
macro_rules! pause_switch {
    ($(#[doc = $doc:literal])* $handler:ident, $operation_id:literal, $path:literal, $paused:literal) => {
        $(#[doc = $doc])*
        #[utoipa::path(post, path = $path, operation_id = $operation_id, tag = "schedules",
            params(("name" = String, Path, description = "Schedule name")),
            responses((status = 200, body = ScheduleView), (status = 401, body = ErrorBody),
                (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
        pub async fn $handler(
            Keyed { state, caller }: Keyed,
            ApiPath(name): ApiPath<String>,
        ) -> Result<Json<ScheduleView>, ApiError> {
            set_paused(state, caller, name, $paused).await
        }
    };
}

pause_switch!(
    /// Pauses the schedule: its ticks enqueue nothing until resumed (admin).
    pause,
    "pause_schedule",
    "/v1/schedules/{name}/pause",
    true
);
pause_switch!(
    /// Resumes a paused schedule (admin).
    resume,
    "resume_schedule",
    "/v1/schedules/{name}/resume",
    false
);

async fn set_paused(
    state: AppState,
    caller: Caller,
    name: String,
    paused: bool,
) -> Result<Json<ScheduleView>, ApiError> {
    caller.require_admin()?;
    let spec = spec(&state, &name)?;
    state.db.set_schedule_paused(&name, paused).await?;
    tracing::info!(schedule = %name, paused, "schedule paused or resumed");
    let current = state.db.schedule_state(&name).await?;
    Ok(Json(ScheduleView::new(&spec, &current, &state.base_url)))
}
