//! Job payloads: what a job row's `payload` and `result` columns hold, per kind. Payloads
//! carry small values and references (paths of inputs), never large blobs. Field names are
//! stored in rows: add fields with defaults, never rename.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::{CalendarDate, JobKind};

/// A job kind's payload: what its row's `payload` column holds, what the API builds after
/// validation and what the kind's handler receives. `NewJob::of` is the one constructor of
/// a job row from it.
pub trait JobPayload: Serialize + DeserializeOwned {
    const KIND: JobKind;
}

impl JobPayload for CertificatePayload {
    const KIND: JobKind = JobKind::Certificate;
}

impl JobPayload for EmailPayload {
    const KIND: JobKind = JobKind::Email;
}

impl JobPayload for MaintenancePayload {
    const KIND: JobKind = JobKind::Maintenance;
}

/// `certificate`: one certificate PDF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificatePayload {
    /// The template's name when submitted (for display; rendering uses the pinned id).
    pub template: String,
    /// The pinned template version. Absent only in rows written before templates were
    /// versioned: those render the current version of `template`.
    #[serde(default)]
    pub template_id: Option<String>,
    #[serde(default)]
    pub template_version: Option<i64>,
    pub recipient_name: String,
    pub course_name: String,
    pub issued_on: CalendarDate,
    pub issuer_name: Option<String>,
    /// If the certificate expires.
    #[serde(default)]
    pub expires_on: Option<CalendarDate>,
    /// Unguessable code printed on the certificate and behind its QR code.
    pub verification_code: String,
    /// The standards the PDF must meet: the request's, else the template version's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_standard: Option<crate::domain::PdfStandard>,
    /// The photo was stored as the job's `photo` input file.
    #[serde(default)]
    pub has_photo: bool,
    /// The signature was stored as the job's `signature` input file.
    #[serde(default)]
    pub has_signature: bool,
    /// Template-specific fields (string, number or boolean values). Image fields are not
    /// here but stored as input files `field-<name>`, named in `image_fields`.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub image_fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
}

impl CertificatePayload {
    /// The data a certificate template reads from `/data.json`: display-ready strings,
    /// never markup. The worker renders with it; the API previews and test-compiles with it.
    pub fn template_data(&self, public_base_url: &str) -> serde_json::Value {
        serde_json::json!({
            "recipient_name": self.recipient_name,
            "course_name": self.course_name,
            "issued_on": self.issued_on.display(),
            "issuer_name": self.issuer_name,
            "expires_on": self.expires_on.map(CalendarDate::display),
            "verification_code": self.verification_code,
            "verify_url": crate::verification::verify_url(public_base_url, &self.verification_code),
            "has_photo": self.has_photo,
            "has_signature": self.has_signature,
            "has_qr": true,
            "fields": self.fields,
        })
    }
}

/// `"notify"` on a generation job: email `email` when the job succeeds (`report_ready` or
/// `certificate_issued`, the PDF attached or linked) and, if `on_failure`, a `job_failed`
/// email when it ends `dead`. Each email is its own `email` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    #[schema(value_type = String, example = "ops@example.com", format = Email, max_length = 254)]
    pub email: crate::domain::EmailAddress,
    /// Attach the PDF (when it fits under `limits.max_email_attachment_bytes`); otherwise the
    /// email carries a download link.
    #[serde(default)]
    pub attach: bool,
    /// Also email when the job ends `dead`.
    #[serde(default)]
    pub on_failure: bool,
}

/// `email`: one templated email. Addresses were checked at the edge; attachments are other
/// jobs' PDFs, read when the email is sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailPayload {
    pub to: Vec<crate::domain::EmailAddress>,
    #[serde(default)]
    pub cc: Vec<crate::domain::EmailAddress>,
    #[serde(default)]
    pub bcc: Vec<crate::domain::EmailAddress>,
    #[serde(default)]
    pub reply_to: Option<crate::domain::EmailAddress>,
    /// Replaces the template's own subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// A built-in email template (`shared::email_templates`).
    pub template: String,
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
    /// Attach the files; false sends download links instead (set when they were too big).
    #[serde(default)]
    pub attach: bool,
    /// The job a notification is about.
    #[serde(default)]
    pub about: Option<crate::domain::JobId>,
    /// A workflow step's email: `attachments` are its parents' outputs, read when it is
    /// sent (their sizes unknown before). A parent that ended without a file (a `continue`
    /// step's failed parent) is left out; over `limits.max_email_attachment_bytes` in all,
    /// the files are linked instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_parents: bool,
}

/// A finished job's file, to attach or link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub job_id: crate::domain::JobId,
    pub filename: String,
    pub bytes: u64,
}

/// What a sent email job records in `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailResult {
    pub message_id: String,
    pub recipients: usize,
    pub attached: usize,
    pub linked: usize,
}

/// `maintenance`: work the scheduler enqueues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenancePayload {
    pub task: MaintenanceTask,
    /// The schedule that enqueued it, if any.
    pub schedule: Option<String>,
    /// What a `probe` does; unused by the other tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
    /// The cache tags a `purge` sends to the CDN (`crate::cdn`); unused by the other tasks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaintenanceTask {
    /// Delete finished jobs and their files past their retention.
    Cleanup,
    /// Check the database, queue, SMTP and disk; record the results.
    Health,
    /// `ANALYZE` (PostgreSQL) or `PRAGMA optimize` (SQLite).
    DbMaintenance,
    /// Compile the public templates into the worker's cache.
    CacheWarm,
    /// A diagnostic job that sleeps, then succeeds, fails or panics as told: what the fault
    /// tests run to hold a worker busy or break a handler on purpose. The API cannot enqueue
    /// it; only code with database access (tests, operators' scripts) can.
    Probe,
    /// Tells the CDN (`cdn.purge_url`) to drop its copies of the public answers its `tags`
    /// name. Inserted by the change that made them stale, in its transaction; never scheduled.
    Purge,
}

impl MaintenanceTask {
    pub const ALL: [MaintenanceTask; 6] = [
        MaintenanceTask::Cleanup,
        MaintenanceTask::Health,
        MaintenanceTask::DbMaintenance,
        MaintenanceTask::CacheWarm,
        MaintenanceTask::Probe,
        MaintenanceTask::Purge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MaintenanceTask::Cleanup => "cleanup",
            MaintenanceTask::Health => "health",
            MaintenanceTask::DbMaintenance => "db-maintenance",
            MaintenanceTask::CacheWarm => "cache-warm",
            MaintenanceTask::Probe => "probe",
            MaintenanceTask::Purge => "purge",
        }
    }
}

impl std::fmt::Display for MaintenanceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a `probe` job does: sleep `sleep_ms` (in short steps, each a safe point for
/// cancellation), then end as `outcome` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    #[serde(default)]
    pub sleep_ms: u64,
    #[serde(default)]
    pub outcome: ProbeOutcome,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeOutcome {
    #[default]
    Succeed,
    /// A retryable error every attempt (ends `dead` after the queue's max attempts).
    FailRetryable,
    /// A permanent error (`dead` at once).
    FailPermanent,
    /// The handler panics.
    Panic,
    /// The whole worker process aborts (a poison pill that kills its worker every time):
    /// only for fault tests that run workers as separate processes.
    AbortProcess,
}

/// What a job that produced a file records in `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileResult {
    /// Path relative to the data directory.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub pages: u32,
    /// The standards the PDF was exported to meet, checked by typst as it wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_standard: Option<crate::domain::PdfStandard>,
    /// The PAdES signature the file carries, when workers sign (`signing.identity_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<PdfSignature>,
}

/// What a signed PDF's job records of its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PdfSignature {
    /// The signer certificate's subject (RFC 4514).
    pub signer: String,
    /// sha256 of the signer certificate (DER), hex: what a verifier pins.
    pub certificate_sha256: String,
    /// When it was signed (RFC 3339), as the signature dictionary's `/M` says.
    pub signed_at: String,
    /// The PAdES baseline level: `B-B`, or `B-T` with a time-stamp (`signing.timestamp_url`).
    pub level: String,
}

impl JobPayload for BundlePayload {
    const KIND: JobKind = JobKind::Bundle;
}

/// `bundle`: a workflow's built-in step over its parents' outputs, which it reads from its
/// edges when it runs (so it sees exactly its parents, in their order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundlePayload {
    pub op: BundleOp,
    /// The file's name in downloads and attachments.
    pub filename: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BundleOp {
    /// The parents' PDFs concatenated into one, with an outline entry per part.
    Merge,
    /// A ZIP of the parents' files with a `manifest.csv`.
    Archive,
}

/// What a `bundle` records in `result`: its file, and how many parts it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleResult {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    /// Pages of a merge; 0 for an archive.
    pub pages: u32,
    /// Parent outputs it holds.
    pub parts: u32,
    /// Parents that had no file (ended `dead` or `cancelled`: a `continue` step).
    pub missing: u32,
}

impl JobPayload for WebhookPayload {
    const KIND: JobKind = JobKind::Webhook;
}

/// `webhook`: one event to one endpoint. Empty: the delivery's row (`webhook_deliveries`, the
/// job's own id) holds the URL, the body and the log of its attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {}
