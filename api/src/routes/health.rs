//! `/health` (the process answers) and `/ready` (its dependencies answer).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` with what is down.
    pub status: String,
    /// Names of the dependencies that do not answer (`database`, `queue`).
    pub down: Vec<String>,
}

/// Liveness: the process is up.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        down: vec![],
    })
}

/// Readiness: the database and the queue answer; 503 names what is down.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let (db, queue) = tokio::join!(state.db.check(), state.queue.check());
    let mut down = Vec::new();
    if let Err(e) = db {
        tracing::warn!(error = %e, "readiness: database down");
        down.push("database".to_owned());
    }
    if let Err(e) = queue {
        tracing::warn!(error = %e, "readiness: queue down");
        down.push("queue".to_owned());
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
        }),
    )
}
