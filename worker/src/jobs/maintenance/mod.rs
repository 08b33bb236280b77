//! `maintenance`: the work schedules enqueue, one file per task (rescue is not one of them:
//! it is the scheduler's own loop, `scheduler::rescuer`). Each task is idempotent and
//! bounded per run (a big backlog is worked off over several ticks), and returns a small JSON
//! summary that becomes the job's `result` (what `GET /v1/schedules` shows as the last result).

mod cache_warm;
mod cleanup;
mod db_maintenance;
mod health;
mod probe;
mod purge;

use shared::jobs::{MaintenancePayload, MaintenanceTask};

use super::context::JobContext;
use crate::error::JobError;

pub async fn run(
    ctx: &JobContext,
    payload: MaintenancePayload,
) -> Result<serde_json::Value, JobError> {
    match payload.task {
        MaintenanceTask::Cleanup => cleanup::run(ctx).await,
        MaintenanceTask::Health => health::run(ctx).await,
        MaintenanceTask::DbMaintenance => db_maintenance::run(ctx).await,
        MaintenanceTask::CacheWarm => cache_warm::run(ctx).await,
        MaintenanceTask::Probe => probe::run(payload.probe.unwrap_or_default()).await,
        MaintenanceTask::Purge => purge::run(ctx, payload.tags).await,
    }
}
