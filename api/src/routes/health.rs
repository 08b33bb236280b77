//! `/health` (the process answers) and `/ready` (its dependencies answer).

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::state::Readiness;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with what is down.
    pub status: String,
    /// Names of the dependencies that do not answer (`database`, `queue`, `storage`,
    /// `consumers`).
    pub down: Vec<String>,
    /// `/ready` only: whether the latest checks the `health` task recorded (database, queue,
    /// mail, disk) passed, for information: they do not change the status code, which is about
    /// this process being able to serve now. No key is needed here, so no details: the checks
    /// themselves (paths, free disk, error texts) are in `GET /v1/status` (admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<RecordedSummary>,
    /// `/ready` of a process serving the API: whether committed changes reach its caches.
    /// While they do not (`up: false`) it caches nothing and reads the database: slower, never
    /// wrong, so not a reason to be unready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::routes::system::CacheHealthView>,
}

/// The recorded checks, summed up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecordedSummary {
    /// Every check passed and none is stale.
    pub ok: bool,
    /// The oldest check is older than `health.stale_after_secs`.
    pub stale: bool,
}

/// Liveness: the process is up and still runs work (its runtime and blocking pool completed a
/// probe within `health.stall_after_secs`); `503` with `status: "stalled"` otherwise, so a
/// supervisor restarts a process that can no longer make progress.
#[utoipa::path(get, path = "/health", operation_id = "get_health", tag = "system", responses((status = 200, body = Health),
    (status = 503, description = "The process has run no work for `health.stall_after_secs`", body = Health)))]
pub async fn health(State(state): State<Readiness>) -> (StatusCode, Json<Health>) {
    if let Some(stalled) = state.watchdog.stalled_for() {
        tracing::error!(
            stalled_secs = stalled.as_secs(),
            "no blocking-pool work has completed lately: /health fails so this process is restarted"
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: "stalled".into(),
                down: vec!["progress".into()],
                recorded: None,
                cache: None,
            }),
        );
    }
    (
        StatusCode::OK,
        Json(Health {
            status: "ok".into(),
            down: vec![],
            recorded: None,
            cache: None,
        }),
    )
}

/// Prometheus metrics of this process, in the text exposition format (see README,
/// "Operating quire"). No key; with `metrics.token` set, that bearer token is required. On
/// the API's port without a token they are not served unless `metrics.public` (scrape
/// `health_bind` instead). 404 when metrics are off (`metrics.enabled = false`) or not
/// served here.
#[utoipa::path(get, path = "/metrics", operation_id = "get_metrics", tag = "system",
    responses((status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn metrics(
    State(state): State<Readiness>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, crate::error::ApiError> {
    use axum::response::IntoResponse as _;
    if let Some(token) = &state.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Digests compared, so the time taken says nothing about the token's bytes.
        let digest = |s: &str| <sha2::Sha256 as sha2::Digest>::digest(s.as_bytes());
        let ok = given.is_some_and(|g| digest(g) == digest(token.expose()));
        if !ok {
            return Err(crate::error::ApiError::Unauthorized("metrics token"));
        }
    } else if !state.metrics_open {
        return Err(crate::error::ApiError::NotFound("metrics"));
    }
    if let Some(caches) = &state.caches {
        caches.export_gauges();
    }
    let text = shared::metrics::render().ok_or(crate::error::ApiError::NotFound("metrics"))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Readiness: the database, the queue and file storage answer (and a worker's consumers
/// run); 503 names what is down: `database`, `queue`, `storage`, `consumers`.
#[utoipa::path(get, path = "/ready", operation_id = "get_readiness", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn ready(State(state): State<Readiness>) -> (StatusCode, Json<Health>) {
    let (db, queue, storage) = tokio::join!(
        state.db.check(),
        state.queue.check(),
        tokio::time::timeout(std::time::Duration::from_secs(5), state.storage.check())
    );
    let mut down = Vec::new();
    let recorded = match db {
        Ok(()) => state.db.health_checks().await.ok().and_then(|checks| {
            crate::views::RecordedHealth::new(checks, state.health_stale_after_secs).map(|r| {
                RecordedSummary {
                    ok: r.ok,
                    stale: r.stale,
                }
            })
        }),
        Err(_) => None,
    };
    if let Err(e) = db {
        tracing::warn!(error = %e, "readiness: database down");
        down.push("database".to_owned());
    }
    if let Err(e) = queue {
        tracing::warn!(error = %e, "readiness: queue down");
        down.push("queue".to_owned());
    }
    match storage {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: storage down");
            down.push("storage".to_owned());
        }
        Err(_) => {
            tracing::warn!("readiness: storage did not answer within 5 s");
            down.push("storage".to_owned());
        }
    }
    if state
        .consuming
        .as_ref()
        .is_some_and(|c| !c.load(Ordering::SeqCst))
    {
        down.push("consumers".to_owned());
    }
    let status = if down.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let label = if down.is_empty() { "ok" } else { "unavailable" };
    (
        status,
        Json(Health {
            status: label.into(),
            down,
            recorded,
            cache: state
                .caches
                .as_ref()
                .map(crate::routes::system::CacheHealthView::of),
        }),
    )
}
