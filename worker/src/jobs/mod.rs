//! Job handlers: plain async functions, one file per kind, registered in `dispatch`. Each is
//! idempotent (it may run again after a crash) and reports errors as retryable or permanent.
//!
//! Cancelling a running job is cooperative: the executor runs each attempt inside
//! [`with_cancellation`], and handlers call [`safe_point`] where stopping leaves nothing half
//! done (before rendering, before storing, before sending). The token is task-local rather
//! than an argument so that every handler keeps its plain signature.

pub mod bundle;
pub mod certificate;
pub(crate) mod context;
pub mod email;
pub mod maintenance;
mod pdf;
pub mod report;
pub mod webhook;

use shared::db::Claimed;
use shared::domain::JobKind;

pub use crate::error::{CANCELLED, JobError};
pub use context::{JobContext, safe_point, with_cancellation};

/// Runs the handler for the claimed job's kind; its `Ok` value becomes the row's `result`.
pub async fn dispatch(ctx: &JobContext, job: &Claimed) -> Result<serde_json::Value, JobError> {
    match job.job.kind {
        JobKind::Certificate => certificate::run(ctx, job, payload(job)?).await,
        JobKind::Report => report::run(ctx, job, payload(job)?).await,
        JobKind::Email => email::run(ctx, job, payload(job)?).await,
        JobKind::Maintenance => maintenance::run(ctx, payload(job)?).await,
        JobKind::Webhook => webhook::run(ctx, job, payload(job)?).await,
        JobKind::Bundle => bundle::run(ctx, job, payload(job)?).await,
    }
}

/// The row's payload as its kind's type: what the handler receives. A row that does not
/// parse will never parse: permanent.
fn payload<P: shared::jobs::JobPayload>(claimed: &Claimed) -> Result<P, JobError> {
    serde_json::from_value(claimed.job.payload.clone())
        .map_err(|e| JobError::permanent("invalid_payload", format!("unreadable payload: {e}")))
}
