//! `purge`: tells the CDN to drop its copies of the public answers the job's tags name. The
//! job was inserted by the change that made them stale, in its transaction; every failure
//! (an error status, no answer) is retryable, with the job's backoff, until `cdn.max_attempts`.
//! A purge whose `cdn.purge_url` was unset since has nowhere to go and succeeds as skipped.

use serde_json::json;

use crate::error::JobError;
use crate::jobs::context::JobContext;

pub async fn run(ctx: &JobContext, tags: Vec<String>) -> Result<serde_json::Value, JobError> {
    let Some(purger) = &ctx.purger else {
        return Ok(json!({ "tags": tags, "skipped": "cdn.purge_url is not set" }));
    };
    crate::jobs::safe_point()?;
    let requests = purger
        .purge(&tags)
        .await
        .map_err(|e| JobError::retryable("purge_failed", e))?;
    tracing::debug!(tags = tags.len(), requests, "CDN purged");
    Ok(json!({ "tags": tags, "requests": requests }))
}
