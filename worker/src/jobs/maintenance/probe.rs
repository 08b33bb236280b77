//! `probe`: a diagnostic job for the fault tests. It holds a worker slot for `sleep_ms`, in
//! short steps so cancellation and shutdown see it at a safe point, then ends as told.

use std::time::Duration;

use shared::jobs::{Probe, ProbeOutcome};

use crate::error::JobError;
use crate::jobs::context::safe_point;

const STEP: Duration = Duration::from_millis(50);

pub async fn run(probe: Probe) -> Result<serde_json::Value, JobError> {
    let until = tokio::time::Instant::now() + Duration::from_millis(probe.sleep_ms);
    while tokio::time::Instant::now() < until {
        safe_point()?;
        tokio::time::sleep(STEP.min(until - tokio::time::Instant::now())).await;
    }
    match probe.outcome {
        ProbeOutcome::Succeed => Ok(serde_json::json!({ "slept_ms": probe.sleep_ms })),
        ProbeOutcome::FailRetryable => Err(JobError::retryable(
            "probe_failed",
            "the probe failed as asked (retryable)",
        )),
        ProbeOutcome::FailPermanent => Err(JobError::permanent(
            "probe_failed",
            "the probe failed as asked (permanent)",
        )),
        ProbeOutcome::Panic => panic!("the probe panicked as asked"),
        ProbeOutcome::AbortProcess => {
            tracing::error!("the probe aborts this process as asked");
            std::process::abort()
        }
    }
}
