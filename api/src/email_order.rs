//! An email request validated into an order: addresses parsed, no line break in any header
//! value, the template rendered once with the given variables (so a missing variable is a 422
//! now, not a dead job later), the recipients charged to the key's quotas. `POST /v1/emails`
//! and a workflow's `email` step both come here; they differ in what the attachments are (the
//! caller's finished jobs, or the step's parents' outputs).

use serde::{Deserialize, Serialize};
use shared::db::EmailCharge;
use shared::domain::EmailAddress;
use shared::email_templates::{self, EmailError, LinkedFile};
use shared::jobs::{AttachmentRef, EmailPayload};
use utoipa::ToSchema;

use crate::email_limits::{MAX_RECIPIENTS, check_domain, email_charge};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::problems::Problems;
use crate::state::AppState;

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

/// A validated email: its payload and what it costs the key's quotas.
pub(crate) struct EmailOrder {
    pub payload: EmailPayload,
    pub charge: EmailCharge,
}

/// Checks `req` for `caller`, with its `attachments` resolved already and whether to attach
/// them (else link them); `p` may hold the attachments' problems. Every problem is one 422.
pub(crate) fn check(
    state: &AppState,
    caller: &Caller,
    req: EmailRequest,
    attachments: Vec<AttachmentRef>,
    attach: bool,
    mut p: Problems,
) -> Result<EmailOrder, ApiError> {
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
                    check_domain(caller, p, &format!("{field}[{i}]"), &a);
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
                check_domain(caller, &mut p, "reply_to", &a);
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
    let charge = email_charge(state, caller, recipients, &mut p);
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
        from_parents: false,
    };
    Ok(EmailOrder { payload, charge })
}

/// Free text in an email (the `generic` template, a `subject` of one's own) is what spam
/// and phishing need, so only admin keys may send it unless `email.generic_for_all`.
/// `reply_to` stays open to every key: it is an address, checked against the key's domains.
pub(crate) fn free_text_allowed(
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
