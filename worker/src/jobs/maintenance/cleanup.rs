//! `cleanup`: deletes finished jobs past their retention (per kind and status, in
//! configuration) with their files, registry entries and email records. It works in small
//! batches, each its own short transaction, so it never holds a long lock, and stops after
//! `max_per_run` jobs (the next run continues). Rows go before files: the transaction that
//! deletes the rows records their files in `file_deletions`, and an entry is forgotten only
//! once its files are gone. A crash in between never leaves a row pointing at a missing file,
//! and the next run first removes what the last one left (or what storage refused). Last, it
//! sweeps inputs that nothing will read any more (`sweep_inputs`), old events, and ended
//! dashboard sessions.

use std::collections::{BTreeMap, HashMap, HashSet};

use shared::domain::{JobId, JobKind, JobStatus, Timestamp};

use shared::db::ExpiredJob;

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
    // What an earlier run deleted the rows of but could not finish.
    loop {
        let pending = ctx
            .db
            .pending_file_deletions(settings.batch_size.min(budget as u32))
            .await?;
        let (removed, failed) = remove_files(ctx, &pending).await?;
        files += removed;
        file_errors += failed;
        budget -= pending.len().min(budget);
        if pending.len() < settings.batch_size as usize || failed > 0 || budget == 0 {
            break;
        }
    }
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
                let fetched = expired.len();
                budget -= fetched;
                let ids: Vec<_> = expired.iter().map(|j| j.id).collect();
                let (gone, purge) = ctx
                    .db
                    .delete_jobs(&ids, status, ctx.config.purging())
                    .await?;
                ctx.queue.push_inserted(purge.as_ref()).await;
                let gone: HashSet<_> = gone.into_iter().collect();
                *deleted.entry(format!("{kind}/{status}")).or_default() += gone.len();
                let gone: Vec<ExpiredJob> = expired
                    .into_iter()
                    .filter(|j| gone.contains(&j.id))
                    .collect();
                let (removed, failed) = remove_files(ctx, &gone).await?;
                files += removed;
                file_errors += failed;
                if fetched < limit {
                    break;
                }
            }
        }
    }
    let total: usize = deleted.values().sum();
    if total > 0 {
        // API processes drop their cached answers of deleted jobs as the deletion commits
        // (the `jobs` trigger's `job:*`, see `api::cache`).
        tracing::info!(deleted = total, files, "cleanup deleted expired jobs");
    }
    let swept = sweep_inputs(ctx, now).await?;
    if swept > 0 {
        tracing::info!(jobs = swept, "cleanup removed inputs left behind");
    }
    // The event log replays `webhooks.events_retention_hours`; delivery logs live as long as
    // their delivery jobs (`cleanup.retention.webhook`, the longest of its statuses).
    let w = &ctx.config.cleanup.retention.webhook;
    let delivery_days = w.succeeded_days.max(w.dead_days).max(w.cancelled_days);
    let hours = ctx.config.webhooks.events_retention_hours as i64;
    let events_removed = ctx
        .db
        .delete_old_events(
            now.plus_millis(-hours * 3_600_000),
            match delivery_days {
                0 => shared::domain::Timestamp::from_millis(i64::MIN),
                d => now.plus_millis(-(i64::from(d)) * 86_400_000),
            },
        )
        .await?;
    // Dashboard sessions of the embedded deployment that ended (Redis expires its own).
    let sessions_removed = ctx.db.delete_expired_sessions(now).await?;
    Ok(serde_json::json!({
        "deleted": total,
        // Dashboard sessions that had ended.
        "sessions_removed": sessions_removed,
        // Events past their retention and delivery logs past their jobs'.
        "events_removed": events_removed,
        "by_kind_and_status": deleted,
        // Jobs whose files (outputs of every attempt, inputs) are gone.
        "files_removed": files,
        "file_errors": file_errors,
        // Jobs whose inputs were left behind and are now removed (see `sweep_inputs`).
        "inputs_swept": swept,
        // False when max_per_run stopped this run early: the next run continues.
        "complete": budget > 0,
    }))
}

/// Removes these deleted jobs' files and forgets the entries of those removed; a failure
/// stays recorded for the next run. Returns (removed, failed).
async fn remove_files(ctx: &JobContext, jobs: &[ExpiredJob]) -> Result<(usize, usize), JobError> {
    let mut removed = Vec::with_capacity(jobs.len());
    let mut failed = 0;
    for job in jobs {
        match ctx
            .storage
            .remove_job_files(&job.owner_id, job.id, job.attempt)
            .await
        {
            Ok(()) => removed.push(job.id),
            Err(e) => {
                failed += 1;
                tracing::warn!(job_id = %job.id, error = %e, "could not remove a deleted job's files yet");
            }
        }
    }
    ctx.db.forget_file_deletions(&removed).await?;
    Ok((removed.len(), failed))
}

/// Removes inputs nothing will read: those of succeeded or cancelled jobs (a worker killed
/// after recording the outcome, before removing them) and those of no job at all, once older
/// than `orphan_inputs_after_secs` (a submission writes its inputs just before its row, and one
/// that failed in between leaves them). A dead job keeps its inputs: it may be retried. One
/// listing of the inputs and one query per 500 jobs. Returns how many jobs' inputs went.
async fn sweep_inputs(ctx: &JobContext, now: Timestamp) -> Result<usize, JobError> {
    let listed = ctx.storage.jobs_with_inputs().await.map_err(|e| {
        JobError::retryable("storage_failed", format!("listing the inputs failed: {e}"))
    })?;
    let orphan_after = ctx.config.cleanup.orphan_inputs_after_secs as i64 * 1000;
    let mut swept = 0;
    for chunk in listed.chunks(500) {
        let ids: Vec<JobId> = chunk.iter().map(|(id, _)| *id).collect();
        let status: HashMap<JobId, JobStatus> = ctx
            .db
            .jobs_by_ids(&ids)
            .await?
            .into_iter()
            .map(|row| (row.id, row.status))
            .collect();
        for (id, written) in chunk {
            let unread = match status.get(id) {
                Some(JobStatus::Succeeded | JobStatus::Cancelled) => true,
                Some(_) => false,
                None => now.millis() - written.millis() >= orphan_after,
            };
            if !unread {
                continue;
            }
            match ctx.storage.remove_inputs(*id).await {
                Ok(()) => swept += 1,
                Err(e) => {
                    tracing::warn!(job_id = %id, error = %e, "could not remove inputs left behind")
                }
            }
        }
    }
    Ok(swept)
}
