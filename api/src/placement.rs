//! A client's say in when its job runs: `priority` (lower than the default for anyone,
//! higher for admin keys only), and `run_at` or `delay_secs` for a job that must not start
//! before a later instant (it is `scheduled` until then). Parsed once here into a
//! [`Placement`], which `submit::new_job` applies to the row.

use serde::{Deserialize, Serialize};
use shared::domain::{Priority, Timestamp};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;

/// The furthest ahead a job may be scheduled: a year.
pub const MAX_AHEAD_SECS: u64 = 366 * 24 * 3600;

/// The priorities a client may ask for. `high` is above every default: admin keys only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriorityChoice {
    Low,
    Bulk,
    Normal,
    High,
}

impl PriorityChoice {
    pub const ALL: [PriorityChoice; 4] = [
        PriorityChoice::Low,
        PriorityChoice::Bulk,
        PriorityChoice::Normal,
        PriorityChoice::High,
    ];

    /// The name a request uses (the same as the priority's).
    pub fn as_str(self) -> &'static str {
        self.priority().as_str()
    }

    fn priority(self) -> Priority {
        match self {
            PriorityChoice::Low => Priority::Low,
            PriorityChoice::Bulk => Priority::Bulk,
            PriorityChoice::Normal => Priority::Normal,
            PriorityChoice::High => Priority::High,
        }
    }
}

/// Where a job goes in line: its priority, and the instant it may start (`None`: now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub priority: Priority,
    pub run_at: Option<Timestamp>,
}

impl Placement {
    /// The default for a kind of submission, with nothing asked.
    pub fn default_for(priority: Priority) -> Placement {
        Placement {
            priority,
            run_at: None,
        }
    }

    /// Checks what a request asked. `default`: the submission's own priority (`normal` for
    /// single jobs, `bulk` for batch rows); a key may ask for it or lower, an admin key for
    /// anything. `run_at` (RFC 3339) and `delay_secs` exclude each other; an instant in the
    /// past means now; at most [`MAX_AHEAD_SECS`] ahead.
    pub fn check(
        caller: &Caller,
        default: Priority,
        priority: Option<PriorityChoice>,
        run_at: Option<&str>,
        delay_secs: Option<u64>,
    ) -> Result<Placement, ApiError> {
        let priority = match priority.map(PriorityChoice::priority) {
            Some(asked) if asked > default && !caller.is_admin => {
                return Err(ApiError::AdminOnly {
                    code: "priority_not_allowed",
                    message: format!(
                        "priority `{asked}` is above this submission's default `{default}`; \
                         only admin keys may raise it"
                    ),
                });
            }
            Some(asked) => asked,
            None => default,
        };
        let now = Timestamp::now();
        let too_far = |field: &str| {
            ApiError::invalid_with_code(
                "too_far_ahead",
                field,
                format!(
                    "a job may be scheduled at most {} days ahead",
                    MAX_AHEAD_SECS / 86_400
                ),
            )
        };
        let ahead_ms = MAX_AHEAD_SECS as i64 * 1000;
        let run_at = match (run_at, delay_secs) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_with_code(
                    "conflicting_fields",
                    "delay_secs",
                    "give `run_at` or `delay_secs`, not both",
                ));
            }
            (Some(text), None) => {
                let at = Timestamp::parse_rfc3339(text).ok_or_else(|| {
                    ApiError::invalid_with_code(
                        "invalid_run_at",
                        "run_at",
                        "`run_at` must be an RFC 3339 instant, e.g. 2026-12-24T18:00:00Z",
                    )
                })?;
                if at.millis() - now.millis() > ahead_ms {
                    return Err(too_far("run_at"));
                }
                Some(at)
            }
            (None, Some(secs)) if secs > MAX_AHEAD_SECS => return Err(too_far("delay_secs")),
            (None, Some(secs)) => Some(now.plus_millis(secs as i64 * 1000)),
            (None, None) => None,
        };
        Ok(Placement {
            priority,
            // Due already: runs now, like a submission without one.
            run_at: run_at.filter(|at| *at > now),
        })
    }

    /// [`Placement::check`] for a single submission (default `normal`).
    pub fn single(
        caller: &Caller,
        priority: Option<PriorityChoice>,
        run_at: Option<&str>,
        delay_secs: Option<u64>,
    ) -> Result<Placement, ApiError> {
        Self::check(caller, Priority::Normal, priority, run_at, delay_secs)
    }

    /// Sets the row's priority and start instant.
    pub fn apply(&self, job: &mut shared::db::NewJob) {
        job.priority = self.priority;
        if let Some(at) = self.run_at {
            job.run_at = at;
        }
    }
}
