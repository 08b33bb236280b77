//! `cleanup`: deletes finished jobs past their retention (per kind and status, in
//! configuration) with their files, registry entries and email records. It works in small
//! batches, each its own short transaction, so it never holds a long lock, and stops after
//! `max_per_run` jobs (the next run continues). Rows go before files: a crash in between
//! leaves an orphan file, never a row pointing at a missing one.

use std::collections::{BTreeMap, HashSet};

use shared::domain::{JobKind, JobStatus, Timestamp};

use crate::error::JobError;
use crate::jobs::context::JobContext;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub async fn run(ctx: &JobContext) -> Result<serde_json::Value, JobError> {
    let settings = &ctx.config.cleanup;
    let now = Timestamp::now();
    let mut budget = settings.max_per_run as usize;
    let mut deleted: BTreeMap<String, usize> = BTreeMap::new();
    let mut files = 0;
    let mut file_errors = 0;
    'kinds: for kind in JobKind::ALL {
        let keep = settings.retention.get(kind);
        for (status, days) in [
            (JobStatus::Succeeded, keep.succeeded_days),
            (JobStatus::Dead, keep.dead_days),
            (JobStatus::Cancelled, keep.cancelled_days),
        ] {
            if days == 0 {
                continue;
            }
            let before = now.plus_millis(-i64::from(days) * DAY_MS);
            loop {
                if budget == 0 {
                    break 'kinds;
                }
                let limit = (settings.batch_size as usize).min(budget);
                let expired = ctx
                    .db
                    .expired_jobs(kind, status, before, limit as u32)
                    .await?;
                if expired.is_empty() {
                    break;
                }
                budget -= expired.len();
                let ids: Vec<_> = expired.iter().map(|j| j.id).collect();
                let gone: HashSet<_> = ctx
                    .db
                    .delete_jobs(&ids, status)
                    .await?
                    .into_iter()
                    .collect();
                *deleted.entry(format!("{kind}/{status}")).or_default() += gone.len();
                for job in expired.iter().filter(|j| gone.contains(&j.id)) {
                    match ctx
                        .storage
                        .remove_job_files(&job.owner_id, job.id, job.attempt)
                        .await
                    {
                        Ok(n) => files += n,
                        Err(e) => {
                            // The row is gone; the file is an orphan, not a broken promise.
                            file_errors += 1;
                            tracing::warn!(job_id = %job.id, error = %e, "could not remove a deleted job's files");
                        }
                    }
                }
                if expired.len() < limit {
                    break;
                }
            }
        }
    }
    let total: usize = deleted.values().sum();
    if total > 0 {
        tracing::info!(deleted = total, files, "cleanup deleted expired jobs");
    }
    Ok(serde_json::json!({
        "deleted": total,
        "by_kind_and_status": deleted,
        "files_removed": files,
        "file_errors": file_errors,
        // False when max_per_run stopped this run early: the next run continues.
        "complete": budget > 0,
    }))
}
