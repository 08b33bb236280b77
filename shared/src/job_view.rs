//! A job as clients see it: what `GET /v1/jobs/{id}` answers and what a webhook delivery
//! about the job carries, so the two never differ.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::JobRow;
use crate::domain::{JobKind, JobStatus};
use crate::jobs::FileResult;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Links {
    /// This job's status.
    #[serde(rename = "self")]
    pub self_: String,
    /// The produced file, once the job succeeded.
    pub file: String,
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
    /// The standards the PDF was exported to meet (typst checked them as it wrote it);
    /// absent when none was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = pdf_standard_schema)]
    pub pdf_standard: Option<crate::domain::PdfStandard>,
    /// The PAdES signature the PDF carries; absent when workers do not sign
    /// (`signing.identity_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::jobs::PdfSignature>,
}

/// The document's named enums (the API's `schemas::named_enums` defines them), so that a
/// job's kind, status and priority have one type in generated clients.
pub fn job_kind_schema() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("JobKind")
}

/// See [`job_kind_schema`].
pub fn job_status_schema() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("JobStatus")
}

/// See [`job_kind_schema`].
pub fn priority_schema() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("Priority")
}

/// See [`job_kind_schema`].
pub fn pdf_standard_schema() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("PdfStandard")
}

/// A job as clients see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: String,
    #[schema(schema_with = job_kind_schema)]
    pub kind: String,
    #[schema(schema_with = job_status_schema)]
    pub status: String,
    #[schema(schema_with = priority_schema)]
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
            self_: crate::urls::job(base_url, job.id),
            file: crate::urls::job_file(base_url, job.id),
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
                pdf_standard: r.pdf_standard,
                signature: r.signature,
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
