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
use serde::{Deserialize, Serialize};
use shared::db::JobRow;
use shared::domain::{EmailAddress, JobId, JobStatus};
use shared::email_templates::{self, EmailError, LinkedFile};
use shared::jobs::{AttachmentRef, EmailPayload, FileResult};
use utoipa::ToSchema;

use crate::email_limits::{MAX_RECIPIENTS, check_domain, email_charge};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Caller;
use crate::problems::Problems;
use crate::state::AppState;
use crate::submit::{
    self, Accepted, IdempotencyKeyHeader, JsonSubmission, Submission, SubmissionResponses,
};
use crate::views::SubmittedView;

/// Most attachments.
pub const MAX_ATTACHMENTS: usize = 20;
const MAX_SUBJECT: usize = 250;

/// An email to send.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    /// 1 to 50 addresses.
    #[schema(example = json!(["ana@example.com"]), schema_with = crate::schemas::email_to)]
    pub to: Vec<String>,
    /// At most 50 addresses.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::email_copies)]
    pub cc: Vec<String>,
    /// At most 50 addresses.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::email_copies)]
    pub bcc: Vec<String>,
    #[schema(schema_with = crate::schemas::email_reply_to)]
    pub reply_to: Option<String>,
    /// Replaces the template's subject. Admin keys only, unless the setting
    /// `email.generic_for_all` is on.
    #[schema(max_length = 250)]
    pub subject: Option<String>,
    /// `report_ready`, `certificate_issued`, `job_failed` or `generic` (free text: admin keys
    /// only, unless the setting `email.generic_for_all` is on).
    #[schema(example = "generic", schema_with = crate::schemas::email_template)]
    pub template: String,
    /// The template's variables (`generic`: `subject`, `text`); one the template needs and
    /// does not get is a 422.
    /// At most 50 variables.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::email_vars)]
    pub vars: crate::limited::LimitedObject<50>,
    /// Ids of the caller's own succeeded jobs whose PDFs to attach (another is a 422).
    #[serde(default)]
    #[schema(value_type = Vec<uuid::Uuid>, max_items = 20)]
    pub attachments: Vec<String>,
    /// `low`, `bulk` or `normal` (the default); `high` with an admin key only (else 403
    /// `priority_not_allowed`). A worker takes the highest-priority ready job first.
    pub priority: Option<crate::placement::PriorityChoice>,
    /// Start no earlier than this RFC 3339 instant: the job is `scheduled` until then (and
    /// can be cancelled meanwhile). An instant already past means now; at most a year ahead
    /// (else 422 `too_far_ahead`). Not with `delay_secs`.
    #[schema(format = DateTime, example = "2026-12-24T18:00:00Z")]
    pub run_at: Option<String>,
    /// Start no earlier than this many seconds from now (at most a year). Not with `run_at`.
    #[schema(maximum = 31622400, minimum = 0)]
    pub delay_secs: Option<u64>,
    /// Deliver this job's end (`job.succeeded`, `job.dead` or `job.cancelled`) to this URL
    /// too, signed like a webhook with the key's callback secret
    /// (`GET /v1/webhooks/callback-secret`). Checked like a webhook's URL (422
    /// `invalid_url`, `forbidden_target`).
    #[schema(example = "https://example.com/hooks/quire")]
    pub callback_url: Option<String>,
}

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
    free_text_allowed(&state, &caller, &req)?;
    let placement = crate::placement::Placement::single(
        &caller,
        req.priority,
        req.run_at.as_deref(),
        req.delay_secs,
    )?;
    let callback_url = crate::callbacks::checked(&state, &caller, req.callback_url.clone()).await?;
    let mut p = Problems::default();
    let list = |p: &mut Problems, field: &str, raw: &[String], min: usize| {
        if raw.len() < min || raw.len() > MAX_RECIPIENTS {
            p.add(
                field,
                if raw.len() < min {
                    "missing_field"
                } else {
                    "too_many"
                },
                format!(
                    "`{field}` takes {min} to {MAX_RECIPIENTS} addresses (got {})",
                    raw.len()
                ),
            );
        }
        let mut out = Vec::new();
        for (i, a) in raw.iter().enumerate() {
            match EmailAddress::parse(a) {
                Ok(a) => {
                    check_domain(&caller, p, &format!("{field}[{i}]"), &a);
                    out.push(a);
                }
                Err(e) => p.add(format!("{field}[{i}]"), "invalid_email", e.to_string()),
            }
        }
        out
    };
    let to = list(&mut p, "to", &req.to, 1);
    let cc = list(&mut p, "cc", &req.cc, 0);
    let bcc = list(&mut p, "bcc", &req.bcc, 0);
    let reply_to = req
        .reply_to
        .as_deref()
        .and_then(|a| match EmailAddress::parse(a) {
            Ok(a) => {
                check_domain(&caller, &mut p, "reply_to", &a);
                Some(a)
            }
            Err(e) => {
                p.add("reply_to", "invalid_email", e.to_string());
                None
            }
        });
    let subject = req.subject.as_deref().and_then(|s| {
        if s.contains(['\r', '\n']) {
            p.add(
                "subject",
                "header_injection",
                "`subject` must not contain a line break",
            );
            None
        } else {
            p.text("subject", s, MAX_SUBJECT)
        }
    });

    let attachments = attachments(&state, &caller, &req.attachments, &mut p).await?;
    let total: u64 = attachments.iter().map(|a| a.bytes).sum();
    let attach = total <= state.config.limits.max_email_attachment_bytes;

    // Rendered once now with what the worker will add, so a bad variable is a 422 here.
    let mut vars = req.vars.as_map().clone();
    let placeholders: Vec<LinkedFile> = attachments
        .iter()
        .filter(|_| !attach)
        .map(|a| LinkedFile {
            filename: a.filename.clone(),
            url: "https://example.invalid/".into(),
        })
        .collect();
    email_templates::add_file_variables(
        &mut vars,
        attach && !attachments.is_empty(),
        &placeholders,
    );
    if let Err(e) = email_templates::render(&req.template, &serde_json::Value::Object(vars)) {
        let (field, code) = match &e {
            EmailError::UnknownTemplate(_) => ("template", "unknown_template"),
            EmailError::MissingVariables { .. } => ("vars", "missing_field"),
            EmailError::SubjectLineBreak { .. } => ("vars", "header_injection"),
            _ => ("vars", "invalid_field"),
        };
        let message = match &e {
            EmailError::UnknownTemplate(_) => format!(
                "{e}; the built-in templates are {}",
                email_templates::builtin_email_templates().join(", ")
            ),
            _ => e.to_string(),
        };
        p.add(field, code, message);
    }
    let recipients = (to.len() + cc.len() + bcc.len()) as u64;
    let charge = email_charge(&state, &caller, recipients, &mut p);
    p.into_result()?;

    let payload = EmailPayload {
        to,
        cc,
        bcc,
        reply_to,
        subject,
        template: req.template.clone(),
        vars: req.vars.into_inner(),
        attachments,
        attach,
        about: None,
    };
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

/// Free text in an email (the `generic` template, a `subject` of one's own) is what spam
/// and phishing need, so only admin keys may send it unless `email.generic_for_all`.
/// `reply_to` stays open to every key: it is an address, checked against the key's domains.
fn free_text_allowed(
    state: &AppState,
    caller: &Caller,
    req: &EmailRequest,
) -> Result<(), ApiError> {
    if caller.is_admin || state.config.email.generic_for_all {
        return Ok(());
    }
    if req.template == "generic" {
        return Err(ApiError::AdminOnly {
            code: "admin_only_template",
            message: "the free-text `generic` email template needs an admin key (the setting \
                      `email.generic_for_all` opens it to every key)"
                .into(),
        });
    }
    if req.subject.is_some() {
        return Err(ApiError::AdminOnly {
            code: "admin_only_field",
            message: "`subject` (a subject of your own) needs an admin key (the setting \
                      `email.generic_for_all` opens it to every key)"
                .into(),
        });
    }
    Ok(())
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
