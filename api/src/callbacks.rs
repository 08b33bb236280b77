//! Where webhook deliveries may go, as the API checks it: a webhook's `url` and a
//! submission's `callback_url` alike (the worker checks again at every delivery).

use shared::webhooks::{Networks, TargetPolicy, Unresolved};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The settings' policy, with the owner's own networks.
fn policy(state: &AppState, networks: &Networks) -> Result<TargetPolicy, ApiError> {
    let policy = state.config.target_policy().map_err(ApiError::Internal)?;
    Ok(policy.for_key(networks))
}

/// Checks a target URL as creation does: its form, then every address it resolves to
/// (`422 invalid_url` / `forbidden_target`), for a target of the key whose own networks
/// are `networks`. Also for a submission's `callback_url`.
pub async fn check_target(
    state: &AppState,
    networks: &Networks,
    field: &str,
    url: &str,
) -> Result<(), ApiError> {
    let policy = policy(state, networks)?;
    let target = policy
        .parse(url)
        .map_err(|e| ApiError::invalid_with_code("invalid_url", field, format!("`{field}` {e}")))?;
    match policy.resolve(&state.resolver, &target).await {
        Ok(_) => {}
        // This process is busy looking names up: a 503 to try again, not the target's fault.
        Err(Unresolved::Busy(why)) => {
            tracing::warn!(%why, "target lookups are all taken");
            return Err(ApiError::Unavailable("name resolution"));
        }
        Err(e) => {
            return Err(ApiError::invalid_with_code(
                "forbidden_target",
                field,
                e.to_string(),
            ));
        }
    }
    Ok(())
}

/// A submission's `callback_url`, checked (`None` stays `None`).
pub async fn checked(
    state: &AppState,
    caller: &Caller,
    url: Option<String>,
) -> Result<Option<String>, ApiError> {
    if let Some(url) = &url {
        check_target(state, &caller.networks, "callback_url", url).await?;
    }
    Ok(url)
}
