use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A job's identity: a UUIDv7, so ids sort roughly by creation time and index well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(Uuid);

impl JobId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for JobId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// What a job does. The string form is stored in rows and must never be renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Certificate,
    Report,
    Email,
    Maintenance,
    /// One webhook delivery (an event to one endpoint): its attempts are the retries.
    Webhook,
    /// A workflow's built-in step over its parents' outputs: a `merge` (one PDF) or an
    /// `archive` (one ZIP).
    Bundle,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::Certificate,
        JobKind::Report,
        JobKind::Email,
        JobKind::Maintenance,
        JobKind::Webhook,
        JobKind::Bundle,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobKind::Certificate => "certificate",
            JobKind::Report => "report",
            JobKind::Email => "email",
            JobKind::Maintenance => "maintenance",
            JobKind::Webhook => "webhook",
            JobKind::Bundle => "bundle",
        }
    }

    /// Each kind has its own queue, so one slow kind never starves another.
    pub fn queue(&self) -> QueueName {
        match self {
            JobKind::Certificate => QueueName::Certificates,
            JobKind::Report => QueueName::Reports,
            JobKind::Email => QueueName::Emails,
            JobKind::Maintenance => QueueName::Maintenance,
            JobKind::Webhook => QueueName::Webhooks,
            JobKind::Bundle => QueueName::Bundles,
        }
    }

    /// The kind whose queue `queue` is (each kind has its own).
    pub fn of_queue(queue: QueueName) -> JobKind {
        match queue {
            QueueName::Certificates => JobKind::Certificate,
            QueueName::Reports => JobKind::Report,
            QueueName::Emails => JobKind::Email,
            QueueName::Maintenance => JobKind::Maintenance,
            QueueName::Webhooks => JobKind::Webhook,
            QueueName::Bundles => JobKind::Bundle,
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown job kind `{s}`"))
    }
}

/// The queues; one per job kind. Their names are part of the Redis key space: never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueName {
    Certificates,
    Reports,
    Emails,
    Maintenance,
    Webhooks,
    Bundles,
}

impl QueueName {
    pub const ALL: [QueueName; 6] = [
        QueueName::Certificates,
        QueueName::Reports,
        QueueName::Emails,
        QueueName::Maintenance,
        QueueName::Webhooks,
        QueueName::Bundles,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            QueueName::Certificates => "certificates",
            QueueName::Reports => "reports",
            QueueName::Emails => "emails",
            QueueName::Maintenance => "maintenance",
            QueueName::Webhooks => "webhooks",
            QueueName::Bundles => "bundles",
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueueName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueueName::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown queue `{s}`"))
    }
}

/// The job state machine (drawn in ARCHITECTURE.md):
/// `queued -> running -> succeeded | failed (retry at run_at) -> running ... -> dead`, and
/// `queued | failed -> cancelled`; a job submitted for later is `scheduled -> queued` when
/// its time comes (or `scheduled -> cancelled`); a workflow step is `waiting -> queued` when
/// its last parent ends (or `waiting -> cancelled`, `parent_failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Scheduled,
    /// A workflow step whose parents have not all ended.
    Waiting,
    Queued,
    Running,
    Succeeded,
    Failed,
    Dead,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 8] = [
        JobStatus::Scheduled,
        JobStatus::Waiting,
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Dead,
        JobStatus::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobStatus::Scheduled => "scheduled",
            JobStatus::Waiting => "waiting",
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Finished for good: no worker will touch the job again.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown job status `{s}`"))
    }
}

/// How soon a job runs: a worker always takes the highest-priority ready job of its queue.
/// The numbers are stored in rows (`jobs.priority`) and ordered on: never renumber. Clients
/// name the first four; `notification` and `system` are quire's own (notification emails,
/// maintenance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    /// Batch rows by default.
    Bulk,
    /// Emails a finished job asked for (`notify`).
    Notification,
    /// Single submissions by default.
    Normal,
    /// Above the default: admin keys only.
    High,
    /// Maintenance jobs (schedule ticks).
    System,
}

impl Priority {
    pub const ALL: [Priority; 6] = [
        Priority::Low,
        Priority::Bulk,
        Priority::Notification,
        Priority::Normal,
        Priority::High,
        Priority::System,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Bulk => "bulk",
            Priority::Notification => "notification",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::System => "system",
        }
    }

    /// The stored number.
    pub fn level(&self) -> i64 {
        match self {
            Priority::Low => 0,
            Priority::Bulk => 10,
            Priority::Notification => 15,
            Priority::Normal => 20,
            Priority::High => 30,
            Priority::System => 40,
        }
    }

    /// The priority a stored number stands for (the nearest level at or below it).
    pub fn from_level(level: i64) -> Priority {
        Priority::ALL
            .into_iter()
            .rev()
            .find(|p| p.level() <= level)
            .unwrap_or(Priority::Low)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod priority_tests {
    use super::*;

    #[test]
    fn levels_order_as_the_variants_and_round_trip() {
        let levels: Vec<i64> = Priority::ALL.iter().map(Priority::level).collect();
        assert!(levels.windows(2).all(|w| w[0] < w[1]), "{levels:?}");
        for p in Priority::ALL {
            assert_eq!(Priority::from_level(p.level()), p);
        }
        assert_eq!(Priority::from_level(25), Priority::Normal);
        assert_eq!(Priority::from_level(-5), Priority::Low);
    }
}
