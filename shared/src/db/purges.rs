//! `purge` jobs, inserted in the transaction of the change that makes public answers stale
//! (see `crate::cdn`): a rollback takes the purge back, a commit cannot lose it.

use super::jobs::{NewJob, insert_job_in};
use super::pool::DbError;
use super::templates::SYSTEM_OWNER;
use crate::cdn::Purging;

/// Inserts the purge of `tags` in the caller's transaction when purging is configured and
/// there is something to purge; the job to push once the transaction committed.
pub(super) async fn insert_purge_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    purging: Option<Purging>,
    tags: Vec<String>,
) -> Result<Option<NewJob>, DbError> {
    let Some(payload) = purging.and_then(|p| p.payload(tags)) else {
        return Ok(None);
    };
    let max_attempts = purging.map_or(1, |p| p.max_attempts);
    let job = NewJob::of(SYSTEM_OWNER, max_attempts, &payload);
    insert_job_in(tx, &job).await?;
    Ok(Some(job))
}
