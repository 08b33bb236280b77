//! Notifications: a generation job submitted with `"notify"` gets an `email` job when it
//! succeeds (`certificate_issued` or `report_ready`) and, if asked, when it ends `dead`
//! (`job_failed`). The email job is built here and inserted by the executor in the same
//! transaction that records the outcome, so it exists exactly when the outcome does; its
//! idempotency key (`notify:<outcome>:<job id>`) makes a second one impossible.
//!
//! Here, not in the worker, because two roles make them: the worker when it records an
//! outcome, and the scheduler's rescuer when a job dies of an expired lease.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::db::{DisabledEndpoint, JobRow, NewJob};
use crate::domain::{EmailAddress, JobId, JobKind};
use crate::jobs::{AttachmentRef, CertificatePayload, EmailPayload, FileResult, Notify};
use crate::verification::LinkedInCertification;

fn notify_of(job: &JobRow) -> Option<Notify> {
    let notify = job.payload.get("notify")?;
    serde_json::from_value(notify.clone()).ok()
}

/// The email to send now that `job` succeeded with `result`, if it asked for one.
pub fn on_success(config: &Config, job: &JobRow, result: &Value) -> Option<NewJob> {
    let notify = notify_of(job)?;
    let file: FileResult = serde_json::from_value(result.clone()).ok()?;
    let base = config.public_base_url();
    let p = &job.payload;
    let text = |key: &str| p.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    let (template, vars, filename) = match job.kind {
        JobKind::Certificate => {
            let code = text("verification_code");
            let verify_url = crate::verification::verify_url(&base, &code);
            let payload = CertificatePayload::deserialize(p).ok();
            let linkedin_url = payload.map(|c| {
                crate::verification::linkedin_add_url(&LinkedInCertification {
                    name: &c.course_name,
                    organization: c.issuer_name.as_deref(),
                    issued_on: c.issued_on,
                    expires_on: c.expires_on,
                    code: &code,
                    verify_url: &verify_url,
                })
            });
            (
                "certificate_issued",
                json!({
                    "recipient_name": text("recipient_name"),
                    "course": text("course_name"),
                    "verification_code": code,
                    "verify_url": verify_url,
                    "linkedin_url": linkedin_url,
                    "credential_url": crate::urls::credential(&base, &code),
                    "job_id": job.id.to_string(),
                }),
                format!("certificate-{}.pdf", safe_name(&text("recipient_name"))),
            )
        }
        JobKind::Report => (
            "report_ready",
            json!({
                "title": text("title"),
                "document_number": text("document_number"),
                "job_id": job.id.to_string(),
            }),
            format!(
                "{}-rev-{}.pdf",
                safe_name(&text("document_number")),
                safe_name(&text("revision"))
            ),
        ),
        JobKind::Email | JobKind::Maintenance | JobKind::Webhook | JobKind::Bundle => {
            return None;
        }
    };
    let attach = notify.attach && file.bytes <= config.limits.max_email_attachment_bytes;
    let file = AttachmentRef {
        job_id: job.id,
        filename,
        bytes: file.bytes,
    };
    let email = Email {
        to: notify.email,
        template,
        vars,
        attachments: vec![file],
        attach,
    };
    Some(email_job(config, job, "succeeded", email))
}

/// The `job_failed` email for a job that just ended `dead`, if it asked for one.
pub fn on_dead(config: &Config, job: &JobRow, code: &str, message: &str) -> Option<NewJob> {
    let notify = notify_of(job)?;
    if !notify.on_failure {
        return None;
    }
    let vars = json!({
        "job_id": job.id.to_string(),
        "kind": job.kind.as_str(),
        "attempts": job.attempt,
        "error": format!("{code}: {message}"),
        "job_url": crate::urls::job(&config.public_base_url(), job.id),
    });
    let email = Email {
        to: notify.email,
        template: "job_failed",
        vars,
        attachments: Vec::new(),
        attach: false,
    };
    Some(email_job(config, job, "dead", email))
}

/// The email telling a key that its endpoint was disabled, when the key has a notification
/// address (`quire keys set --notify-email`). Once per disabling (its idempotency key).
pub fn on_webhook_disabled(config: &Config, disabled: &DisabledEndpoint) -> Option<NewJob> {
    let to = EmailAddress::parse(disabled.notify_email.as_deref()?).ok()?;
    let base = config.public_base_url();
    let payload = EmailPayload {
        to: vec![to],
        cc: Vec::new(),
        bcc: Vec::new(),
        reply_to: None,
        subject: None,
        template: "webhook_disabled".into(),
        vars: into_map(json!({
            "webhook_id": disabled.webhook_id,
            // Scheme, host and port: the path may hold the receiver's secret.
            "url": crate::webhooks::redact_url(&disabled.url),
            "failures": disabled.failures,
            "webhook_url": crate::urls::webhook(&base, &disabled.webhook_id),
        })),
        attachments: Vec::new(),
        attach: false,
        about: None,
        from_parents: false,
    };
    let mut email = NewJob::of(
        disabled.owner_id.as_str(),
        config.queues.emails.max_attempts,
        &payload,
    );
    email.priority = crate::domain::Priority::Notification;
    let key = format!(
        "notify:webhook-disabled:{}:{}",
        disabled.webhook_id,
        disabled.disabled_at.millis()
    );
    email.idempotency_key = Some(key.clone());
    email.request_hash = Some(key);
    Some(email)
}

/// What differs between notifications.
struct Email {
    to: EmailAddress,
    template: &'static str,
    vars: Value,
    attachments: Vec<AttachmentRef>,
    attach: bool,
}

/// The idempotency keys of the notification emails `job` may have made (one per outcome),
/// by which its owner's rows find them.
pub fn notification_keys(job: JobId) -> [String; 2] {
    ["succeeded", "dead"].map(|outcome| format!("notify:{outcome}:{job}"))
}

fn email_job(config: &Config, job: &JobRow, outcome: &str, email: Email) -> NewJob {
    let payload = EmailPayload {
        to: vec![email.to],
        cc: Vec::new(),
        bcc: Vec::new(),
        reply_to: None,
        subject: None,
        template: email.template.into(),
        vars: into_map(email.vars),
        attachments: email.attachments,
        attach: email.attach,
        about: Some(job.id),
        from_parents: false,
    };
    let mut email = NewJob::of(
        job.owner_id.as_str(),
        config.queues.emails.max_attempts,
        &payload,
    );
    // Below the users' own single submissions, above batch rows: a batch's 10,000 "issued"
    // emails do not hold up someone's email sent by hand.
    email.priority = crate::domain::Priority::Notification;
    // One notification per outcome and job, for ever (no window); see `notification_keys`.
    let key = format!("notify:{outcome}:{}", job.id);
    email.idempotency_key = Some(key.clone());
    email.request_hash = Some(key);
    // Made by the job's attempt, it continues that span; made by the rescuer (no span of the
    // job), it continues the job's own trace.
    if email.trace_parent.is_none() {
        email.trace_parent = job.trace_parent.clone();
    }
    email
}

fn into_map(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// A file name part from user text: letters, digits, `-` and `_` only, at most 60 characters.
fn safe_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    let name = name.trim_matches('-').to_owned();
    if name.is_empty() {
        "document".into()
    } else {
        name
    }
}
