//! Answers that more than one route gives: the job as clients see it (`JobView`), a
//! submission's answer (`SubmittedView`), a certificate as its owner (`CertificateView`) and
//! anyone with its code (`Verification`) see it, the recorded health checks (`/ready` and
//! `/v1/status`), and the parsing of ids and query values that answers the same way everywhere.

use serde::{Deserialize, Serialize};
use shared::db::{CertificateRow, JobRow};
use shared::domain::{CalendarDate, JobId, JobKind, JobStatus, Timestamp};
use shared::jobs::FileResult;
use utoipa::ToSchema;

use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Links {
    /// This job's status.
    #[serde(rename = "self")]
    pub self_: String,
    /// The produced file, once the job succeeded.
    pub file: String,
}

/// What a submission answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubmittedView {
    pub id: String,
    #[schema(value_type = String, example = "queued")]
    pub status: String,
    pub links: Links,
}

impl SubmittedView {
    pub fn new(job: &JobView) -> Self {
        Self {
            id: job.id.clone(),
            status: job.status.clone(),
            links: job.links.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobErrorView {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobResultView {
    /// URL of the produced file.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub pages: u32,
}

/// A job as clients see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// `certificate`, `report`, `email` or `maintenance`.
    pub kind: String,
    /// `scheduled` (waiting for `run_at`), `queued`, `running`, `succeeded`, `failed` (will
    /// retry), `dead` or `cancelled`.
    pub status: String,
    /// `low`, `bulk`, `notification`, `normal`, `high` or `system`: a worker takes the
    /// highest-priority ready job of a kind first.
    #[schema(example = "normal")]
    pub priority: String,
    pub attempt: i64,
    pub max_attempts: i64,
    /// RFC 3339.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When a `scheduled` job starts, or a `failed` job runs again.
    pub run_at: Option<String>,
    pub progress: Option<String>,
    pub error: Option<JobErrorView>,
    pub result: Option<JobResultView>,
    /// A maintenance job's outcome as its task reports it (e.g. cleanup's counts, the health
    /// checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<serde_json::Value>,
    /// An email job's `Message-ID`, once the server accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Cancelling was asked while the job was running: it ends `cancelled` at the worker's
    /// next safe point, or `succeeded` if it finished before reaching one.
    #[serde(default)]
    pub cancel_requested: bool,
    pub links: Links,
}

impl JobView {
    pub fn from_row(job: &JobRow, base_url: &str) -> Self {
        let links = Links {
            self_: shared::urls::job(base_url, job.id),
            file: shared::urls::job_file(base_url, job.id),
        };
        let result = job
            .result
            .as_ref()
            .and_then(|r| serde_json::from_value::<FileResult>(r.clone()).ok())
            .map(|r| JobResultView {
                file: links.file.clone(),
                bytes: r.bytes,
                sha256: r.sha256,
                pages: r.pages,
            });
        let error = match (&job.error_code, &job.error_message) {
            (Some(code), message) => Some(JobErrorView {
                code: code.clone(),
                message: message.clone().unwrap_or_default(),
            }),
            _ => None,
        };
        JobView {
            id: job.id.to_string(),
            kind: job.kind.to_string(),
            status: job.status.to_string(),
            priority: job.priority.to_string(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            created_at: job.created_at.to_rfc3339(),
            started_at: job.started_at.map(|t| t.to_rfc3339()),
            finished_at: job.finished_at.map(|t| t.to_rfc3339()),
            run_at: matches!(job.status, JobStatus::Failed | JobStatus::Scheduled)
                .then(|| job.run_at.to_rfc3339()),
            progress: job.progress.clone(),
            error,
            result,
            summary: (job.kind == JobKind::Maintenance)
                .then(|| job.result.clone())
                .flatten(),
            message_id: job
                .result
                .as_ref()
                .and_then(|r| r.get("message_id"))
                .and_then(|m| m.as_str())
                .map(str::to_owned),
            cancel_requested: job.cancel_requested_at.is_some(),
            links,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn parse_id(raw: &str) -> Result<JobId, ApiError> {
    // Anything that is not one of our ids cannot name a job: 404, like an unknown id.
    raw.parse().map_err(|_| ApiError::NotFound("job"))
}

/// 400 for a query-string parameter that cannot be used.
pub(crate) fn bad_query(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        message: message.into(),
        field: Some(field.to_owned()),
    }
}

/// One health check's latest recorded result (the `health` maintenance task records them).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckView {
    /// `database`, `queue`, `mail` or `disk`.
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub duration_ms: i64,
    /// RFC 3339.
    pub checked_at: String,
}

/// The latest recorded health: every check, and whether they are recent enough to trust.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordedHealth {
    /// Every check passed and none is stale.
    pub ok: bool,
    /// The oldest check is older than `health.stale_after_secs` (the `health` schedule has
    /// not run: no scheduler or worker, or it is paused).
    pub stale: bool,
    pub checks: Vec<CheckView>,
}

impl RecordedHealth {
    /// `None` until the `health` task has run once.
    pub fn new(checks: Vec<shared::db::HealthCheck>, stale_after_secs: u64) -> Option<Self> {
        let oldest = checks.iter().map(|c| c.checked_at).min()?;
        let stale = Timestamp::now().millis() - oldest.millis() > stale_after_secs as i64 * 1000;
        Some(RecordedHealth {
            ok: !stale && checks.iter().all(|c| c.ok),
            stale,
            checks: checks
                .into_iter()
                .map(|c| CheckView {
                    name: c.name,
                    ok: c.ok,
                    detail: c.detail,
                    duration_ms: c.duration_ms,
                    checked_at: c.checked_at.to_rfc3339(),
                })
                .collect(),
        })
    }
}

/// A certificate in a registry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateView {
    /// The job that renders it.
    pub id: String,
    /// `pending`, `valid`, `expired`, `revoked`, `failed` or `cancelled`.
    pub status: String,
    pub recipient_name: String,
    pub course_name: String,
    pub issuer_name: Option<String>,
    pub issued_on: String,
    pub expires_on: Option<String>,
    pub template: String,
    pub template_version: i64,
    pub verification_code: String,
    pub verify_url: String,
    pub is_public: bool,
    pub revoked_at: Option<String>,
    pub revocation_reason: Option<String>,
    /// sha256 of the issued PDF.
    pub sha256: Option<String>,
    pub batch_id: Option<String>,
    pub created_at: String,
    /// The PDF (owner or admin; absent in the public registry).
    pub file: Option<String>,
}

impl CertificateView {
    pub(crate) fn from_row(row: &CertificateRow, base_url: &str, public: bool) -> Self {
        let status = row.status(CalendarDate::today());
        CertificateView {
            id: row.job_id.to_string(),
            status: status.as_str().to_owned(),
            recipient_name: row.recipient_name.clone(),
            course_name: row.course_name.clone(),
            issuer_name: row.issuer_name.clone(),
            issued_on: row.issued_on.to_string(),
            expires_on: row.expires_on.map(|d| d.to_string()),
            template: row.template_name.clone(),
            template_version: row.template_version,
            verification_code: row.verification_code.clone(),
            verify_url: shared::verification::verify_url(base_url, &row.verification_code),
            is_public: row.is_public,
            revoked_at: row
                .revoked_at
                .map(|t| Timestamp::from_millis(t).to_rfc3339()),
            revocation_reason: row.revoked_reason.clone(),
            sha256: row.sha256().map(str::to_owned),
            batch_id: if public { None } else { row.batch_id.clone() },
            created_at: Timestamp::from_millis(row.created_at).to_rfc3339(),
            file: (!public && row.file().is_some())
                .then(|| shared::urls::job_file(base_url, row.job_id)),
        }
    }
}

/// A page of certificates from a registry listing.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificatePage {
    pub certificates: Vec<CertificateView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// What anyone holding a verification code may learn.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Verification {
    pub code: String,
    /// `valid`, `expired`, `revoked`, or `pending` (not rendered yet).
    pub status: String,
    pub recipient_name: String,
    pub course_name: String,
    pub issuer_name: Option<String>,
    pub issued_on: String,
    pub expires_on: Option<String>,
    pub revocation_reason: Option<String>,
    /// RFC 3339.
    pub revoked_at: Option<String>,
    /// sha256 of the issued PDF: a holder's copy is genuine if its checksum matches.
    pub sha256: Option<String>,
}

impl Verification {
    /// The public part of a certificate's view.
    pub(crate) fn of(view: CertificateView) -> Self {
        Verification {
            code: view.verification_code,
            status: view.status,
            recipient_name: view.recipient_name,
            course_name: view.course_name,
            issuer_name: view.issuer_name,
            issued_on: view.issued_on,
            expires_on: view.expires_on,
            revocation_reason: view.revocation_reason,
            revoked_at: view.revoked_at,
            sha256: view.sha256,
        }
    }
}
