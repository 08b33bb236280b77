//! The HTTP API: accepts jobs, answers their status from the jobs table, serves their files.
//! It never renders or sends anything itself.

pub mod auth;
pub mod cache;
pub mod callbacks;
pub mod certificate_order;
pub mod dashboard;
pub mod download;
pub mod email_limits;
pub mod email_order;
pub mod error;
pub mod extract;
pub mod finished_jobs;
pub mod images;
pub mod limited;
pub mod long_lived;
pub mod offload;
pub mod openapi;
pub mod paging;
pub mod placement;
pub mod problems;
pub mod public_cache;
pub mod quotas;
mod rate_limit;
pub mod report_order;
pub mod routes;
pub mod schemas;
mod server;
pub mod state;
pub mod submit;
pub mod views;
pub mod waiting;
pub mod watchdog;
pub mod workflow_order;

use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
pub use crate::state::AppState;
use crate::state::Readiness;

/// `/health` and `/ready` alone, for processes that serve no API (`quire worker`,
/// `quire scheduler`) so their supervisor can probe them.
pub fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/health", get(routes::health::health))
        .route("/ready", get(routes::health::ready))
        .route("/metrics", get(routes::health::metrics))
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(readiness)
}

/// Serves `health_router` until `shutdown` is cancelled.
pub async fn serve_health(
    listener: TcpListener,
    readiness: Readiness,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let timeouts = server::Timeouts {
        header_read: Duration::from_secs(readiness.header_read_timeout_secs),
        write: Duration::from_secs(readiness.write_timeout_secs),
    };
    server::run(listener, health_router(readiness), timeouts, shutdown).await
}

pub fn router(state: AppState) -> Router {
    // Bodies that carry images or documents may be as large as `limits.max_body_bytes`; every
    // other request (control routes, emails, dashboard forms) gets `limits.max_json_body_bytes`,
    // so no route reads more than it could ever need.
    let large = extract::body_limit(state.config.limits.max_body_bytes);
    let small = extract::body_limit(state.config.limits.max_json_body_bytes);
    let dashboard = if state.config.dashboard.enabled {
        dashboard::router()
    } else {
        Router::new()
    };
    Router::new()
        .route("/health", get(routes::health::health))
        .route("/ready", get(routes::health::ready))
        .route("/metrics", get(routes::health::metrics))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .route(
            "/v1/certificates",
            post(routes::certificates::submit)
                .get(routes::certificates::list)
                .layer(large.clone()),
        )
        .route(
            "/v1/certificates/public",
            get(routes::certificates::list_public),
        )
        .route(
            "/v1/certificates/batch",
            post(routes::batches::submit).layer(large.clone()),
        )
        .route("/v1/certificates/{id}", get(routes::certificates::get))
        .route(
            "/v1/certificates/{id}/revoke",
            post(routes::certificates::revoke),
        )
        .route(
            "/v1/reports",
            post(routes::reports::submit).layer(large.clone()),
        )
        .route("/v1/emails", post(routes::emails::submit))
        .route("/v1/files/{id}", get(routes::jobs::signed_file))
        .route("/v1/batches", get(routes::batches::list))
        .route("/v1/batches/{id}", get(routes::batches::get))
        .route("/v1/batches/{id}/archive", get(routes::batches::archive))
        .route("/v1/verify/{code}", get(routes::verify::verify))
        .route("/verify/{code}", get(routes::verify::verify_page))
        .route(
            "/v1/verify/{code}/credential",
            get(routes::credentials::credential),
        )
        .route(
            "/v1/credentials/status/{list}",
            get(routes::credentials::status_list),
        )
        .route(
            "/.well-known/did.json",
            get(routes::credentials::did_document),
        )
        // Where `did:web` looks when the public base URL has a path (behind a proxy that
        // strips it).
        .route("/did.json", get(routes::credentials::did_document))
        .route("/assets/{name}", get(routes::assets::asset))
        .route(
            "/v1/templates",
            get(routes::templates::list)
                .post(routes::templates::create)
                .layer(large.clone()),
        )
        .route(
            "/v1/templates/{id}",
            get(routes::templates::get)
                .put(routes::templates::update)
                .delete(routes::templates::delete)
                .layer(large.clone()),
        )
        .route(
            "/v1/templates/{id}/preview",
            post(routes::templates::preview).layer(large.clone()),
        )
        .route("/v1/status", get(routes::system::status))
        .route("/v1/schedules", get(routes::schedules::list))
        .route("/v1/schedules/{name}/run", post(routes::schedules::run))
        .route("/v1/schedules/{name}/pause", post(routes::schedules::pause))
        .route(
            "/v1/schedules/{name}/resume",
            post(routes::schedules::resume),
        )
        .route("/v1/system/cache/stats", get(routes::system::cache_stats))
        .route("/v1/system/cache/health", get(routes::system::cache_health))
        .route("/v1/system/cache/clear", post(routes::system::cache_clear))
        .route("/v1/events", get(routes::events::stream))
        .route(
            "/v1/webhooks",
            post(routes::webhooks::create).get(routes::webhooks::list),
        )
        .route(
            "/v1/webhooks/callback-secret",
            get(routes::webhooks::callback_secret),
        )
        .route(
            "/v1/webhooks/{id}",
            get(routes::webhooks::get)
                .patch(routes::webhooks::update)
                .delete(routes::webhooks::delete),
        )
        .route("/v1/webhooks/{id}/test", post(routes::webhooks::test))
        .route(
            "/v1/webhooks/{id}/deliveries",
            get(routes::webhooks::deliveries),
        )
        .route(
            "/v1/webhooks/{id}/deliveries/{delivery}/retry",
            post(routes::webhooks::retry),
        )
        .route(
            "/v1/workflows",
            post(routes::workflows::submit)
                .get(routes::workflows::list)
                .layer(large.clone()),
        )
        .route("/v1/workflows/{id}", get(routes::workflows::get))
        .route("/v1/workflows/{id}/cancel", post(routes::workflows::cancel))
        .route("/v1/jobs", get(routes::jobs::list))
        .route("/v1/jobs/{id}", get(routes::jobs::get))
        .route("/v1/jobs/{id}/cancel", post(routes::jobs::cancel))
        .route("/v1/jobs/{id}/file", get(routes::jobs::file))
        .route("/v1/jobs/{id}/retry", post(routes::jobs::retry))
        .route("/v1/jobs/{id}/history", get(routes::jobs::history))
        // Inside the metrics layer, so refused requests are counted as 429s.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        // Sessions, not keys: outside the per-key rate limit.
        .merge(dashboard)
        .route_layer(axum::middleware::from_fn(server::record_metrics))
        .merge(openapi::reference_page())
        .fallback(|| async { ApiError::NotFound("route") })
        // axum adds the `Allow` header (the route's methods) to this answer.
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            Duration::from_secs(state.config.limits.request_timeout_secs),
            server::deadline,
        ))
        .layer(small)
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| -> Response {
                ApiError::Internal("a handler panicked".into()).into_response()
            },
        ))
        .layer(TraceLayer::new_for_http().make_span_with(server::request_span))
        .with_state(state)
}

/// Serves until `shutdown` is cancelled, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // Committed changes (from the database) drop this process's cache entries; ends with the
    // shutdown.
    let listening = tokio::spawn({
        let (caches, stop) = (state.caches.clone(), shutdown.clone());
        async move { caches.listen(stop).await }
    });
    // Jobs finishing anywhere wake this process's `?wait=` requests.
    let relaying = tokio::spawn({
        let (waiters, queue, stop) = (state.waiters.clone(), state.queue.clone(), shutdown.clone());
        async move { waiters.listen(queue, stop).await }
    });
    // Events numbered anywhere wake this process's `GET /v1/events` streams; the streams end
    // with the shutdown, so the server can drain.
    let feeding = tokio::spawn({
        let (events, queue, stop) = (state.events.clone(), state.queue.clone(), shutdown.clone());
        async move { events.listen(queue, stop).await }
    });
    // Submissions anywhere refresh this process's dashboards.
    let announcing = tokio::spawn({
        let (events, queue, stop) = (state.events.clone(), state.queue.clone(), shutdown.clone());
        async move { events.listen_submitted(queue, stop).await }
    });
    let timeouts = server::Timeouts {
        header_read: Duration::from_secs(state.config.limits.header_read_timeout_secs),
        write: Duration::from_secs(state.config.limits.write_timeout_secs),
    };
    let app = router(state);
    let served = server::run(listener, app, timeouts, shutdown).await;
    listening.abort();
    relaying.abort();
    feeding.abort();
    announcing.abort();
    served
}
