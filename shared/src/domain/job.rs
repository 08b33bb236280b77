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
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::Certificate,
        JobKind::Report,
        JobKind::Email,
        JobKind::Maintenance,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobKind::Certificate => "certificate",
            JobKind::Report => "report",
            JobKind::Email => "email",
            JobKind::Maintenance => "maintenance",
        }
    }

    /// Each kind has its own queue, so one slow kind never starves another.
    pub fn queue(&self) -> QueueName {
        match self {
            JobKind::Certificate => QueueName::Certificates,
            JobKind::Report => QueueName::Reports,
            JobKind::Email => QueueName::Emails,
            JobKind::Maintenance => QueueName::Maintenance,
        }
    }

    /// The kind whose queue `queue` is (each kind has its own).
    pub fn of_queue(queue: QueueName) -> JobKind {
        match queue {
            QueueName::Certificates => JobKind::Certificate,
            QueueName::Reports => JobKind::Report,
            QueueName::Emails => JobKind::Email,
            QueueName::Maintenance => JobKind::Maintenance,
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
}

impl QueueName {
    pub const ALL: [QueueName; 4] = [
        QueueName::Certificates,
        QueueName::Reports,
        QueueName::Emails,
        QueueName::Maintenance,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            QueueName::Certificates => "certificates",
            QueueName::Reports => "reports",
            QueueName::Emails => "emails",
            QueueName::Maintenance => "maintenance",
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
/// `queued | failed -> cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Dead,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Dead,
        JobStatus::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
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
