//! `rescue` finds jobs whose queue message was
//! lost (Redis lost its data, a push failed after the row was written) or whose worker died
//! holding them, and pushes their ids again. Duplicated messages are harmless: only one claim
//! of a waiting job can succeed.

use std::collections::HashMap;

use shared::db::WaitingJob;
use shared::domain::{JobId, QueueName, Timestamp};

use crate::jobs::{JobContext, JobError};

/// Most ids one rescue pass handles; the next tick takes the rest.
const RESCUE_BATCH: u32 = 1_000;

pub async fn rescue(ctx: &JobContext) -> Result<serde_json::Value, JobError> {
    let (expired, dead) = ctx.db.expire_leases(RESCUE_BATCH).await?;
    notify_dead(ctx, &dead).await?;
    let stale_before =
        Timestamp::now().plus_millis(-(ctx.config.rescue.stale_after_secs as i64 * 1000));
    let stale = ctx
        .db
        .stale_waiting_jobs(stale_before, RESCUE_BATCH)
        .await?;
    let pushed = push_all(ctx, expired.iter().chain(stale.iter())).await?;
    if pushed > 0 {
        tracing::info!(expired = expired.len(), stale = stale.len(), "rescued jobs");
    }
    Ok(serde_json::json!({
        "expired_leases": expired.len(),
        "repushed": stale.len(),
    }))
}

/// Jobs that just died of an expired lease on their last attempt: the `job_failed` emails
/// their `"notify"` asked for. (A worker that records `dead` itself inserts the email in the
/// same transaction; here the outcome is already committed, and the idempotency key
/// `notify:dead:<job>` keeps a second rescue pass from adding another.)
async fn notify_dead(ctx: &JobContext, dead: &[JobId]) -> Result<(), JobError> {
    if dead.is_empty() {
        return Ok(());
    }
    let rows = ctx.db.jobs_by_ids(dead).await?;
    for row in &rows {
        let message = row.error_message.as_deref().unwrap_or_default();
        if let Some(email) = crate::jobs::notify::on_dead(ctx, row, "lease_expired", message) {
            ctx.db.insert_job(&email).await?;
            if let Err(e) = ctx.queue.push(email.kind.queue(), email.id, None).await {
                tracing::warn!(job_id = %email.id, error = %e, "notification not pushed; the next rescue will");
            }
        }
    }
    Ok(())
}

async fn push_all<'a>(
    ctx: &JobContext,
    jobs: impl Iterator<Item = &'a WaitingJob>,
) -> Result<usize, JobError> {
    let mut by_queue: HashMap<QueueName, Vec<JobId>> = HashMap::new();
    for job in jobs {
        by_queue.entry(job.queue).or_default().push(job.id);
    }
    let mut total = 0;
    for (queue, ids) in by_queue {
        ctx.queue.push_many(queue, &ids).await?;
        ctx.db.mark_pushed(&ids).await?;
        total += ids.len();
    }
    Ok(total)
}
