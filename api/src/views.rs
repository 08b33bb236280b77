//! Answers that more than one route gives: the job as clients see it (`JobView`), a
//! submission's answer (`SubmittedView`), a certificate as its owner (`CertificateView`) and
//! anyone with its code (`Verification`) see it, the recorded health checks (`/ready` and
//! `/v1/status`), and the parsing of ids and query values that answers the same way everywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::db::{CertificateRow, CertificateStatus};
use shared::domain::{CalendarDate, JobId, Timestamp};
use shared::verification::LinkedInCertification;
use utoipa::ToSchema;

use crate::error::ApiError;

// The job as clients see it is also a webhook's body, built outside the API.
pub use shared::job_view::{JobErrorView, JobResultView, JobView, Links};

/// What a submission answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubmittedView {
    pub id: String,
    #[schema(schema_with = shared::job_view::job_status_schema)]
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
    #[schema(schema_with = crate::schemas::certificate_status)]
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
    /// LinkedIn's "Add to profile" link for the holder, filled in with the course, issuer,
    /// issue and expiry month, the code and `verify_url`; null unless issued and not
    /// revoked.
    pub linkedin_url: Option<String>,
    /// Its Open Badges 3.0 credential, a VC-JWT (`GET /v1/verify/{code}/credential`); null
    /// until issued.
    pub credential_url: Option<String>,
    /// The subject of the certificate that signed the PDF (PAdES), when it is signed.
    pub signed_by: Option<String>,
}

impl CertificateView {
    pub(crate) fn from_row(row: &CertificateRow, base_url: &str, public: bool) -> Self {
        let status = row.status(CalendarDate::today());
        let verify_url = shared::verification::verify_url(base_url, &row.verification_code);
        let credential_url = matches!(
            status,
            CertificateStatus::Valid | CertificateStatus::Expired | CertificateStatus::Revoked
        )
        .then(|| shared::urls::credential(base_url, &row.verification_code));
        let linkedin_url = matches!(
            status,
            CertificateStatus::Valid | CertificateStatus::Expired
        )
        .then(|| {
            shared::verification::linkedin_add_url(&LinkedInCertification {
                name: &row.course_name,
                organization: row.issuer_name.as_deref(),
                issued_on: row.issued_on,
                expires_on: row.expires_on,
                code: &row.verification_code,
                verify_url: &verify_url,
            })
        });
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
            verify_url,
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
            linkedin_url,
            credential_url,
            signed_by: row.signer().map(str::to_owned),
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
    /// LinkedIn's "Add to profile" link (see `CertificateView`); null unless `valid` or
    /// `expired`.
    pub linkedin_url: Option<String>,
    /// Its Open Badges 3.0 credential (see `CertificateView`); null until issued.
    pub credential_url: Option<String>,
    /// The subject of the certificate that signed the PDF (PAdES): a holder's copy carries
    /// that signature. Null when quire does not sign.
    pub signed_by: Option<String>,
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
            linkedin_url: view.linkedin_url,
            credential_url: view.credential_url,
            signed_by: view.signed_by,
        }
    }
}

/// A worker process from the registry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkerView {
    /// `quire-<host>-<pid>-<random>`: also the `worker` of the jobs it runs.
    pub name: String,
    pub host: String,
    /// quire's version.
    pub version: String,
    pub pid: i64,
    /// Queue -> attempts it runs at once.
    pub queues: BTreeMap<String, u64>,
    pub started_at: String,
    pub heartbeat_at: String,
    /// Attempts running at the last heartbeat.
    pub running: i64,
    /// Whether it beat within the last 15 s (three heartbeats); `false` is a worker that
    /// stopped without saying so (killed, or its host is gone).
    pub alive: bool,
}

impl From<shared::db::WorkerRow> for WorkerView {
    fn from(w: shared::db::WorkerRow) -> Self {
        WorkerView {
            alive: w.alive(),
            queues: w
                .queues
                .split(',')
                .filter_map(|pair| {
                    let (queue, n) = pair.split_once(':')?;
                    Some((queue.to_owned(), n.parse().ok()?))
                })
                .collect(),
            name: w.name,
            host: w.host,
            version: w.version,
            pid: w.pid,
            started_at: w.started_at.to_rfc3339(),
            heartbeat_at: w.heartbeat_at.to_rfc3339(),
            running: w.running,
        }
    }
}
