//! Where webhook deliveries may go, as the API checks it: a webhook's `url` and a
//! submission's `callback_url` alike (the worker checks again at every delivery).

use shared::webhooks::TargetPolicy;

use crate::error::ApiError;
use crate::state::AppState;

fn policy(state: &AppState) -> Result<TargetPolicy, ApiError> {
    let w = &state.config.webhooks;
    TargetPolicy::new(w.allow_http, &w.allow_networks).map_err(ApiError::Internal)
}

/// Checks a target URL as creation does: its form, then every address it resolves to
/// (`422 invalid_url` / `forbidden_target`). Also for a submission's `callback_url`.
pub async fn check_target(state: &AppState, field: &str, url: &str) -> Result<(), ApiError> {
    let policy = policy(state)?;
    let target = policy
        .parse(url)
        .map_err(|e| ApiError::invalid_with_code("invalid_url", field, format!("`{field}` {e}")))?;
    policy
        .resolve(&target)
        .await
        .map_err(|e| ApiError::invalid_with_code("forbidden_target", field, e.to_string()))?;
    Ok(())
}

/// A submission's `callback_url`, checked (`None` stays `None`).
pub async fn checked(state: &AppState, url: Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(url) = &url {
        check_target(state, "callback_url", url).await?;
    }
    Ok(url)
}
