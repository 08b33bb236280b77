//! Request rate limits, before any handler runs: per API key on keyed requests, per client
//! address on the public endpoints (verification and the public registry, so codes cannot
//! be enumerated quickly). Over the limit: `429 rate_limited` with `Retry-After`. Every
//! limited answer, refused or not, carries the IETF draft's headers
//! (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "key";q=1000;w=1` and
//! `RateLimit: "key";r=997;t=1` (requests left, seconds until the bucket is full), so clients
//! can pace themselves. The buckets are `Queue::take_token`'s: in Redis, shared by every API
//! process; in process memory on SQLite.
//!
//! The dashboard is not behind this layer (its requests carry a session, not a key), but it
//! spends from the same buckets: each of its requests is charged to the session's key
//! ([`charge_key`], a bulk action one request per job), and sign-in attempts to the client
//! address ([`charge_address`]), so the dashboard is no way around either limit.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::queue::{RateDecision, RatePolicy};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Paths limited per client address; everything else is limited per key when it has one.
fn is_public(path: &str) -> bool {
    path.starts_with("/v1/verify/")
        || path.starts_with("/verify/")
        || path.starts_with("/v1/credentials/")
        || path == "/.well-known/did.json"
        || path == "/did.json"
        || path == "/v1/certificates/public"
}

/// The middleware: picks the bucket and its policy, takes a token, answers 429 or runs the
/// request, and adds the headers.
pub(crate) async fn limit(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let (name, bucket, policy) = if is_public(request.uri().path()) {
        let address = client_address(
            request.headers(),
            request.extensions(),
            state.config.rate_limit.trust_forwarded_for,
        );
        let Some(address) = address else {
            return next.run(request).await;
        };
        ("address", address_bucket(address), address_policy(&state))
    } else {
        let Some(caller) = authenticate(&state, request.headers()).await else {
            // No key, or a bad one: the handler answers (401, or a public route).
            return next.run(request).await;
        };
        let policy = key_policy(&state, &caller);
        let bucket = format!("key:{}", caller.key_id);
        request.extensions_mut().insert(caller);
        ("key", bucket, policy)
    };
    let Some(policy) = policy else {
        return next.run(request).await;
    };
    let decision = state.queue.take_token(&bucket, policy).await;
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        shared::metrics::rate_limited(name);
        refusal(&state, name, policy, decision).into_response()
    };
    add_headers(response.headers_mut(), name, policy, decision);
    response
}

/// The quota of `caller`'s bucket: its own limit or `rate_limit.per_key`; `None` when
/// unlimited.
fn key_policy(state: &AppState, caller: &Caller) -> Option<RatePolicy> {
    let requests = caller
        .service
        .rate_limit
        .unwrap_or(state.config.rate_limit.per_key);
    policy(state, requests)
}

/// The quota of a client address's bucket (`rate_limit.public_per_address`).
fn address_policy(state: &AppState) -> Option<RatePolicy> {
    policy(state, state.config.rate_limit.public_per_address)
}

fn policy(state: &AppState, requests: u64) -> Option<RatePolicy> {
    (requests > 0).then(|| RatePolicy {
        requests: u32::try_from(requests).unwrap_or(u32::MAX),
        window: Duration::from_secs(state.config.rate_limit.window_secs),
    })
}

fn refusal(state: &AppState, name: &str, policy: RatePolicy, decision: RateDecision) -> ApiError {
    ApiError::TooMany {
        code: "rate_limited",
        message: format!(
            "more than {} requests in {} s for this {name}; retry after {} s",
            policy.requests, state.config.rate_limit.window_secs, decision.retry_after_secs
        ),
        retry_after_secs: decision.retry_after_secs,
    }
}

/// Most requests one charge to `caller`'s bucket can take at once (its quota); `None` when
/// unlimited. A dashboard bulk action touches at most this many jobs.
pub(crate) fn key_quota(state: &AppState, caller: &Caller) -> Option<u32> {
    key_policy(state, caller).map(|p| p.requests)
}

/// Charges `cost` requests to `caller`'s bucket, all or none, for requests that do not pass
/// the middleware (the dashboard's): `429 rate_limited` when they do not fit.
pub(crate) async fn charge_key(
    state: &AppState,
    caller: &Caller,
    cost: u32,
) -> Result<(), ApiError> {
    let Some(policy) = key_policy(state, caller) else {
        return Ok(());
    };
    if cost > policy.requests {
        return Err(ApiError::TooMany {
            code: "rate_limited",
            message: format!(
                "this touches {cost} jobs, more than the key's rate limit of {} requests in {} s; select fewer",
                policy.requests, state.config.rate_limit.window_secs
            ),
            retry_after_secs: state.config.rate_limit.window_secs,
        });
    }
    let decision = state
        .queue
        .take_tokens(&format!("key:{}", caller.key_id), policy, cost)
        .await;
    if decision.allowed {
        return Ok(());
    }
    shared::metrics::rate_limited("key");
    Err(refusal(state, "key", policy, decision))
}

/// Charges one request to the bucket of the client that sent `parts` (the public endpoints'
/// per-address limit): for the dashboard's sign-in, whose form token a client can make up.
pub(crate) async fn charge_address(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Result<(), ApiError> {
    let address = client_address(
        headers,
        extensions,
        state.config.rate_limit.trust_forwarded_for,
    );
    let (Some(address), Some(policy)) = (address, address_policy(state)) else {
        return Ok(());
    };
    let decision = state
        .queue
        .take_token(&address_bucket(address), policy)
        .await;
    if decision.allowed {
        return Ok(());
    }
    shared::metrics::rate_limited("address");
    Err(refusal(state, "address", policy, decision))
}

fn add_headers(headers: &mut HeaderMap, name: &str, policy: RatePolicy, decision: RateDecision) {
    let policy_value = format!(
        "\"{name}\";q={};w={}",
        policy.requests,
        policy.window.as_secs()
    );
    let state_value = format!(
        "\"{name}\";r={};t={}",
        decision.remaining, decision.reset_secs
    );
    for (header, value) in [
        ("ratelimit-policy", policy_value),
        ("ratelimit", state_value),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header, value);
        }
    }
}

/// The key of a `Bearer` header, if it is a live one (through the key cache).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Option<Caller> {
    let secret = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    if secret.is_empty() {
        return None;
    }
    state.auth.authenticate(&state.db, secret).await.ok()
}

/// The bucket of a client address: an IPv4 address is one client; an IPv6 address is its
/// /64, the smallest network a site gets, so one client cannot take a fresh bucket per
/// address of its prefix (it holds 2^64 of them). An IPv4-mapped IPv6 address is its IPv4.
fn address_bucket(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The peer's address (set by the server loop), or with `trust_forwarded_for` the last
/// `X-Forwarded-For` entry: the one the trusted proxy itself appended.
fn client_address(
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return Some(forwarded);
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_limited_by_address() {
        assert!(is_public("/v1/verify/ABCD-EFGH-JKLM"));
        assert!(is_public("/verify/ABCD-EFGH-JKLM"));
        assert!(is_public("/v1/certificates/public"));
        assert!(!is_public("/v1/certificates"));
        assert!(!is_public("/v1/certificates/public-ish"));
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let bucket = |a: &str| address_bucket(a.parse().unwrap());
        assert_eq!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:3::1"));
        assert_eq!(bucket("2001:db8:1:2::1"), "ip6:2001:db8:1:2::/64");
        assert_eq!(bucket("::ffff:192.0.2.7"), bucket("192.0.2.7"));
        assert_ne!(bucket("192.0.2.7"), bucket("192.0.2.8"));
    }

    #[test]
    fn headers_follow_the_draft() {
        let mut headers = HeaderMap::new();
        let policy = RatePolicy {
            requests: 100,
            window: Duration::from_secs(1),
        };
        let decision = RateDecision {
            allowed: true,
            remaining: 42,
            reset_secs: 1,
            retry_after_secs: 0,
        };
        add_headers(&mut headers, "key", policy, decision);
        assert_eq!(headers["ratelimit-policy"], "\"key\";q=100;w=1");
        assert_eq!(headers["ratelimit"], "\"key\";r=42;t=1");
    }
}
