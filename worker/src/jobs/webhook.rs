//! `webhook`: one event to one endpoint, as Standard Webhooks has it. The body was fixed
//! when the delivery was created (the event pump); each attempt signs it afresh with the
//! endpoint's current secrets (both during a rotation's overlap) and logs what came back.
//! 2xx succeeds; 408, 429, 5xx and no answer retry (honouring `Retry-After`); a redirect or
//! any other 4xx is permanent. Enough failed attempts in a row disable the endpoint.

use serde_json::json;
use shared::db::{Claimed, DeliveryAttempt};
use shared::domain::Timestamp;
use shared::jobs::WebhookPayload;

use super::{JobContext, JobError};
use crate::delivery::Answer;

pub async fn run(
    ctx: &JobContext,
    job: &Claimed,
    _payload: WebhookPayload,
) -> Result<serde_json::Value, JobError> {
    let id = job.job.id;
    let Some((delivery, hook)) = ctx.db.delivery_target(id).await? else {
        return Err(JobError::permanent("delivery_missing", "no delivery row"));
    };
    let now = Timestamp::now();
    // An endpoint's delivery goes where the endpoint points now (a PATCHed URL applies).
    let (url, secrets) = match (&delivery.webhook_id, &hook) {
        (Some(_), None) => {
            return Err(JobError::permanent(
                "endpoint_deleted",
                "the webhook was deleted",
            ));
        }
        (Some(_), Some(h)) if h.disabled_at.is_some() => {
            return Err(JobError::permanent(
                "endpoint_disabled",
                h.disabled_reason
                    .clone()
                    .unwrap_or_else(|| "disabled".into()),
            ));
        }
        (Some(_), Some(h)) => (
            h.url.clone(),
            h.signing_secrets(now)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ),
        (None, _) => (
            delivery.url.clone(),
            vec![ctx.db.callback_secret(&delivery.owner_id).await?],
        ),
    };
    let policy = &ctx.deliverer.policy;
    let target = policy
        .parse(&url)
        .map_err(|e| JobError::permanent("invalid_target", e))?;
    // Checked again at every delivery: a name may point elsewhere since the endpoint was made.
    if let Err(e) = policy.resolve(&target).await {
        let refused = e.contains("public addresses only");
        let err = if refused {
            JobError::permanent("forbidden_target", e.clone())
        } else {
            JobError::retryable("unreachable", e.clone())
        };
        record(ctx, id, None, 0, None, Some(e), false).await?;
        return Err(err);
    }
    let msg_id = format!("msg_{id}");
    let timestamp = now.millis() / 1000;
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = shared::webhooks::signature_header(&refs, &msg_id, timestamp, &delivery.body);
    let headers = [
        ("webhook-id", msg_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    super::safe_point()?;
    match ctx
        .deliverer
        .send(target.url.as_str(), &headers, delivery.body.clone())
        .await
    {
        Answer::Status {
            code,
            elapsed,
            body_head,
            retry_after,
        } => {
            let ms = elapsed.as_millis() as i64;
            let ok = (200..300).contains(&code);
            let error = (!ok).then(|| format!("answered {code}"));
            record(ctx, id, Some(code), ms, Some(body_head), error.clone(), ok).await?;
            if ok {
                return Ok(json!({ "response_status": code, "response_ms": ms }));
            }
            let message = error.unwrap_or_default();
            Err(match code {
                408 | 429 | 500..=599 => {
                    JobError::retryable("endpoint_error", message).after(retry_after)
                }
                300..=399 => JobError::permanent(
                    "endpoint_redirected",
                    format!("{message}; redirects are not followed"),
                ),
                _ => JobError::permanent("endpoint_refused", message),
            })
        }
        Answer::Unreachable { elapsed, error } => {
            let ms = elapsed.as_millis() as i64;
            record(ctx, id, None, ms, None, Some(error.clone()), false).await?;
            Err(JobError::retryable("unreachable", error))
        }
    }
}

/// Logs the attempt; when it disabled the endpoint, emails the key's notification address.
async fn record(
    ctx: &JobContext,
    id: shared::domain::JobId,
    status: Option<u16>,
    ms: i64,
    body: Option<String>,
    error: Option<String>,
    succeeded: bool,
) -> Result<(), JobError> {
    let attempt = DeliveryAttempt {
        response_status: status,
        response_ms: ms,
        response_body: body,
        error,
        succeeded,
    };
    let disabled = ctx
        .db
        .record_delivery_attempt(id, &attempt, ctx.config.webhooks.disable_after_failures)
        .await?;
    if let Some(disabled) = disabled {
        tracing::warn!(webhook = %disabled.webhook_id, failures = disabled.failures, "webhook endpoint disabled after consecutive failures");
        if let Some(job) = shared::notify::on_webhook_disabled(&ctx.config, &disabled) {
            ctx.db.insert_notice(&job).await?;
            if let Err(e) = ctx.queue.push(job.kind.queue(), job.id, None).await {
                tracing::warn!(error = %e, "notice not pushed; the rescuer will");
            }
        }
    }
    Ok(())
}
