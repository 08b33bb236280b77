//! `POST /v1/emails`: a templated email, checked before it is accepted: addresses parsed, no
//! line break in any header value, the template rendered once with the given variables (so a
//! missing variable is a 422 now, not a dead job later), attachments the caller's own finished
//! jobs. Over `limits.max_email_attachment_bytes` the files are linked instead of attached.
//!
//! So that a key cannot use quire as an open relay: every recipient is charged to the key's
//! quotas (per hour and per day, `email.*` settings or the key's own), a key with a domain
//! list may only email those domains (Reply-To included), and free text (the `generic`
//! template, a `subject` of one's own) needs an admin key unless `email.generic_for_all`.
//! Certificate and report submissions with `notify` go through the same checks.

use std::collections::HashMap;

use axum::extract::State;
use shared::db::JobRow;
use shared::domain::{JobId, JobStatus};
use shared::jobs::{AttachmentRef, FileResult};

pub use crate::email_order::EmailRequest;
use crate::email_order::{self, EmailOrder, MAX_ATTACHMENTS};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::problems::Problems;
use crate::state::AppState;
use crate::submit::{
    self, Accepted, IdempotencyKeyHeader, JsonSubmission, Submission, SubmissionResponses,
};
use crate::views::SubmittedView;

/// Submit an email job.
#[utoipa::path(post, path = "/v1/emails", operation_id = "submit_email", tag = "emails",
    request_body = EmailRequest, params(IdempotencyKeyHeader),
    responses((status = 202, description = "Accepted; poll the Location", body = SubmittedView),
        SubmissionResponses,
        (status = 403, description = "`generic` or `subject` with a key that is not an admin's (`admin_only_template`, `admin_only_field`), or `priority` above `normal` (`priority_not_allowed`)", body = ErrorBody),
        (status = 422, description = "Invalid fields, each with its path; `domain_not_allowed` for a recipient outside the key's domains", body = ErrorBody),
        (status = 429, description = "The key's hourly or daily email quota is used up (`quota_exceeded`); see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until enough of the quota frees up")))))]
pub async fn submit(
    State(state): State<AppState>,
    submission: JsonSubmission<EmailRequest>,
) -> Result<Accepted, ApiError> {
    let JsonSubmission {
        caller,
        idempotency,
        body: req,
    } = submission;
    email_order::free_text_allowed(&state, &caller, &req)?;
    let placement = crate::placement::Placement::single(
        &caller,
        req.priority,
        req.run_at.as_deref(),
        req.delay_secs,
    )?;
    let callback_url = crate::callbacks::checked(&state, &caller, req.callback_url.clone()).await?;
    let mut p = Problems::default();
    let attachments = attachments(&state, &caller, &req.attachments, &mut p).await?;
    let total: u64 = attachments.iter().map(|a| a.bytes).sum();
    let attach = total <= state.config.limits.max_email_attachment_bytes;
    let EmailOrder { payload, charge } =
        email_order::check(&state, &caller, req, attachments, attach, p)?;
    let job = Submission {
        payload: &payload,
        inputs: Vec::new(),
        certificate: None,
        charge: Some(&charge),
        placement: Some(placement),
        callback_url,
    };
    submit::submit(&state, &caller, idempotency, job).await
}

/// The attachments: each the caller's own job (another key's job reads as unknown), finished
/// with a file.
async fn attachments(
    state: &AppState,
    caller: &Caller,
    ids: &[String],
    p: &mut Problems,
) -> Result<Vec<AttachmentRef>, ApiError> {
    if ids.len() > MAX_ATTACHMENTS {
        p.add(
            "attachments",
            "too_many",
            format!("at most {MAX_ATTACHMENTS} attachments"),
        );
        return Ok(Vec::new());
    }
    let parsed: Vec<Option<JobId>> = ids.iter().map(|raw| raw.trim().parse().ok()).collect();
    let wanted: Vec<JobId> = parsed.iter().flatten().copied().collect();
    // One query for all of them; another key's job reads as unknown.
    let jobs: HashMap<JobId, JobRow> = state
        .db
        .jobs_by_ids(&wanted)
        .await?
        .into_iter()
        .filter(|job| caller.is_admin || job.owner_id == caller.key_id)
        .map(|job| (job.id, job))
        .collect();
    let mut out = Vec::new();
    for (i, id) in parsed.into_iter().enumerate() {
        let field = format!("attachments[{i}]");
        let Some(job_id) = id else {
            p.add(field, "invalid_id", "not a job id");
            continue;
        };
        let Some(job) = jobs.get(&job_id) else {
            p.add(field, "unknown_job", format!("no job {job_id} of yours"));
            continue;
        };
        let file = job
            .result
            .as_ref()
            .and_then(|r| serde_json::from_value::<FileResult>(r.clone()).ok());
        match (job.status, file) {
            (JobStatus::Succeeded, Some(file)) => out.push(AttachmentRef {
                job_id,
                filename: format!("{}-{}.pdf", job.kind, job_id),
                bytes: file.bytes,
            }),
            (status, _) => p.add(
                field,
                "not_finished",
                format!("job {job_id} is `{status}`, not a succeeded job with a file"),
            ),
        }
    }
    Ok(out)
}
