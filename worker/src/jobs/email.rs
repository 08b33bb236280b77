//! `email`: renders a built-in email template and sends it, with other jobs' PDFs attached or
//! linked. The send is recorded (`email_sends`) as soon as the server accepts it, before the
//! job's own success, and an attempt that finds the record does not send again: a retry after
//! "sent, but the job failed afterwards" never mails anyone twice.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use shared::db::{Claimed, JobRow};
use shared::domain::JobId;
use shared::email_templates::{self, LinkedFile};
use shared::jobs::{AttachmentRef, EmailPayload, EmailResult, FileResult};
use tracing::Instrument;

use super::context::JobContext;
use crate::email::{Attachment, OutgoingEmail, SendError};
use crate::error::JobError;

pub async fn run(
    ctx: &JobContext,
    claimed: &Claimed,
    payload: EmailPayload,
) -> Result<Value, JobError> {
    let job = &claimed.job;
    tracing::Span::current().record("template", payload.template.as_str());
    let recipients = payload.to.len() + payload.cc.len() + payload.bcc.len();
    if let Some(sent) = ctx.db.email_send(job.id).await? {
        tracing::info!(message_id = %sent.message_id, "sent by an earlier attempt; not sending again");
        return Ok(json!({
            "message_id": sent.message_id,
            "recipients": sent.recipients,
            "sent_by_earlier_attempt": true,
        }));
    }

    let mut attachments = Vec::new();
    let mut files = Vec::new();
    let (references, keys, attach) = if payload.from_parents {
        parents_files(ctx, &payload.attachments).await?
    } else {
        let keys = files_of(ctx, &payload.attachments).await?;
        (payload.attachments.clone(), keys, payload.attach)
    };
    for (reference, key) in references.iter().zip(keys) {
        if attach {
            let bytes = ctx.storage.get(&key).await.map_err(|e| {
                JobError::retryable(
                    "attachment_unreadable",
                    format!("{}: {e}", reference.filename),
                )
            })?;
            let mime = if reference.filename.ends_with(".zip") {
                "application/zip"
            } else {
                "application/pdf"
            };
            attachments.push(Attachment {
                filename: reference.filename.clone(),
                mime: mime.into(),
                bytes: Vec::from(bytes),
            });
        } else {
            let url = ctx
                .links()
                .await?
                .url(&ctx.config.public_base_url(), reference.job_id);
            files.push(LinkedFile {
                filename: reference.filename.clone(),
                url,
            });
        }
    }

    let mut vars = payload.vars.clone();
    email_templates::add_file_variables(&mut vars, !attachments.is_empty(), &files);
    let rendered = email_templates::render(&payload.template, &Value::Object(vars))
        .map_err(|e| JobError::permanent("template_error", e.to_string()))?;

    let addresses = |list: &[shared::domain::EmailAddress]| -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    };
    let email = OutgoingEmail {
        from: ctx.config.smtp.from.clone(),
        to: addresses(&payload.to),
        cc: addresses(&payload.cc),
        bcc: addresses(&payload.bcc),
        reply_to: payload.reply_to.as_ref().map(ToString::to_string),
        subject: payload.subject.clone().unwrap_or(rendered.subject),
        text: rendered.text,
        html: rendered.html,
        attachments,
    };
    // The last safe point: once the send has started, the email may be out, so it is
    // finished and recorded whatever was asked meanwhile.
    super::context::safe_point()?;
    // The class is the built-in template's name: a small, fixed set.
    let sending = tracing::info_span!(
        "send_email",
        template = payload.template.as_str(),
        recipients,
        attachments = email.attachments.len()
    );
    let sent = match ctx.mailer.send(&email).instrument(sending).await {
        Ok(sent) => {
            shared::metrics::email(payload.template.clone(), true);
            sent
        }
        Err(e) => {
            shared::metrics::email(payload.template.clone(), false);
            return Err(send_error(e));
        }
    };
    record_send(ctx, job.id, &sent.message_id, recipients).await;
    tracing::info!(message_id = %sent.message_id, recipients, "email sent");
    let result = EmailResult {
        message_id: sent.message_id,
        recipients,
        attached: email.attachments.len(),
        linked: files.len(),
    };
    serde_json::to_value(result).map_err(|e| JobError::permanent("internal", e.to_string()))
}

/// Transient failures (connection refused or reset, timeout, 4xx) retry with backoff; a 5xx
/// reply or an unusable message fails at once, keeping the server's reply.
fn send_error(e: SendError) -> JobError {
    let code = match &e {
        SendError::Rejected { .. } => "smtp_rejected",
        SendError::Connection(_) => "smtp_unavailable",
        SendError::Invalid(_) => "invalid_email",
        SendError::File(_) => "mail_file_failed",
    };
    if e.is_transient() {
        JobError::retryable(code, e.to_string())
    } else {
        JobError::permanent(code, e.to_string())
    }
}

/// Records the send, trying for a while if the database is briefly away: once the server
/// has the message, losing this record is what could make a retry send it twice.
async fn record_send(ctx: &JobContext, id: JobId, message_id: &str, n: usize) {
    let mut wait = Duration::from_millis(100);
    for attempt in 1..=8 {
        match ctx.db.record_email_send(id, message_id, n).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(attempt, error = %e, "could not record the send yet");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::error!(%message_id, "the email was sent but the send could not be recorded");
}

/// A workflow step's attachments: its parents' files as they ended (one query). A parent
/// without a file (it ended `dead` or `cancelled` and this step continues regardless) is left
/// out; together over `limits.max_email_attachment_bytes`, they are linked instead. Returns
/// the references kept (with their sizes), their storage keys, and whether to attach them.
async fn parents_files(
    ctx: &JobContext,
    references: &[AttachmentRef],
) -> Result<(Vec<AttachmentRef>, Vec<String>, bool), JobError> {
    let ids: Vec<JobId> = references.iter().map(|r| r.job_id).collect();
    let rows: HashMap<JobId, JobRow> = ctx
        .db
        .jobs_by_ids(&ids)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    let mut kept = Vec::new();
    let mut keys = Vec::new();
    for reference in references {
        let file = rows
            .get(&reference.job_id)
            .filter(|row| row.status == shared::domain::JobStatus::Succeeded)
            .and_then(|row| row.result.as_ref())
            .and_then(|r| serde_json::from_value::<FileResult>(r.clone()).ok());
        if let Some(file) = file {
            kept.push(AttachmentRef {
                bytes: file.bytes,
                ..reference.clone()
            });
            keys.push(file.file);
        }
    }
    let total: u64 = kept.iter().map(|r| r.bytes).sum();
    let attach = total <= ctx.config.limits.max_email_attachment_bytes;
    Ok((kept, keys, attach))
}

/// The storage keys of finished jobs' PDFs (checked to be the caller's at submission), in
/// order; one query.
async fn files_of(ctx: &JobContext, references: &[AttachmentRef]) -> Result<Vec<String>, JobError> {
    let ids: Vec<JobId> = references.iter().map(|r| r.job_id).collect();
    let rows: HashMap<JobId, JobRow> = ctx
        .db
        .jobs_by_ids(&ids)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    ids.iter()
        .map(|id| {
            let missing =
                |what: &str| JobError::permanent("attachment_missing", format!("job {id} {what}"));
            let row = rows.get(id).ok_or_else(|| missing("no longer exists"))?;
            let file: FileResult = row
                .result
                .as_ref()
                .and_then(|r| serde_json::from_value(r.clone()).ok())
                .ok_or_else(|| missing("has no file"))?;
            Ok(file.file)
        })
        .collect()
}
