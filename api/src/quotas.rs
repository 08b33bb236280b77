//! The waiting-jobs quota: a key may have at most `quotas.max_waiting_jobs` (or its own
//! `max_waiting_jobs`) jobs not finished yet; a submission (or a dead job retried) that would
//! go past it is refused whole (`429 too_many_waiting_jobs`), before anything of it is stored.
//! Counting a key's jobs on every submission would cost an index scan of up to the quota each
//! time, so each API process keeps a recent count per key (at most `FRESH` old, plus what it
//! admitted since) and counts in the database only when that count comes within a tenth of the
//! quota. Several API processes admitting at the same moment near the quota can overshoot it by
//! what they admit in that moment, never more.

use std::time::Duration;

use moka::future::Cache;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a count is trusted far from the quota.
const FRESH: Duration = Duration::from_secs(1);

/// Recent waiting-job counts per key, in this process.
#[derive(Clone)]
pub struct WaitingCounts(Cache<String, u64>);

impl Default for WaitingCounts {
    fn default() -> Self {
        Self(
            Cache::builder()
                .max_capacity(10_000)
                .time_to_live(FRESH)
                .build(),
        )
    }
}

/// Refuses `adding` more jobs for `caller` when they would exceed its quota.
pub(crate) async fn admit(state: &AppState, caller: &Caller, adding: u64) -> Result<(), ApiError> {
    let quota = caller
        .service
        .max_waiting_jobs
        .unwrap_or(state.config.quotas.max_waiting_jobs);
    if quota == 0 || caller.key_id == shared::db::SYSTEM_OWNER {
        return Ok(());
    }
    let counts = &state.waiting.0;
    let recent = counts.get(&caller.key_id).await;
    let waiting = match recent {
        Some(n) if n + adding <= quota - quota / 10 => n,
        _ => state.db.count_waiting_jobs(&caller.key_id).await?,
    };
    if waiting + adding > quota {
        return Err(ApiError::TooMany {
            code: "too_many_waiting_jobs",
            message: format!(
                "this key has {waiting} jobs waiting or running and may have at most {quota} \
                 (quotas.max_waiting_jobs); {adding} more would exceed it: nothing was accepted"
            ),
            retry_after_secs: 10,
        });
    }
    counts.insert(caller.key_id.clone(), waiting + adding).await;
    Ok(())
}
