//! `webhook`: one event to one endpoint, as Standard Webhooks has it. The body was fixed
//! when the delivery was created (the event pump); each attempt signs it afresh with the
//! endpoint's current secrets (both during a rotation's overlap) and logs what came back.
//! 2xx succeeds; 408, 429, 5xx and no answer retry (honouring `Retry-After`); a redirect or
//! any other 4xx is permanent. Enough deliveries in a row that died (refused for good, or out
//! of attempts) disable the endpoint.

use serde_json::json;
use shared::db::{Claimed, DeliveryAttempt, DeliveryEnd};
use shared::domain::Timestamp;
use shared::jobs::WebhookPayload;
use shared::webhooks::Unresolved;

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
    let failures = hook.as_ref().map_or(0, |h| h.consecutive_failures);
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
    // The owner's own networks widen the settings' (`quire keys set --allow-networks`).
    let networks = ctx
        .db
        .get_key(&delivery.owner_id)
        .await?
        .map(|k| k.allow_networks)
        .unwrap_or_default();
    let (policy, client) = ctx
        .deliverer
        .for_key(&networks)
        .map_err(|e| JobError::retryable("client", e.to_string()))?;
    let target = policy
        .parse(&url)
        .map_err(|e| JobError::permanent("invalid_target", e))?;
    // Checked again at every delivery: a name may point elsewhere since the endpoint was made.
    if let Err(e) = policy.resolve(&ctx.deliverer.resolver, &target).await {
        let err = match &e {
            Unresolved::Refused(_) => JobError::permanent("forbidden_target", e.to_string()),
            Unresolved::Lookup(_) | Unresolved::Busy(_) => {
                JobError::retryable("unreachable", e.to_string())
            }
        };
        let logged = Logged {
            error: Some(e.to_string()),
            ..Logged::default()
        };
        return record(ctx, job, failures, logged, Err(err)).await;
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
        .send(
            &client,
            target.url.as_str(),
            &headers,
            delivery.body.clone(),
        )
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
            let message = format!("answered {code}");
            let outcome = match code {
                200..=299 => Ok(json!({ "response_status": code, "response_ms": ms })),
                408 | 429 | 500..=599 => {
                    Err(JobError::retryable("endpoint_error", message.clone()).after(retry_after))
                }
                300..=399 => Err(JobError::permanent(
                    "endpoint_redirected",
                    format!("{message}; redirects are not followed"),
                )),
                _ => Err(JobError::permanent("endpoint_refused", message.clone())),
            };
            let logged = Logged {
                status: Some(code),
                ms,
                body: Some(body_head),
                error: (!ok).then_some(message),
            };
            record(ctx, job, failures, logged, outcome).await
        }
        Answer::Unreachable { elapsed, error } => {
            let logged = Logged {
                ms: elapsed.as_millis() as i64,
                error: Some(error.clone()),
                ..Logged::default()
            };
            record(
                ctx,
                job,
                failures,
                logged,
                Err(JobError::retryable("unreachable", error)),
            )
            .await
        }
    }
}

/// What the log keeps of an attempt.
#[derive(Default)]
struct Logged {
    status: Option<u16>,
    ms: i64,
    body: Option<String>,
    error: Option<String>,
}

/// Logs the attempt and passes its outcome on. A delivery that ends here (succeeded, or dead:
/// refused for good or out of attempts) moves the endpoint's count of failed deliveries in a
/// row; when that disabled the endpoint, the key's notice address gets an email. An attempt
/// that will be retried counts for nothing yet, so an outage shorter than the retries never
/// disables an endpoint.
async fn record(
    ctx: &JobContext,
    job: &Claimed,
    failures: i64,
    logged: Logged,
    outcome: Result<serde_json::Value, JobError>,
) -> Result<serde_json::Value, JobError> {
    let ends = match &outcome {
        Ok(_) => DeliveryEnd::Succeeded,
        Err(e) if e.will_retry(&job.job) => DeliveryEnd::WillRetry,
        Err(_) => DeliveryEnd::Dead,
    };
    let attempt = DeliveryAttempt {
        response_status: logged.status,
        response_ms: logged.ms,
        response_body: logged.body,
        error: logged.error,
        ends,
    };
    let id = job.job.id;
    let disabled = ctx
        .db
        .record_delivery_attempt(
            id,
            &attempt,
            ctx.config.webhooks.disable_after_failures,
            failures,
            |disabled| shared::notify::on_webhook_disabled(&ctx.config, disabled),
        )
        .await?;
    if let Some((disabled, notice)) = disabled {
        tracing::warn!(webhook = %disabled.webhook_id, failures = disabled.failures, "webhook endpoint disabled after consecutive failures");
        if let Some(notice) = notice
            && let Err(e) = ctx.queue.push(notice.kind.queue(), notice.id, None).await
        {
            tracing::warn!(error = %e, "notice not pushed; the rescuer will");
        }
    }
    outcome
}
