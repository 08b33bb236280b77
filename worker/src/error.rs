//! How an attempt fails: [`JobError`], permanent or retryable, with a stable code. Its own
//! module, so what handlers use (templates, jobs, the executor) all import it from here.

use shared::db::DbError;
use shared::queue::QueueError;

/// A failed attempt. Permanent errors (bad input) go straight to `dead`; retryable ones are
/// tried again until the kind's `max_attempts`.
#[derive(Debug, Clone)]
pub struct JobError {
    pub retryable: bool,
    /// Stable code clients can match on, e.g. `render_failed`, `timeout`.
    pub code: &'static str,
    pub message: String,
    /// The earliest the next attempt may run, when the other side said (a webhook's
    /// `Retry-After`); longer than the backoff wins.
    pub retry_after: Option<std::time::Duration>,
}

impl JobError {
    pub fn permanent(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retryable(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Not before `delay` (see `retry_after`).
    pub fn after(mut self, delay: Option<std::time::Duration>) -> Self {
        self.retry_after = delay;
        self
    }

    /// The attempt stopped at a safe point because cancelling was asked: the executor
    /// records `cancelled`, never a retry.
    pub fn cancelled() -> Self {
        Self::permanent(CANCELLED, "cancelled at the client's request")
    }

    /// Whether `job`'s attempt that failed with this error will be tried again: a retryable
    /// error with attempts left (the executor's rule; a handler may need to know it first).
    pub fn will_retry(&self, job: &shared::db::JobRow) -> bool {
        self.retryable && job.attempt < job.max_attempts
    }

    pub fn is_cancellation(&self) -> bool {
        self.code == CANCELLED
    }
}

/// The error code of an attempt stopped by a cancel request.
pub const CANCELLED: &str = "cancelled";

/// A lost connection is worth another attempt; a row that cannot be read is not (it will read
/// the same next time).
impl From<DbError> for JobError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Corrupt(_) => JobError::permanent("corrupt_row", e.to_string()),
            DbError::Unavailable(_) | DbError::Other(_) => {
                JobError::retryable("database", e.to_string())
            }
        }
    }
}

impl From<QueueError> for JobError {
    fn from(e: QueueError) -> Self {
        JobError::retryable("queue", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_rows_are_permanent_and_lost_connections_retryable() {
        let corrupt = JobError::from(DbError::Corrupt("bad payload".into()));
        assert!(!corrupt.retryable);
        assert_eq!(corrupt.code, "corrupt_row");
        assert!(JobError::from(DbError::Unavailable("gone".into())).retryable);
        assert!(JobError::from(QueueError::Unavailable("gone".into())).retryable);
    }
}
