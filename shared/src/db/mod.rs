//! The SQL database: the system of record for jobs and keys. All SQL lives here, behind
//! functions named for what they do. One SQL text serves both dialects through sqlx's `Any`
//! driver: placeholders are `$N` (SQLite accepts them too), times are Unix milliseconds and
//! integers are BIGINT.

mod certificates;
mod dashboard;
mod email;
mod events;
mod idempotency;
mod invalidations;
mod jobs;
mod keys;
mod maintenance;
mod pool;
mod purges;
mod schedules;
mod sessions;
mod templates;
mod wakeups;
mod webhooks;
mod workers;
mod workflows;

pub use certificates::{
    BatchFile, BatchRow, BatchWriter, CertificateCursor, CertificateFilter, CertificateRow,
    CertificateSort, CertificateStatus, NewCertificate, RevokeOutcome, SortKey,
};
pub use dashboard::{FailureGroup, Latencies, Throughput};
pub use email::{
    CREDENTIAL_KEY_SETTING, EmailCharge, EmailSend, LINK_KEY_SETTING, OverQuota, QuotaWindow,
};
pub use events::{Event, EventFilter, EventRead, HistoryEntry, PumpSettings, Pumped};
pub use jobs::{
    CancelOutcome, Claimed, FailOutcome, InsertOutcome, JobFilter, JobRow, Lease, ListCursor,
    MAX_WEIGHT, NewJob, RetryOutcome, WaitingJob, cursor_id, cursor_millis,
};
pub use keys::{ApiKey, KeyEmailLimits, KeyServiceLimits, NewApiKey, hash_key};
pub use maintenance::{AuditEntry, Backlog, ExpiredJob, HealthCheck};
pub use schedules::ScheduleState;
pub use sessions::NewSession;
pub use templates::{CreateOutcome, DeleteOutcome, NewTemplate, SYSTEM_OWNER, TemplateChange};
pub use webhooks::{
    DeliveryAttempt, DeliveryEnd, DeliveryRow, DisabledEndpoint, NewWebhook, WebhookChange,
    WebhookRow,
};

pub use invalidations::{CACHE_CHANNEL, Invalidation, Invalidations, SQLITE_POLL};
pub use wakeups::{OUTBOX_CHANNEL, SCHEDULED_CHANNEL, Wakeups};
pub use workers::{WORKER_HEARTBEAT, WorkerRow};
pub use workflows::{
    NewStep, NewWorkflow, ParentFailure, ParentOutput, StepJob, WorkflowFilter, WorkflowInsert,
    WorkflowRow, WorkflowStatus,
};

/// Which SQL database a configuration selects.
pub use pool::{DatabaseBackend, Db, DbError, DbSettings};
