//! `/v1/webhooks`: a key's endpoints (admins: every key's), their delivery log, test and
//! retry deliveries, and the secret of one-off `callback_url` deliveries. The deliveries
//! themselves are made by the scheduler's event pump and sent by workers (`webhook` jobs).

use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::db::{DeliveryRow, NewWebhook, RetryOutcome, WebhookChange, WebhookRow};
use shared::domain::{JobId, QueueName, Timestamp};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, Keyed};
use crate::paging::Listing;
use crate::state::AppState;
use crate::submit::{Retry, submit};

/// Most endpoints one key may have.
const MAX_PER_KEY: i64 = 20;
/// Longest description.
const MAX_DESCRIPTION: usize = 500;
/// Longest overlap of a rotation, in seconds (7 days).
const MAX_OVERLAP_SECS: u64 = 7 * 24 * 60 * 60;
/// The overlap when a rotation names none: 24 hours.
const DEFAULT_OVERLAP_SECS: u64 = 24 * 60 * 60;

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries go: `https://` (or `http://` when `webhooks.allow_http` is set); it
    /// must resolve to public addresses only (unless `webhooks.allow_networks` allows more).
    #[schema(example = "https://example.com/hooks/quire", max_length = 2000)]
    pub url: String,
    /// Event types: `job.succeeded`, `job.failed` (an attempt failed; it will be retried),
    /// `job.dead`, `job.cancelled`, `batch.completed`, `certificate.revoked`, or `*` for all.
    #[schema(value_type = Vec<EventType>, min_items = 1, example = json!(["job.succeeded", "job.dead"]))]
    pub events: Vec<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// Admins only: the key whose events it receives (default: the caller's).
    pub owner_id: Option<String>,
}

/// A change to an endpoint; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    #[schema(value_type = Option<Vec<EventType>>, min_items = 1)]
    pub events: Option<Vec<String>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
    /// `true` re-enables a disabled endpoint (its failure count starts again at 0); `false`
    /// disables it.
    pub enabled: Option<bool>,
    /// A new signing secret, shown once in the answer. Until `overlap_secs` have passed,
    /// deliveries carry two signatures, by the new secret and the old one.
    #[serde(default)]
    pub rotate_secret: bool,
    /// How long the old secret keeps signing, 0 to 604800 seconds (default 86400).
    #[schema(minimum = 0, maximum = 604800)]
    pub overlap_secs: Option<u64>,
}

/// What an endpoint may subscribe to (the schema of `events`; the API checks the strings).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub enum EventType {
    #[schema(rename = "job.succeeded")]
    JobSucceeded,
    #[schema(rename = "job.failed")]
    JobFailed,
    #[schema(rename = "job.dead")]
    JobDead,
    #[schema(rename = "job.cancelled")]
    JobCancelled,
    #[schema(rename = "batch.completed")]
    BatchCompleted,
    #[schema(rename = "certificate.revoked")]
    CertificateRevoked,
    #[schema(rename = "workflow.completed")]
    WorkflowCompleted,
    #[schema(rename = "workflow.failed")]
    WorkflowFailed,
    #[schema(rename = "*")]
    All,
}

/// A field given as `null` is `Some(None)`, so it can be told apart from an absent one.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub deliveries: String,
}

/// An endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub owner_id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    /// False once disabled, by its owner or after `webhooks.disable_after_failures`
    /// deliveries in a row died.
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Deliveries that died since the last one that succeeded.
    pub consecutive_failures: i64,
    /// Until when the previous secret still signs too (after a rotation), RFC 3339.
    pub previous_secret_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The signing secret: only in the answer that created it (create, rotate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub links: WebhookLinks,
}

impl WebhookView {
    fn new(row: &WebhookRow, base: &str, secret: Option<String>) -> WebhookView {
        let self_ = shared::urls::webhook(base, &row.id);
        WebhookView {
            id: row.id.clone(),
            owner_id: row.owner_id.clone(),
            url: row.url.clone(),
            events: row.events.clone(),
            description: row.description.clone(),
            enabled: row.disabled_at.is_none(),
            disabled_reason: row.disabled_reason.clone(),
            consecutive_failures: row.consecutive_failures,
            previous_secret_until: row
                .previous_secret_until
                .filter(|t| *t > Timestamp::now())
                .map(|t| t.to_rfc3339()),
            created_at: row.created_at.to_rfc3339(),
            updated_at: row.updated_at.to_rfc3339(),
            secret,
            links: WebhookLinks {
                deliveries: format!("{self_}/deliveries"),
                self_,
            },
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// One delivery: an event to an endpoint, with its attempts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    /// Also its `webhook-id` header (`msg_` + this id), the same on every attempt.
    pub id: String,
    pub event_type: String,
    /// The event's id in `GET /v1/events` (0 for a test delivery).
    pub event_id: i64,
    pub url: String,
    /// `queued`, `running`, `failed` (will retry at `next_attempt_at`), `succeeded`, `dead`
    /// (gave up: a permanent answer or no attempts left) or `cancelled`.
    pub status: String,
    pub attempts: i64,
    /// The last attempt's HTTP status; null when there was no answer.
    pub response_status: Option<i64>,
    pub response_ms: Option<i64>,
    /// The first KiB of the last answer's body.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub last_attempt_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    /// The body every attempt sends.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl DeliveryView {
    fn new(row: &DeliveryRow) -> DeliveryView {
        DeliveryView {
            id: row.id.to_string(),
            event_type: row.event_type.clone(),
            event_id: row.event_seq,
            url: row.url.clone(),
            status: row.status.clone(),
            attempts: row.attempts,
            response_status: row.response_status,
            response_ms: row.response_ms,
            response_body: row.response_body.clone(),
            error: row.error.clone(),
            last_attempt_at: row.last_attempt_at.map(|t| t.to_rfc3339()),
            next_attempt_at: row.next_attempt_at.map(|t| t.to_rfc3339()),
            created_at: row.created_at.to_rfc3339(),
            payload: serde_json::from_str(&row.body).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

/// The secret that signs deliveries to the `callback_url`s of this key's submissions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallbackSecret {
    pub secret: String,
}

fn events(field: &str, events: &[String]) -> Result<Vec<String>, ApiError> {
    shared::webhooks::parse_events(events)
        .map_err(|e| ApiError::invalid_with_code("invalid_events", field, e))
}

fn description(d: Option<String>) -> Result<Option<String>, ApiError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION => Err(ApiError::invalid_with_code(
            "too_long",
            "description",
            format!("`description` is at most {MAX_DESCRIPTION} characters"),
        )),
        other => Ok(other),
    }
}

/// Creates an endpoint; the answer shows its signing secret, once.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The key has 20 endpoints already", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn create(
    Keyed { state, caller }: Keyed,
    ApiJson { value: body, .. }: ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    // The owner's own networks decide where its endpoint may point.
    let (owner, networks) = match body.owner_id {
        Some(owner) if owner != caller.key_id => {
            caller.require_admin()?;
            let Some(key) = state.db.get_key(&owner).await? else {
                return Err(ApiError::invalid_with_code(
                    "unknown_key",
                    "owner_id",
                    "no API key has this id",
                ));
            };
            (owner, key.allow_networks)
        }
        _ => (caller.key_id.clone(), caller.networks.clone()),
    };
    let events = events("events", &body.events)?;
    let description = description(body.description)?;
    crate::callbacks::check_target(&state, &networks, "url", &body.url).await?;
    if state.db.count_webhooks(&owner).await? >= MAX_PER_KEY {
        return Err(ApiError::Conflict {
            code: "too_many_webhooks",
            message: format!("a key may have at most {MAX_PER_KEY} webhooks; delete one first"),
        });
    }
    let secret = shared::webhooks::new_secret();
    let row = state
        .db
        .create_webhook(&NewWebhook {
            owner_id: owner,
            url: body.url,
            events,
            description,
            secret: secret.clone(),
        })
        .await?;
    tracing::info!(webhook = %row.id, "webhook created");
    Ok((
        StatusCode::CREATED,
        Json(WebhookView::new(&row, &state.base_url, Some(secret))),
    ))
}

/// The caller's endpoints (admins: every key's).
#[utoipa::path(get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list(Keyed { state, caller }: Keyed) -> Result<Json<WebhookList>, ApiError> {
    let rows = state.db.list_webhooks(caller.owner_filter()).await?;
    Ok(Json(WebhookList {
        webhooks: rows
            .iter()
            .map(|r| WebhookView::new(r, &state.base_url, None))
            .collect(),
    }))
}

async fn find(state: &AppState, owner: Option<&str>, id: &str) -> Result<WebhookRow, ApiError> {
    state
        .db
        .get_webhook(id, owner)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let row = find(&state, caller.owner_filter(), &id).await?;
    Ok(Json(WebhookView::new(&row, &state.base_url, None)))
}

/// Changes an endpoint: its URL, events, description, enabled state, or its secret
/// (`rotate_secret`: the new one is in the answer, once; the old one keeps signing for
/// `overlap_secs`).
#[utoipa::path(patch, path = "/v1/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", request_body = UpdateWebhook,
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 200, body = WebhookView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn update(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
    ApiJson { value: body, .. }: ApiJson<UpdateWebhook>,
) -> Result<Json<WebhookView>, ApiError> {
    let owner = caller.owner_filter();
    let hook = find(&state, owner, &id).await?;
    let overlap = body.overlap_secs.unwrap_or(DEFAULT_OVERLAP_SECS);
    if overlap > MAX_OVERLAP_SECS {
        return Err(ApiError::invalid_with_code(
            "out_of_range",
            "overlap_secs",
            format!("`overlap_secs` is 0 to {MAX_OVERLAP_SECS}"),
        ));
    }
    if body.overlap_secs.is_some() && !body.rotate_secret {
        return Err(ApiError::invalid_with_code(
            "conflicting_fields",
            "overlap_secs",
            "`overlap_secs` goes with `rotate_secret: true`",
        ));
    }
    if let Some(url) = &body.url {
        let networks = if hook.owner_id == caller.key_id {
            caller.networks.clone()
        } else {
            state
                .db
                .get_key(&hook.owner_id)
                .await?
                .map(|k| k.allow_networks)
                .unwrap_or_default()
        };
        crate::callbacks::check_target(&state, &networks, "url", url).await?;
    }
    let change = WebhookChange {
        url: body.url,
        events: body.events.map(|e| events("events", &e)).transpose()?,
        description: body.description.map(description).transpose()?,
        enabled: body.enabled,
        rotate: body.rotate_secret.then(|| {
            (
                shared::webhooks::new_secret(),
                Timestamp::now().plus_millis(overlap as i64 * 1000),
            )
        }),
    };
    let row = state
        .db
        .update_webhook(&id, owner, &change)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    if change.rotate.is_some() {
        tracing::info!(webhook = %row.id, overlap_secs = overlap, "webhook secret rotated");
    }
    let secret = change.rotate.map(|(s, _)| s);
    Ok(Json(WebhookView::new(&row, &state.base_url, secret)))
}

/// Deletes an endpoint; its deliveries still waiting are cancelled.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn delete(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if !state.db.delete_webhook(&id, caller.owner_filter()).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    tracing::info!(webhook = %id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a `webhook.test` event to the endpoint now (also while disabled it is refused by
/// the delivery: enable it first). The delivery is logged like any.
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", operation_id = "test_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses((status = 202, body = DeliveryView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn test(
    Keyed { state, caller }: Keyed,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let hook = find(&state, caller.owner_filter(), &id).await?;
    let body = shared::webhooks::event_body(
        "webhook.test",
        Timestamp::now(),
        serde_json::json!({ "webhook_id": hook.id, "message": "a test event from quire" }),
    );
    let max_attempts = state.config.queues.webhooks.max_attempts;
    let delivery = state
        .db
        .insert_test_delivery(&hook, &body, max_attempts)
        .await?;
    // If the push fails the row waits `queued` and the rescuer pushes it.
    if let Err(e) = state.queue.push(QueueName::Webhooks, delivery, None).await {
        tracing::warn!(delivery = %delivery, error = %e, "delivery not pushed; the rescuer will");
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(delivery_view(&state, delivery).await?),
    ))
}

async fn delivery_view(state: &AppState, id: JobId) -> Result<DeliveryView, ApiError> {
    let (row, _) = state
        .db
        .delivery_target(id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok(DeliveryView::new(&row))
}

/// The endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), crate::paging::PageQuery),
    responses((status = 200, body = DeliveryPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn deliveries(
    listing: Listing<NoFilter>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let Listing {
        state,
        caller,
        page,
        ..
    } = listing;
    let hook = find(&state, caller.owner_filter(), &id).await?;
    // The same syntax as the job listings' cursors (`ListCursor::PATTERN`).
    let page = page.checked(|text| {
        let (at, id) = text.split_once('_')?;
        Some((
            shared::db::cursor_millis(at)?,
            shared::db::cursor_id(id)?.to_string(),
        ))
    })?;
    let mut rows = state
        .db
        .list_deliveries(&hook.id, page.after, page.limit + 1)
        .await?;
    let next_cursor = (rows.len() > page.limit as usize).then(|| {
        rows.truncate(page.limit as usize);
        let last = rows.last().expect("a full page has a last row");
        format!("{}_{}", last.created_at.millis(), last.id)
    });
    Ok(Json(DeliveryPage {
        deliveries: rows.iter().map(DeliveryView::new).collect(),
        next_cursor,
    }))
}

/// The deliveries listing takes no filter.
#[derive(Debug, Deserialize)]
pub struct NoFilter {}

/// Sends a delivery again now: a `dead` or `failed` one (a failed one waiting for its next
/// attempt goes at once), with a fresh set of attempts; the same `webhook-id`.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery}/retry", operation_id = "retry_webhook_delivery", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"),
        ("delivery" = uuid::Uuid, Path, description = "Delivery id")),
    responses((status = 202, body = DeliveryView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not dead or failed", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn retry(
    Keyed { state, caller }: Keyed,
    ApiPath((id, delivery)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let hook = find(&state, caller.owner_filter(), &id).await?;
    let delivery: JobId = delivery
        .parse()
        .map_err(|_| ApiError::NotFound("delivery"))?;
    match state.db.delivery_target(delivery).await? {
        Some((row, _)) if row.webhook_id.as_deref() == Some(hook.id.as_str()) => {}
        _ => return Err(ApiError::NotFound("delivery")),
    }
    let job = state
        .db
        .get_job(delivery, None)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    // A job like any: the same retry as `POST /v1/jobs/{id}/retry` (requeue, push).
    match submit(&state, &caller, None, Retry(&job)).await? {
        RetryOutcome::Requeued(_) => {}
        RetryOutcome::NotFound => return Err(ApiError::NotFound("delivery")),
        RetryOutcome::NotRetryable(status) => {
            return Err(ApiError::Conflict {
                code: "not_retryable",
                message: format!(
                    "the delivery is {status}; only dead or failed deliveries can be retried"
                ),
            });
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(delivery_view(&state, delivery).await?),
    ))
}

/// The secret that signs deliveries to this key's `callback_url`s (made on first use).
#[utoipa::path(get, path = "/v1/webhooks/callback-secret", operation_id = "get_callback_secret", tag = "webhooks",
    responses((status = 200, body = CallbackSecret), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn callback_secret(
    Keyed { state, caller }: Keyed,
) -> Result<Json<CallbackSecret>, ApiError> {
    Ok(Json(CallbackSecret {
        secret: state.db.callback_secret(&caller.key_id).await?,
    }))
}
