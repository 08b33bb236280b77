//! Job handlers: plain async functions, one file per kind, registered in `dispatch`. Each is
//! idempotent (it may run again after a crash) and reports errors as retryable or permanent.

pub mod certificate;
pub mod maintenance;

use std::sync::Arc;

use shared::config::Config;
use shared::db::{Claimed, Db};
use shared::domain::JobKind;
use shared::queue::Queue;
use shared::storage::Storage;

use crate::render::Engine;
use crate::templates::CompiledTemplates;

/// What handlers may use.
#[derive(Clone)]
pub struct JobContext {
    pub config: Arc<Config>,
    pub db: Db,
    pub queue: Queue,
    pub storage: Storage,
    pub engine: Arc<Engine>,
    pub templates: CompiledTemplates,
}

/// A failed attempt. Permanent errors (bad input) go straight to `dead`; retryable ones are
/// tried again until the kind's `max_attempts`.
#[derive(Debug, Clone)]
pub struct JobError {
    pub retryable: bool,
    /// Stable code clients can match on, e.g. `render_failed`, `timeout`.
    pub code: &'static str,
    pub message: String,
}

impl JobError {
    pub fn permanent(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            code,
            message: message.into(),
        }
    }

    pub fn retryable(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            code,
            message: message.into(),
        }
    }
}

/// Runs the handler for the claimed job's kind; its `Ok` value becomes the row's `result`.
pub async fn dispatch(ctx: &JobContext, job: &Claimed) -> Result<serde_json::Value, JobError> {
    match job.job.kind {
        JobKind::Certificate => certificate::run(ctx, job).await,
        JobKind::Maintenance => maintenance::run(ctx, job).await,
        other => Err(JobError::permanent(
            "unsupported_kind",
            format!("this worker cannot run `{other}` jobs yet"),
        )),
    }
}
