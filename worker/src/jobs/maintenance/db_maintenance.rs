//! `db-maintenance`: keeps the planner's statistics fresh as the jobs table grows and shrinks
//! (`ANALYZE` on PostgreSQL, `PRAGMA optimize` on SQLite).

use crate::error::JobError;
use crate::jobs::context::JobContext;

pub async fn run(ctx: &JobContext) -> Result<serde_json::Value, JobError> {
    let started = tokio::time::Instant::now();
    let statement = ctx.db.maintain().await?;
    Ok(serde_json::json!({
        "ran": statement,
        "duration_ms": started.elapsed().as_millis() as u64,
    }))
}
